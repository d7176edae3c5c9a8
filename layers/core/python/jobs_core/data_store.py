"""The data plane's catalog: spaces, files, workbooks, sheets and snapshots in the data table.

One item per resource, keyed by kind, environment and id, so another tenant's resource simply does
not exist here. Two sparse indexes list them: `byEnvironment` (every resource of a kind) and
`byParent` (the files or workbooks of a space, the sheets of a workbook, the snapshots of a sheet),
both sorted by creation. A resource being deleted carries `deleting`: it reads as absent at once,
while the job that removes what it held works through it.
"""

from dataclasses import dataclass
from decimal import DecimalException
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from botocore.exceptions import ClientError

from jobs_core.dynamo import TRANSACTION_LIMIT, batch_write, dynamodb_client, error_code, from_item, to_item, translate
from jobs_core.errors import BadRequest
from jobs_core.paging import SORT_KEY, IndexQuery, query_page, query_window

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef, WriteRequestTypeDef

Kind = Literal['space', 'file', 'workbook', 'sheet', 'snapshot']

META: Final = '#META'
_PREFIX: Final[dict[str, str]] = {
    'space': 'SPACE',
    'file': 'FILE',
    'workbook': 'WB',
    'sheet': 'SHEET',
    'snapshot': 'SNAP',
}
# What each kind is listed under with `byParent`.
PARENT: Final[dict[str, str]] = {'file': 'spaceId', 'workbook': 'spaceId', 'sheet': 'workbookId', 'snapshot': 'sheetId'}
_NOT_DELETING: Final = 'attribute_exists(pk) AND attribute_not_exists(deleting)'


class ParentMissing(Exception):
    """The resource a new one belongs to does not exist (or is being deleted)."""


class AlreadyDeleting(Exception):
    """The resource is absent or already being deleted."""


@dataclass(frozen=True, slots=True)
class CatalogPage:
    items: list[dict[str, Any]]
    total: int
    next_token: str | None


def key(kind: str, environment_id: str, resource_id: str) -> dict[str, 'AttributeValueTypeDef']:
    return {'pk': {'S': f'{_PREFIX[kind]}#{environment_id}#{resource_id}'}, 'sk': {'S': META}}


def partition(kind: str, environment_id: str, resource_id: str) -> str:
    return f'{_PREFIX[kind]}#{environment_id}#{resource_id}'


def parent_key(kind: str, environment_id: str, parent_id: str) -> str:
    return f'{environment_id}#{kind}#{parent_id}'


def serialise(values: dict[str, Any]) -> dict[str, 'AttributeValueTypeDef']:
    """to_item, with a number DynamoDB cannot hold reported as the caller's mistake."""
    try:
        return to_item(values)
    except DecimalException as error:
        raise BadRequest('A number is out of the range that can be stored (38 digits, up to 1e125)', 'body') from error


