"""What every DynamoDB adapter shares: item (de)serialisation, clients, and error translation."""

import json
import random
import time
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from jobs_core.errors import BadRequest, PayloadTooLarge, ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, WriteRequestTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx,
# bounded so an API request still answers well inside API Gateway's 29 s.
CLIENT_CONFIG = Config(retries={'mode': 'standard', 'max_attempts': 4}, connect_timeout=2, read_timeout=5)

TRANSACTION_LIMIT = 100  # actions in one TransactWriteItems
BATCH_LIMIT = 25  # requests in one BatchWriteItem
UNPROCESSED_ATTEMPTS = 8

_THROTTLED = frozenset(
    {'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'InternalServerError'}
)


@cache
def dynamodb_client() -> 'DynamoDBClient':
    import boto3  # noqa: PLC0415 - only the functions that talk to DynamoDB pay for it

    return boto3.client('dynamodb', config=CLIENT_CONFIG)


def to_item(values: dict[str, Any]) -> dict[str, 'AttributeValueTypeDef']:
    # DynamoDB numbers must be Decimal; a JSON round trip converts floats at any depth.
    plain = json.loads(json.dumps(values), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in plain.items()}


def to_value(value: Any) -> 'AttributeValueTypeDef':
    return to_item({'v': value})['v']


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, set):  # string sets come back unordered; give callers a stable order
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


def error_code(error: ClientError) -> str:
    return str(error.response.get('Error', {}).get('Code', ''))


def translate(error: ClientError) -> Exception:
    """Turn a DynamoDB error the caller caused or can retry into a domain error; others stay 500s."""
    code = error_code(error)
    message = str(error.response.get('Error', {}).get('Message', ''))
    if code in _THROTTLED:
        return ServiceUnavailable('The job store is busy; retry shortly')
    if code == 'ValidationException' and 'size' in message.lower():
        return PayloadTooLarge('The job would be larger than 400 KB; store large data in files', key='body')
    if code == 'ValidationException' and any(
        word in message.lower() for word in ('significant digits', 'number overflow', 'number underflow')
    ):
        return BadRequest('A number is out of the range that can be stored (38 digits, up to 1e125)', key='body')
    if code == 'ValidationException' and 'starting key' in message.lower():
        return BadRequest('pageToken is not valid for this query', key='pageToken')
    return error


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter, capped at 2 s."""
    return min(2.0, 0.05 * 2.0**attempt) * random.random()  # noqa: S311 - jitter, not crypto


def batch_write(
    client: 'DynamoDBClient',
    table: str,
    requests: list['WriteRequestTypeDef'],
    busy: str,
    *,
    attempts: int = UNPROCESSED_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """BatchWriteItem 25 requests at a time; what DynamoDB leaves unprocessed is retried with backoff.

    `busy` is the ServiceUnavailable message when some requests stay unprocessed after every attempt.
    """
    for start in range(0, len(requests), BATCH_LIMIT):
        pending = requests[start : start + BATCH_LIMIT]
        for attempt in range(attempts):
            try:
                response = client.batch_write_item(RequestItems={table: pending})
            except ClientError as error:
                raise translate(error) from error
            pending = response.get('UnprocessedItems', {}).get(table, [])  # type: ignore[assignment]
            if not pending:
                break
            sleep(backoff(attempt))
        else:
            raise ServiceUnavailable(busy)
