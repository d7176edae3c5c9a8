"""Records in the data table: one partition per sheet, with the sheet's item and its exact counts.

- A record is `REC#<id>` in its sheet's partition (ids sort by insertion), so a page is one Query.
  An invalid record also carries `errorKey`, which puts it in the sparse `byErrors` index: a page of
  `filter=error` is one Query too, however few errors a big sheet has.
- A value is stored once (`values`), the reasons a value is invalid beside it (`errors`), so a
  valid cell costs its value and nothing else.
- The sheet item holds `recordsTotal`, `recordsValid` and `recordsError`, changed only by atomic
  ADDs in the same write as the records they count, or (for inserts) once every record is written.
- Every records write also puts a commit item in the jobs table, whose stream turns it into the
  `commit:created` event; it rides in the same transaction as the counts.
"""

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from botocore.exceptions import ClientError

from jobs_core.data_store import META, partition, serialise
from jobs_core.dynamo import (
    BATCH_LIMIT,
    backoff,
    batch_write,
    dynamodb_client,
    error_code,
    from_item,
    translate,
)
from jobs_core.errors import BadRequest, ServiceUnavailable
from jobs_core.observability import logger
from jobs_core.paging import IndexQuery, encode_token, query_window
from jobs_core.store import job_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestTypeDef,
    )

RECORD: Final = 'REC#'
UNIQUE: Final = 'UNQ#'
GET_LIMIT: Final = 100
# A transaction carries at most 4 MB; keep clear of it.
TRANSACTION_BYTES: Final = 3_500_000
COMMIT_TTL_SECONDS: Final = 30 * 24 * 3600
_MAX_DIGITS: Final = 38
_SMALLEST: Final = 1e-130
_LARGEST: Final = 1e126
_NOT_DELETING: Final = 'attribute_exists(pk) AND attribute_not_exists(deleting)'


class SheetGone(Exception):
    """The sheet was deleted, or is being deleted, while its records were written."""


class JobMoved(Exception):
    """The job a write was guarded by is no longer running the attempt that wrote; nothing was applied."""


@dataclass(frozen=True, slots=True)
class JobGuard:
    """A system job's write is applied only while that job runs this attempt (in the same transaction)."""

    environment_id: str
    job_id: str
    attempt: int


class RecordsChanged(Exception):
    """Some records changed since they were read; nothing of this write was applied."""

    def __init__(self, record_ids: list[str]) -> None:
        super().__init__(', '.join(record_ids))
        self.record_ids = record_ids