class DataStore:
    def __init__(self, table_name: str, client: 'DynamoDBClient | None' = None) -> None:
        self.table = table_name
        self._client = client or dynamodb_client()

    @property
    def client(self) -> 'DynamoDBClient':
        return self._client

    # ------------------------------------------------------------ writes
    def item(self, kind: str, environment_id: str, values: dict[str, Any]) -> dict[str, 'AttributeValueTypeDef']:
        """The item of a new resource: its values, its key and its index keys."""
        # Resources created together (a workbook's sheets) list in the order given (`position`).
        position = f'{values["position"]:04d}#' if 'position' in values else ''
        indexed: dict[str, Any] = {
            **values,
            'entity': kind,
            'envKey': f'{environment_id}#{kind}',
            SORT_KEY: f'{values["createdAt"]}#{position}{values["id"]}',
        }
        if kind in PARENT and values.get(PARENT[kind]):
            indexed['parentKey'] = parent_key(kind, environment_id, values[PARENT[kind]])
        return {**serialise(indexed), **key(kind, environment_id, values['id'])}

    def create(
        self,
        environment_id: str,
        items: list[tuple[str, dict[str, Any]]],
        requires: tuple[str, str] | None = None,
    ) -> None:
        """Put new resources at once (a workbook with its sheets); with `requires` (kind, id) only while
        that resource exists and is not being deleted, else ParentMissing."""
        puts: list[TransactWriteItemTypeDef] = [
            {
                'Put': {
                    'TableName': self.table,
                    'Item': self.item(kind, environment_id, values),
                    'ConditionExpression': 'attribute_not_exists(pk)',
                }
            }
            for kind, values in items
        ]
        if requires is not None:
            puts.insert(
                0,
                {
                    'ConditionCheck': {
                        'TableName': self.table,
                        'Key': key(requires[0], environment_id, requires[1]),
                        'ConditionExpression': _NOT_DELETING,
                    }
                },
            )
        if len(puts) > TRANSACTION_LIMIT:
            raise BadRequest(f'At most {TRANSACTION_LIMIT - 1} resources can be created at once')
        try:
            if len(puts) == 1:
                self._client.put_item(**puts[0]['Put'])
            else:
                self._client.transact_write_items(TransactItems=puts)
        except ClientError as error:
            if error_code(error) == 'TransactionCanceledException' and requires is not None:
                reasons = _reasons(error)
                if reasons[:1] == ['ConditionalCheckFailed']:
                    raise ParentMissing(requires[1]) from error
            raise translate(error) from error

    def update(
        self,
        kind: str,
        environment_id: str,
        resource_id: str,
        assign: dict[str, Any],
        remove: frozenset[str] = frozenset(),
        *,
        expect: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Set and remove attributes of a live resource (whose attributes hold the values `expect`
        says, if given); its new values, or None when it is absent (or does not hold them)."""
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {}
        condition = _NOT_DELETING
        for position, (name, value) in enumerate((expect or {}).items()):
            names[f'#e{position}'] = name
            values[f':e{position}'] = serialise({'v': value})['v']
            condition += f' AND #e{position} = :e{position}'
        sets = []
        for position, (name, value) in enumerate(assign.items()):
            names[f'#a{position}'] = name
            values[f':a{position}'] = serialise({'v': value})['v']
            sets.append(f'#a{position} = :a{position}')
        removes = []
        for position, name in enumerate(sorted(remove - assign.keys())):
            names[f'#r{position}'] = name
            removes.append(f'#r{position}')
        expression = ('SET ' + ', '.join(sets)) if sets else ''
        if removes:
            expression += ' REMOVE ' + ', '.join(removes)
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key=key(kind, environment_id, resource_id),
                UpdateExpression=expression.strip(),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues='ALL_NEW',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                return None
            raise translate(error) from error
        return from_item(response['Attributes'])

    def mark_deleting(
        self, environment_id: str, targets: list[tuple[str, str]], stamp: str, *, first_live: bool = True
    ) -> None:
        """Mark resources (kind, id) as being deleted, all or none: AlreadyDeleting when the first is
        absent (or, with `first_live`, already marked); the others are marked when they exist."""
        updates: list[TransactWriteItemTypeDef] = []
        for position, (kind, resource_id) in enumerate(targets):
            updates.append(
                {
                    'Update': {
                        'TableName': self.table,
                        'Key': key(kind, environment_id, resource_id),
                        'UpdateExpression': 'SET deleting = :yes, updatedAt = :now',
                        'ConditionExpression': (
                            _NOT_DELETING if position == 0 and first_live else 'attribute_exists(pk)'
                        ),
                        'ExpressionAttributeValues': {':yes': {'BOOL': True}, ':now': {'S': stamp}},
                    }
                }
            )
        try:
            for start in range(0, len(updates), TRANSACTION_LIMIT):
                self._client.transact_write_items(TransactItems=updates[start : start + TRANSACTION_LIMIT])
        except ClientError as error:
            if error_code(error) == 'TransactionCanceledException':
                raise AlreadyDeleting(targets[0][1]) from error
            raise translate(error) from error

    def delete(self, kind: str, environment_id: str, resource_id: str) -> dict[str, Any] | None:
        """Remove the item whatever its state; what it held, or None when it was already gone."""
        try:
            response = self._client.delete_item(
                TableName=self.table, Key=key(kind, environment_id, resource_id), ReturnValues='ALL_OLD'
            )
        except ClientError as error:
            raise translate(error) from error
        old = response.get('Attributes')
        return from_item(old) if old else None

    def delete_many(self, kind: str, environment_id: str, resource_ids: list[str]) -> None:
        """Remove items whatever their state, 25 a BatchWriteItem, unprocessed ones retried with backoff."""
        requests: list[WriteRequestTypeDef] = [
            {'DeleteRequest': {'Key': key(kind, environment_id, resource_id)}} for resource_id in resource_ids
        ]
        batch_write(self._client, self.table, requests, 'The data store is busy; retry shortly')

    # ------------------------------------------------------------ reads
    def get(self, kind: str, environment_id: str, resource_id: str, *, deleting: bool = False) -> dict[str, Any] | None:
        """The live resource, or None (absent, another tenant's, or being deleted unless `deleting`)."""
        try:
            response = self._client.get_item(
                TableName=self.table, Key=key(kind, environment_id, resource_id), ConsistentRead=True
            )
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        if not item or (item.get('deleting') and not deleting):
            return None
        return from_item(item)

    def page(
        self,
        kind: str,
        environment_id: str,
        *,
        parent_id: str | None = None,
        equals: dict[str, str] | None = None,
        page_size: int,
        page_number: int = 1,
        page_token: str | None = None,
        ascending: bool = True,
    ) -> CatalogPage:
        """One page of the live resources of a kind (under a parent), oldest first."""
        query = self._index_query(kind, environment_id, parent_id, equals or {}, live=True)
        try:
            page = query_page(
                self._client,
                self.table,
                query,
                ascending=ascending,
                page_size=page_size,
                page_number=page_number,
                page_token=page_token,
            )
        except ClientError as error:
            raise translate(error) from error
        return CatalogPage([from_item(item) for item in page.items], page.total, page.next_token)

    def children(self, kind: str, environment_id: str, parent_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` resources of a kind under a parent, including those being deleted (for purges)."""
        query = self._index_query(kind, environment_id, parent_id, {}, live=False)
        try:
            items, _ = query_window(self._client, self.table, query, ascending=True, page_size=limit)
        except ClientError as error:
            raise translate(error) from error
        return [from_item(item) for item in items]

    def _index_query(
        self, kind: str, environment_id: str, parent_id: str | None, equals: dict[str, str], *, live: bool
    ) -> IndexQuery:
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {}
        clauses = []
        for position, (name, value) in enumerate(sorted(equals.items())):
            names[f'#f{position}'] = name
            values[f':f{position}'] = {'S': value}
            clauses.append(f'#f{position} = :f{position}')
        if live:
            names['#deleting'] = 'deleting'
            clauses.append('attribute_not_exists(#deleting)')
        if parent_id is None:
            index, attribute, value = 'byEnvironment', 'envKey', f'{environment_id}#{kind}'
        else:
            index, attribute, value = 'byParent', 'parentKey', parent_key(kind, environment_id, parent_id)
        return IndexQuery(index, attribute, value, ' AND '.join(clauses), names, values)


def _reasons(error: ClientError) -> list[str | None]:
    reasons = cast('list[dict[str, Any]]', error.response.get('CancellationReasons', []))
    return [reason.get('Code') for reason in reasons]
