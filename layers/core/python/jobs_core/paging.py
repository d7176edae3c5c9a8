"""One page of items from a DynamoDB index: a Query, its count, and an opaque cursor.

Shared by every store that lists (jobs, events): pageNumber for the first pages, the cursor for
callers who page deep. The cursor names its index and partition, so it cannot be replayed
against another query or another tenant's partition.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from jobs_core.errors import BadRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

SORT_KEY: Final = 'listSk'
# With a filter, read ahead so a sparse filter does not cost a round trip per item.
_READ_AHEAD: Final = 100


@dataclass(frozen=True, slots=True)
class IndexQuery:
    index: str  # '' queries the table itself
    partition_attribute: str
    partition: str
    filter_expression: str = ''
    filter_names: dict[str, str] = field(default_factory=dict)
    filter_values: dict[str, 'AttributeValueTypeDef'] = field(default_factory=dict)
    after: str | None = None  # only items whose sort key is greater (e.g. a timestamp)
    sort_attribute: str = SORT_KEY
    sort_prefix: str | None = None  # only items whose sort key starts with this


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next_token: str | None


def query_page(
    client: 'DynamoDBClient',
    table: str,
    query: IndexQuery,
    *,
    ascending: bool,
    page_size: int,
    page_number: int = 1,
    page_token: str | None = None,
) -> Page:
    """Raises botocore's ClientError for the caller's store to translate."""
    items, next_token = query_window(
        client,
        table,
        query,
        ascending=ascending,
        page_size=page_size,
        page_number=page_number,
        page_token=page_token,
    )
    return Page(items=items, total=_count(client, _request(table, query)), next_token=next_token)


def query_window(
    client: 'DynamoDBClient',
    table: str,
    query: IndexQuery,
    *,
    ascending: bool,
    page_size: int,
    page_number: int = 1,
    page_token: str | None = None,
    consistent: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page and the cursor of the next, without a count: for lists whose totals are kept
    elsewhere (a sheet's record counts), so a page costs one Query whatever the partition holds."""
    request = _request(table, query)
    if consistent:
        request['ConsistentRead'] = True
    start_key = decode_token(query, page_token) if page_token else None
    skip = 0 if page_token else (page_number - 1) * page_size
    wanted = skip + page_size + 1  # one more than the page tells whether another follows
    items: list[dict[str, Any]] = []
    while len(items) < wanted:
        missing = wanted - len(items)
        page_request: QueryInputTypeDef = {
            **request,
            'ScanIndexForward': ascending,
            'Limit': max(missing, _READ_AHEAD) if query.filter_expression else missing,
        }
        if start_key:
            page_request['ExclusiveStartKey'] = start_key
        response = client.query(**page_request)
        items.extend(response['Items'])
        start_key = response.get('LastEvaluatedKey')
        if not start_key:
            break

    page = items[skip : skip + page_size]
    more = len(items) > skip + page_size
    return page, encode_token(query, page[-1]) if more and page else None


def _request(table: str, query: IndexQuery) -> 'QueryInputTypeDef':
    condition = '#pk = :pk'
    values: dict[str, AttributeValueTypeDef] = {':pk': {'S': query.partition}, **query.filter_values}
    names = {'#pk': query.partition_attribute, **query.filter_names}
    if query.after is not None:
        condition += ' AND #sk > :after'
        names['#sk'] = query.sort_attribute
        values[':after'] = {'S': query.after}
    if query.sort_prefix is not None:
        condition += ' AND begins_with(#sk, :prefix)'
        names['#sk'] = query.sort_attribute
        values[':prefix'] = {'S': query.sort_prefix}
    request: QueryInputTypeDef = {
        'TableName': table,
        'KeyConditionExpression': condition,
        'ExpressionAttributeNames': names,
        'ExpressionAttributeValues': values,
    }
    if query.index:
        request['IndexName'] = query.index
    if query.filter_expression:
        request['FilterExpression'] = query.filter_expression
    return request


def _count(client: 'DynamoDBClient', request: 'QueryInputTypeDef') -> int:
    total = 0
    start_key = None
    while True:
        count_request: QueryInputTypeDef = {**request, 'Select': 'COUNT'}
        if start_key:
            count_request['ExclusiveStartKey'] = start_key
        response = client.query(**count_request)
        total += response['Count']
        start_key = response.get('LastEvaluatedKey')
        if not start_key:
            return total


def _key_attributes(query: IndexQuery) -> set[str]:
    return {'pk', 'sk', query.sort_attribute, query.partition_attribute}


def encode_token(query: IndexQuery, item: dict[str, Any]) -> str:
    key = {name: item[name] for name in _key_attributes(query)}
    raw = json.dumps({'i': query.index, 'k': key}, separators=(',', ':'), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def decode_token(query: IndexQuery, token: str) -> dict[str, 'AttributeValueTypeDef']:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + '=' * (-len(token) % 4)))
        key = decoded['k']
        valid = (
            decoded['i'] == query.index
            and set(key) == _key_attributes(query)
            and key[query.partition_attribute] == {'S': query.partition}
            and all(isinstance(value, dict) and isinstance(value.get('S'), str) for value in key.values())
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise BadRequest('pageToken is not a token this API issued', key='pageToken') from error
    if not valid:
        raise BadRequest('pageToken belongs to a different query', key='pageToken')
    return key  # type: ignore[no-any-return]