@dataclass(slots=True)
class CountDelta:
    total: int = 0
    valid: int = 0
    error: int = 0

    def add(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        for record, sign in ((old, -1), (new, 1)):
            if record is not None:
                self.total += sign
                if record.get('valid', True):
                    self.valid += sign
                else:
                    self.error += sign

    def __bool__(self) -> bool:
        return bool(self.total or self.valid or self.error)


@dataclass(frozen=True, slots=True)
class Change:
    """One record write conditioned on what was read: `old` None creates, `new` None deletes."""

    record_id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    size: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which records a read wants, in domain terms; the store turns it into a Query and a filter."""

    validity: Literal['all', 'valid', 'error'] = 'all'
    validity_field: str | None = None  # judge validity by this field's cell only
    search: Literal['contains', 'exact', 'empty'] | None = None
    search_fields: tuple[str, ...] = ()
    search_values: tuple[Any, ...] = ()  # 'contains': (text,); 'exact': the value in each type it may be stored as
    exclude_ids: tuple[str, ...] = ()

    def expression(self) -> tuple[str, dict[str, str], dict[str, 'AttributeValueTypeDef']]:
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {}
        clauses = []
        if self.validity_field is not None:
            names.update({'#errors': 'errors', '#vf': self.validity_field})
            exists = 'attribute_exists' if self.validity == 'error' else 'attribute_not_exists'
            clauses.append(f'{exists}(#errors.#vf)')
        elif self.validity == 'valid':
            names['#valid'] = 'valid'
            values[':true'] = {'BOOL': True}
            clauses.append('#valid = :true')
        if self.search is not None and self.search_fields:
            clauses.append(self._search(names, values))
        for start in range(0, len(self.exclude_ids), 100):
            names['#id'] = 'id'
            placeholders = []
            for position, record_id in enumerate(self.exclude_ids[start : start + 100], start=start):
                values[f':e{position}'] = {'S': record_id}
                placeholders.append(f':e{position}')
            clauses.append(f'NOT #id IN ({", ".join(placeholders)})')
        return ' AND '.join(clauses), names, values

    def _search(self, names: dict[str, str], values: dict[str, 'AttributeValueTypeDef']) -> str:
        names['#values'] = 'values'
        alternatives = []
        for position, field_key in enumerate(self.search_fields):
            names[f'#s{position}'] = field_key
            path = f'#values.#s{position}'
            if self.search == 'empty':
                values[':null'] = {'S': 'NULL'}
                values[':blank'] = {'S': ''}
                alternatives.append(f'attribute_not_exists({path}) OR attribute_type({path}, :null) OR {path} = :blank')
            elif self.search == 'contains':
                values[':text'] = serialise({'v': self.search_values[0]})['v']
                alternatives.append(f'contains({path}, :text)')
            else:
                for index, candidate in enumerate(self.search_values):
                    values[f':x{index}'] = serialise({'v': candidate})['v']
                    alternatives.append(f'{path} = :x{index}')
        # DynamoDB refuses redundant parentheses: only what mixes OR into an AND gets them.
        parts = [f'({alternative})' if ' OR ' in alternative else alternative for alternative in alternatives]
        return f'({" OR ".join(parts)})' if len(parts) > 1 else parts[0]


def record_key(environment_id: str, sheet_id: str, record_id: str) -> dict[str, 'AttributeValueTypeDef']:
    return {'pk': {'S': partition('sheet', environment_id, sheet_id)}, 'sk': {'S': f'{RECORD}{record_id}'}}


def commit_key(environment_id: str, commit_id: str) -> dict[str, 'AttributeValueTypeDef']:
    return {'pk': {'S': f'COMMIT#{environment_id}#{commit_id}'}, 'sk': {'S': 'COMMIT'}}


def error_partition(environment_id: str, sheet_id: str) -> str:
    return f'{environment_id}#{sheet_id}'


class RecordStore:
    def __init__(
        self,
        data_table: str,
        jobs_table: str,
        client: 'DynamoDBClient | None' = None,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 8,
    ) -> None:
        self.table = data_table
        self._jobs_table = jobs_table
        self._client = client or dynamodb_client()
        self._sleep = sleep
        self._attempts = attempts

    # ------------------------------------------------------------ items
    def record_item(
        self, environment_id: str, sheet_id: str, record: dict[str, Any]
    ) -> dict[str, 'AttributeValueTypeDef']:
        item = {name: attribute(value) for name, value in record.items()}
        item['entity'] = {'S': 'record'}
        if not record.get('valid', True):
            item['errorKey'] = {'S': error_partition(environment_id, sheet_id)}
        return {**item, **record_key(environment_id, sheet_id, record['id'])}

    def commit_item(self, commit: dict[str, Any]) -> dict[str, 'AttributeValueTypeDef']:
        values = {**commit, 'entity': 'commit', 'expiresAt': int(time.time()) + COMMIT_TTL_SECONDS}
        return {**serialise(values), **commit_key(commit['environmentId'], commit['id'])}

    # ------------------------------------------------------------ inserts
    def insert(
        self,
        environment_id: str,
        sheet_id: str,
        records: list[dict[str, Any]],
        delta: CountDelta,
        commit: dict[str, Any],
    ) -> None:
        """Write new records in batches of 25, then count them and put the commit in one transaction.

        All or nothing: when a batch cannot be written or the sheet went away meanwhile, the records
        already written are deleted again and nothing is counted (SheetGone or ServiceUnavailable).
        """
        items = [self.record_item(environment_id, sheet_id, record) for record in records]
        written: list[dict[str, AttributeValueTypeDef]] = []
        try:
            for start in range(0, len(items), BATCH_LIMIT):
                chunk = items[start : start + BATCH_LIMIT]
                self._batch([{'PutRequest': {'Item': item}} for item in chunk])
                written += chunk
            self._count(environment_id, sheet_id, delta, commit, [])
        except BaseException:
            self._undo(written)
            raise

    def _undo(self, items: list[dict[str, 'AttributeValueTypeDef']]) -> None:
        try:
            for start in range(0, len(items), BATCH_LIMIT):
                chunk = items[start : start + BATCH_LIMIT]
                self._batch([{'DeleteRequest': {'Key': {'pk': item['pk'], 'sk': item['sk']}}} for item in chunk])
        except (ClientError, ServiceUnavailable):
            logger.exception('Records of a failed insert could not be removed', count=len(items))

    def _batch(self, requests: list['WriteRequestTypeDef']) -> None:
        """Up to 25 writes in a BatchWriteItem, unprocessed ones retried with backoff and jitter."""
        batch_write(
            self._client,
            self.table,
            requests,
            'The record store is busy; nothing was written, retry shortly',
            attempts=self._attempts,
            sleep=self._sleep,
        )

    # ------------------------------------------------------------ imports (system jobs)
    def put_records(self, environment_id: str, sheet_id: str, records: list[dict[str, Any]]) -> None:
        """Put records as they are (a record already there is replaced), 25 a BatchWriteItem, without
        counting them: for a job that counts each batch once (count_batch) after writing it."""
        items = [self.record_item(environment_id, sheet_id, record) for record in records]
        for start in range(0, len(items), BATCH_LIMIT):
            self._batch([{'PutRequest': {'Item': item}} for item in items[start : start + BATCH_LIMIT]])

    def remove_records(self, environment_id: str, sheet_id: str, record_ids: list[str]) -> None:
        """Delete records by id, uncounted: taking back a batch a job wrote but may not count."""
        keys = [record_key(environment_id, sheet_id, record_id) for record_id in record_ids]
        for start in range(0, len(keys), BATCH_LIMIT):
            self._batch([{'DeleteRequest': {'Key': key}} for key in keys[start : start + BATCH_LIMIT]])

    def count_batch(self, environment_id: str, sheet_id: str, delta: CountDelta, mark: str, end: int) -> bool:
        """Add a job's batch to the sheet's counts once: the sheet keeps the job's high-water mark
        (`mark`, the rows counted so far) and the add applies only while the mark is below `end`, in
        the same UpdateItem. False when that batch was counted already (a step that ran again)."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key={'pk': {'S': partition('sheet', environment_id, sheet_id)}, 'sk': {'S': META}},
                UpdateExpression=(
                    'SET recordsTotal = if_not_exists(recordsTotal, :zero) + :total, '
                    'recordsValid = if_not_exists(recordsValid, :zero) + :valid, '
                    'recordsError = if_not_exists(recordsError, :zero) + :error, #mark = :end'
                ),
                ConditionExpression=f'{_NOT_DELETING} AND (attribute_not_exists(#mark) OR #mark < :end)',
                ExpressionAttributeNames={'#mark': mark},
                ExpressionAttributeValues={
                    ':zero': {'N': '0'},
                    ':total': {'N': str(delta.total)},
                    ':valid': {'N': str(delta.valid)},
                    ':error': {'N': str(delta.error)},
                    ':end': {'N': str(end)},
                },
            )
        except ClientError as error:
            if error_code(error) != 'ConditionalCheckFailedException':
                raise translate(error) from error
            sheet = self._sheet_item(environment_id, sheet_id)
            if sheet is None or sheet.get('deleting'):
                raise SheetGone(sheet_id) from error
            return False
        return True

    def clear_mark(self, environment_id: str, sheet_id: str, mark: str) -> None:
        """Forget a job's high-water mark once the job is done with the sheet."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key={'pk': {'S': partition('sheet', environment_id, sheet_id)}, 'sk': {'S': META}},
                UpdateExpression='REMOVE #mark',
                ConditionExpression='attribute_exists(pk)',
                ExpressionAttributeNames={'#mark': mark},
            )
        except ClientError as error:
            if error_code(error) != 'ConditionalCheckFailedException':
                raise translate(error) from error

    def _sheet_item(self, environment_id: str, sheet_id: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self.table,
                Key={'pk': {'S': partition('sheet', environment_id, sheet_id)}, 'sk': {'S': META}},
                ConsistentRead=True,
            )
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        return from_item(item) if item else None

    # ------------------------------------------------------------ conditional writes
    def write(
        self,
        environment_id: str,
        sheet_id: str,
        changes: list[Change],
        commit: dict[str, Any] | None,
        guard: JobGuard | None = None,
    ) -> None:
        """Apply changes read earlier, with the count deltas they imply, in ONE transaction: each record
        conditioned on the version that was read (RecordsChanged if one moved), the sheet on being
        live (SheetGone), and with a guard on its job running that attempt (JobMoved). At most
        `TRANSACTION_LIMIT - 2` changes (- 3 with both a commit and a guard); the caller chunks."""
        delta = CountDelta()
        actions: list[TransactWriteItemTypeDef] = []
        for change in changes:
            delta.add(change.old, change.new)
            actions.append(self._action(environment_id, sheet_id, change))
        self._count(environment_id, sheet_id, delta, commit, actions, guard=guard)

    def _action(self, environment_id: str, sheet_id: str, change: Change) -> 'TransactWriteItemTypeDef':
        key = record_key(environment_id, sheet_id, change.record_id)
        body: dict[str, Any] = {'TableName': self.table}
        if change.old is None:
            body['ConditionExpression'] = 'attribute_not_exists(pk)'
        else:
            body['ConditionExpression'] = '#version = :version'
            body['ExpressionAttributeNames'] = {'#version': 'version'}
            body['ExpressionAttributeValues'] = {':version': {'N': str(change.old['version'])}}
        if change.new is None:
            return cast('TransactWriteItemTypeDef', {'Delete': {**body, 'Key': key}})
        item = self.record_item(environment_id, sheet_id, change.new)
        return cast('TransactWriteItemTypeDef', {'Put': {**body, 'Item': item}})

    def _count(
        self,
        environment_id: str,
        sheet_id: str,
        delta: CountDelta,
        commit: dict[str, Any] | None,
        actions: list['TransactWriteItemTypeDef'],
        *,
        guard: JobGuard | None = None,
    ) -> None:
        sheet_update: TransactWriteItemTypeDef = {
            'Update': {
                'TableName': self.table,
                'Key': {'pk': {'S': partition('sheet', environment_id, sheet_id)}, 'sk': {'S': META}},
                'UpdateExpression': (
                    'SET recordsTotal = if_not_exists(recordsTotal, :zero) + :total, '
                    'recordsValid = if_not_exists(recordsValid, :zero) + :valid, '
                    'recordsError = if_not_exists(recordsError, :zero) + :error'
                ),
                'ConditionExpression': _NOT_DELETING,
                'ExpressionAttributeValues': {
                    ':zero': {'N': '0'},
                    ':total': {'N': str(delta.total)},
                    ':valid': {'N': str(delta.valid)},
                    ':error': {'N': str(delta.error)},
                },
            }
        }
        transaction = [*actions, sheet_update]
        if commit is not None:
            transaction.append({'Put': {'TableName': self._jobs_table, 'Item': self.commit_item(commit)}})
        if guard is not None:
            transaction.append(self._guard(guard))
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as error:
            if error_code(error) != 'TransactionCanceledException':
                raise translate(error) from error
            reasons = [
                reason.get('Code')
                for reason in cast('list[dict[str, Any]]', error.response.get('CancellationReasons', []))
            ]
            if any(
                reason in {'ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict'}
                for reason in reasons
            ):
                raise ServiceUnavailable('The record store is busy; nothing was written, retry shortly') from error
            if guard is not None and len(reasons) == len(transaction) and reasons[-1] == 'ConditionalCheckFailed':
                raise JobMoved(guard.job_id) from error
            if len(reasons) > len(actions) and reasons[len(actions)] == 'ConditionalCheckFailed':
                raise SheetGone(sheet_id) from error
            moved = [
                action_id
                for action_id, reason in zip(_record_ids(actions), reasons, strict=False)
                if reason == 'ConditionalCheckFailed'
            ]
            if moved:
                raise RecordsChanged(moved) from error
            raise translate(error) from error

    def _guard(self, guard: JobGuard) -> 'TransactWriteItemTypeDef':
        return {
            'ConditionCheck': {
                'TableName': self._jobs_table,
                'Key': job_key(guard.environment_id, guard.job_id),
                'ConditionExpression': '#status = :executing AND #attempt = :attempt',
                'ExpressionAttributeNames': {'#status': 'status', '#attempt': 'attempt'},
                'ExpressionAttributeValues': {':executing': {'S': 'executing'}, ':attempt': {'N': str(guard.attempt)}},
            }
        }

    def put_commit(self, commit: dict[str, Any]) -> None:
        """A commit on its own, for a write made of many transactions (a restore, a system job)."""
        try:
            self._client.put_item(TableName=self._jobs_table, Item=self.commit_item(commit))
        except ClientError as error:
            raise translate(error) from error

    # ------------------------------------------------------------ unique values
    def count_unique(self, environment_id: str, sheet_id: str, field_key: str, value: str, delta: int) -> int:
        """Add `delta` holders of a unique field's value; how many hold it now."""
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key={
                    'pk': {'S': partition('sheet', environment_id, sheet_id)},
                    'sk': {'S': f'{UNIQUE}{field_key}#{value}'},
                },
                UpdateExpression='SET holders = if_not_exists(holders, :zero) + :delta',
                ExpressionAttributeValues={':zero': {'N': '0'}, ':delta': {'N': str(delta)}},
                ReturnValues='ALL_NEW',
            )
        except ClientError as error:
            raise translate(error) from error
        return int(response['Attributes']['holders']['N'])

    # ------------------------------------------------------------ reads
    def get_many(self, environment_id: str, sheet_id: str, record_ids: list[str]) -> dict[str, dict[str, Any]]:
        keys = [record_key(environment_id, sheet_id, record_id) for record_id in dict.fromkeys(record_ids)]
        found: dict[str, dict[str, Any]] = {}
        try:
            for start in range(0, len(keys), GET_LIMIT):
                request: dict[str, Any] = {
                    self.table: {'Keys': keys[start : start + GET_LIMIT], 'ConsistentRead': True}
                }
                for attempt in range(self._attempts):
                    response = self._client.batch_get_item(RequestItems=request)
                    for item in response['Responses'].get(self.table, []):
                        record = from_item(item)
                        found[record['id']] = record
                    request = cast('dict[str, Any]', response.get('UnprocessedKeys') or {})
                    if not request:
                        break
                    self._sleep(backoff(attempt))
                else:
                    raise ServiceUnavailable('The record store is busy; retry shortly')
        except ClientError as error:
            raise translate(error) from error
        return found

    def window(
        self,
        environment_id: str,
        sheet_id: str,
        selection: Selection,
        *,
        ascending: bool = True,
        page_size: int,
        page_number: int = 1,
        page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of records in insertion order (one Query when the page fits in 1 MB and nothing
        is filtered out), and the cursor of the next page."""
        errors_only = selection.validity == 'error'
        query = self._query(environment_id, sheet_id, errors_only=errors_only, expression=selection.expression())
        try:
            items, token = query_window(
                self._client,
                self.table,
                query,
                ascending=ascending,
                page_size=page_size,
                page_number=page_number,
                page_token=page_token,
                consistent=not errors_only,
            )
        except ClientError as error:
            raise translate(error) from error
        return [from_item(item) for item in items], token

    def cursor_after(self, environment_id: str, sheet_id: str, selection: Selection, record: dict[str, Any]) -> str:
        """The cursor of the page that starts after `record` (a page cut short to fit in a response)."""
        errors_only = selection.validity == 'error'
        query = self._query(environment_id, sheet_id, errors_only=errors_only, expression=selection.expression())
        item = dict(record_key(environment_id, sheet_id, record['id']))
        if errors_only:
            item['errorKey'] = {'S': error_partition(environment_id, sheet_id)}
        return encode_token(query, item)

    def scan(
        self,
        environment_id: str,
        sheet_id: str,
        selection: Selection | None = None,
        *,
        page_size: int = 1000,
        after: str | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Every record from the cursor `after` on, a page at a time, with the cursor after each page."""
        token = after
        while True:
            records, token = self.window(
                environment_id, sheet_id, selection or Selection(), page_size=page_size, page_token=token
            )
            yield records, token
            if token is None:
                return

    def _query(
        self,
        environment_id: str,
        sheet_id: str,
        *,
        errors_only: bool,
        expression: tuple[str, dict[str, str], dict[str, 'AttributeValueTypeDef']],
    ) -> IndexQuery:
        filter_expression, names, values = expression
        if errors_only:
            return IndexQuery(
                'byErrors',
                'errorKey',
                error_partition(environment_id, sheet_id),
                filter_expression,
                names,
                values,
                sort_attribute='sk',
            )
        return IndexQuery(
            '',
            'pk',
            partition('sheet', environment_id, sheet_id),
            filter_expression,
            names,
            values,
            sort_attribute='sk',
            sort_prefix=RECORD,
        )

    # ------------------------------------------------------------ purge
    def purge(self, environment_id: str, sheet_id: str, limit: int = 1000) -> int:
        """Delete up to `limit` items of a sheet's partition other than the sheet's own (records and
        unique values), in batches; how many were deleted (0: only the sheet item is left)."""
        try:
            response = self._client.query(
                TableName=self.table,
                KeyConditionExpression='pk = :pk AND sk > :meta',
                ExpressionAttributeValues={
                    ':pk': {'S': partition('sheet', environment_id, sheet_id)},
                    ':meta': {'S': META},
                },
                ProjectionExpression='pk, sk',
                Limit=limit,
            )
        except ClientError as error:
            raise translate(error) from error
        keys = response['Items']
        for start in range(0, len(keys), BATCH_LIMIT):
            self._batch([{'DeleteRequest': {'Key': dict(item)}} for item in keys[start : start + BATCH_LIMIT]])
        return len(keys)


def attribute(value: Any) -> 'AttributeValueTypeDef':
    """A JSON value as a DynamoDB attribute, directly (records are the hot path: no JSON round trip).
    A number DynamoDB cannot hold is the caller's mistake (validation stores such values as text)."""
    if value is None:
        return {'NULL': True}
    if isinstance(value, bool):
        return {'BOOL': value}
    if isinstance(value, str):
        return {'S': value}
    if isinstance(value, int | float):
        return {'N': _number(value)}
    if isinstance(value, list | tuple):
        return {'L': [attribute(item) for item in value]}
    if isinstance(value, dict):
        return {'M': {str(key): attribute(item) for key, item in value.items()}}
    raise BadRequest(f'A value of type {type(value).__name__} cannot be stored', key='body')


def _number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest('A number is not finite', key='body')
    text = str(value) if isinstance(value, int) else str(Decimal(repr(value)))
    digits = len(text.lstrip('-')) if isinstance(value, int) else len(Decimal(text).as_tuple().digits)
    if digits > _MAX_DIGITS or (value and not _SMALLEST <= abs(value) < _LARGEST):
        raise BadRequest('A number is out of the range that can be stored (38 digits, up to 1e125)', key='body')
    return text


def _record_ids(actions: list['TransactWriteItemTypeDef']) -> list[str]:
    ids = []
    for action in actions:
        body = cast('dict[str, Any]', action.get('Put') or action.get('Delete') or {})
        key = body.get('Key') or body.get('Item') or {}
        ids.append(str(key.get('sk', {}).get('S', '')).removeprefix(RECORD))
    return ids


def item_size(values: dict[str, Any]) -> int:
    """A record's approximate stored size, to keep transactions under their 4 MB."""
    return len(json.dumps(values, default=str)) + 64
