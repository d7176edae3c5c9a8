"""The job store: the port the domain speaks to, and its DynamoDB adapter.

Every key is scoped by the caller's environment, so another tenant's job simply does not exist
here. A lifecycle change is one conditional UpdateItem; a list page is one Query on an index.
"""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from botocore.exceptions import ClientError

from jobs_core.dynamo import (
    TRANSACTION_LIMIT,
    batch_write,
    dynamodb_client,
    error_code,
    from_item,
    to_item,
    to_value,
    translate,
)
from jobs_core.lifecycle import ACTIVE, planned
from jobs_core.models.job import Job
from jobs_core.observability import logger
from jobs_core.paging import SORT_KEY, IndexQuery, query_page
from jobs_core.resources import file_of, workbook_of
from jobs_core.topics import PART_COUNTERS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

    from jobs_core.lifecycle import Change
    from jobs_core.models.job import JobListQuery
    from jobs_core.models.tenant import Tenant

ENTITY: Final = 'job'
EDGE_TTL_SECONDS: Final = 90 * 24 * 3600


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    total: int
    next_token: str | None


class ConditionFailed(Exception):
    """The conditional write did not apply. `current` is the job as it was, or None if absent."""

    def __init__(self, current: Job | None) -> None:
        super().__init__('condition failed')
        self.current = current


class PredecessorsChanged(Exception):
    """A predecessor finished while a job waiting on it was being created."""


class JobStore(Protocol):
    def create(self, tenant: 'Tenant', job: Job) -> None: ...
    def get(self, tenant: 'Tenant', job_id: str) -> Job | None: ...
    def get_many(self, tenant: 'Tenant', job_ids: list[str]) -> dict[str, Job]: ...
    def apply(self, tenant: 'Tenant', job_id: str, change: 'Change', now: str) -> Job: ...
    def apply_with_item(
        self,
        tenant: 'Tenant',
        job_id: str,
        change: 'Change',
        now: str,
        item: dict[str, 'AttributeValueTypeDef'],
        *,
        item_is_new: bool = False,
    ) -> Job: ...
    def apply_to_part(
        self, tenant: 'Tenant', part: Job, change: 'Change', now: str, counters: dict[str, int]
    ) -> Job: ...
    def split(self, tenant: 'Tenant', parent: Job, parts: list[Job], now: str) -> None: ...
    def dependents(self, tenant: 'Tenant', job_id: str) -> list[str]: ...
    def stop_waiting_on(self, tenant: 'Tenant', job_id: str, predecessor: str, now: str) -> Job | None: ...
    def delete(self, tenant: 'Tenant', job_id: str) -> Job | None: ...
    def list(self, tenant: 'Tenant', query: 'JobListQuery') -> JobPage: ...


def job_key(environment_id: str, job_id: str) -> dict[str, 'AttributeValueTypeDef']:
    return {'pk': {'S': f'JOB#{environment_id}#{job_id}'}, 'sk': {'S': 'JOB'}}


def plan_key(environment_id: str, job_id: str) -> dict[str, 'AttributeValueTypeDef']:
    """A map job's plan: an item of its own beside the job's (in the same partition), so the job's
    many small writes (progress) are not charged for the plan's size, and one Query reads both."""
    return {'pk': {'S': f'JOB#{environment_id}#{job_id}'}, 'sk': {'S': 'PLAN'}}


# One sparse index per list filter. The order is the order of preference when a list asks
# for several: the most selective index first, the remaining filters applied to its pages.
INDEXES: Final[tuple[tuple[str, str, str], ...]] = (
    # (query field, index name, partition attribute)
    ('parent_id', 'byParent', 'parentKey'),
    ('file_id', 'byFile', 'fileKey'),
    ('workbook_id', 'byWorkbook', 'workbookKey'),
    ('source', 'bySource', 'sourceKey'),
    ('space_id', 'bySpace', 'spaceKey'),
    ('status', 'byStatus', 'statusKey'),
)


def index_keys(environment_id: str, job: dict[str, Any]) -> dict[str, str]:
    """The partition keys of every index this job belongs to, each prefixed by its environment."""
    values = {
        'parentKey': job.get('parentId'),
        'fileKey': file_of(job),
        'workbookKey': workbook_of(job),
        'sourceKey': job.get('source'),
        'spaceKey': job.get('spaceId'),
        'statusKey': job.get('status'),
    }
    keys = {name: f'{environment_id}#{value}' for name, value in values.items() if value}
    keys['envKey'] = environment_id
    if not job.get('parentId'):
        keys['topKey'] = environment_id
    return keys


class DynamoJobStore:
    def __init__(self, table_name: str, client: 'DynamoDBClient | None' = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    # ------------------------------------------------------------ writes
    def create(self, tenant: 'Tenant', job: Job) -> None:
        """Put a new job. A waiting job is written with its dependency edges, in one transaction that
        also checks each awaited predecessor is still unfinished (else PredecessorsChanged)."""
        put: TransactWriteItemTypeDef = {
            'Put': {
                'TableName': self._table,
                'Item': job_item(tenant, job),
                'ConditionExpression': 'attribute_not_exists(pk)',
            }
        }
        try:
            if not job.waiting_on:
                self._client.put_item(**put['Put'])
                return
            actions = [put]
            for predecessor in sorted(job.waiting_on):
                actions.append({'Put': {'TableName': self._table, 'Item': self._edge(tenant, predecessor, job.id)}})
                actions.append(
                    {
                        'ConditionCheck': {
                            'TableName': self._table,
                            'Key': job_key(tenant.environment_id, predecessor),
                            'ConditionExpression': '#s IN (' + ', '.join(f':s{i}' for i in range(len(ACTIVE))) + ')',
                            'ExpressionAttributeNames': {'#s': 'status'},
                            'ExpressionAttributeValues': {
                                f':s{i}': {'S': status} for i, status in enumerate(sorted(ACTIVE))
                            },
                        }
                    }
                )
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) == 'TransactionCanceledException':
                raise PredecessorsChanged from error
            raise translate(error) from error

    def _edge(self, tenant: 'Tenant', predecessor: str, dependent: str) -> dict[str, 'AttributeValueTypeDef']:
        return {
            'pk': {'S': f'DEP#{tenant.environment_id}#{predecessor}'},
            'sk': {'S': f'JOB#{dependent}'},
            'entity': {'S': 'dependency'},
            'dependent': {'S': dependent},
            'expiresAt': {'N': str(int(time.time()) + EDGE_TTL_SECONDS)},
        }

    def _update(
        self, tenant: 'Tenant', job_id: str, change: 'Change', now: str, expected_version: int | None = None
    ) -> 'UpdateTypeDef':
        expect = dict(change.expect)
        if expected_version is not None:
            expect['version'] = expected_version
        expression = _UpdateExpression()
        for name, value in change.assign.items():
            expression.assign(name, value)
        if 'status' in change.assign:
            expression.assign('statusKey', f'{tenant.environment_id}#{change.assign["status"]}')
        for name, value in change.assign_if_absent.items():
            expression.assign_if_absent(name, value)
        for name, amount in change.increment.items():
            expression.add_to(name, amount)
        for name in change.remove - change.assign.keys():
            expression.drop(name)
        expression.assign('updatedAt', now)
        expression.assign('updatedBy', tenant.actor_id)
        expression.add_to('version', 1)

        statuses = ', '.join(expression.value(status) for status in sorted(change.sources))
        condition = [f'attribute_exists(pk) AND {expression.name("status")} IN ({statuses})']
        condition += [f'attribute_not_exists({expression.name(name)})' for name in sorted(change.must_be_absent)]
        condition += [f'{expression.name(name)} = {expression.value(value)}' for name, value in sorted(expect.items())]
        return {
            'TableName': self._table,
            'Key': job_key(tenant.environment_id, job_id),
            'UpdateExpression': expression.render(),
            'ConditionExpression': ' AND '.join(condition),
            'ExpressionAttributeNames': expression.names,
            'ExpressionAttributeValues': expression.values,
        }

    def apply(self, tenant: 'Tenant', job_id: str, change: 'Change', now: str) -> Job:
        try:
            params = cast('dict[str, Any]', self._update(tenant, job_id, change, now))
            response = self._client.update_item(
                **params,
                ReturnValues='ALL_NEW',
                ReturnValuesOnConditionCheckFailure='ALL_OLD',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                old = cast('dict[str, Any] | None', error.response.get('Item'))  # ALL_OLD, only on this error
                raise ConditionFailed(_job(old) if old else None) from error
            raise translate(error) from error
        return _job(response['Attributes'])

    def apply_with_item(
        self,
        tenant: 'Tenant',
        job_id: str,
        change: 'Change',
        now: str,
        item: dict[str, 'AttributeValueTypeDef'],
        *,
        item_is_new: bool = False,
    ) -> Job:
        """A job's change and an item that belongs with it (its plan), written together or not at all
        (not when `item_is_new` and the item is there already)."""
        put: dict[str, Any] = {'TableName': self._table, 'Item': item}
        if item_is_new:
            put['ConditionExpression'] = 'attribute_not_exists(pk)'
        try:
            self._client.transact_write_items(
                TransactItems=[{'Update': self._update(tenant, job_id, change, now)}, {'Put': cast('Any', put)}]
            )
        except ClientError as error:
            if error_code(error) == 'TransactionCanceledException':
                raise ConditionFailed(self.get(tenant, job_id)) from error
            raise translate(error) from error
        job = self.get(tenant, job_id)
        if job is None:
            raise ConditionFailed(None)
        return job

    def apply_to_part(self, tenant: 'Tenant', part: Job, change: 'Change', now: str, counters: dict[str, int]) -> Job:
        """A part's transition and its parent's part counters, in one transaction.

        `part` is the part as read; the write is conditioned on its version, so a concurrent change
        makes it fail (ConditionFailed) rather than count twice.
        """
        assert part.parent_id is not None
        parent = _UpdateExpression()
        for counter, delta in counters.items():
            parent.add_to(counter, delta)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {'Update': self._update(tenant, part.id, change, now, expected_version=part.version)},
                    {
                        'Update': {
                            'TableName': self._table,
                            'Key': job_key(tenant.environment_id, part.parent_id),
                            'UpdateExpression': parent.render(),
                            'ConditionExpression': 'attribute_exists(pk)',
                            'ExpressionAttributeNames': parent.names,
                            'ExpressionAttributeValues': parent.values,
                        }
                    },
                ]
            )
        except ClientError as error:
            if error_code(error) != 'TransactionCanceledException':
                raise translate(error) from error
            reasons = [
                reason.get('Code')
                for reason in cast('list[dict[str, Any]]', error.response.get('CancellationReasons', []))
            ]
            if reasons[1:2] == ['ConditionalCheckFailed'] and reasons[0] in {'None', None}:
                # The parent is gone: the part goes on alone.
                return self.apply(tenant, part.id, change, now)
            raise ConditionFailed(self.get(tenant, part.id)) from error
        job = self.get(tenant, part.id)
        if job is None:
            raise ConditionFailed(None)
        return job

    def stop_waiting_on(self, tenant: 'Tenant', job_id: str, predecessor: str, now: str) -> Job | None:
        """Remove one finished predecessor from a waiting job; None if the job is no longer waiting."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=job_key(tenant.environment_id, job_id),
                UpdateExpression='DELETE waitingOn :p SET updatedAt = :now, updatedBy = :by, version = version + :one',
                ConditionExpression='attribute_exists(pk) AND #s = :waiting AND contains(waitingOn, :id)',
                ExpressionAttributeNames={'#s': 'status'},
                ExpressionAttributeValues={
                    ':p': {'SS': [predecessor]},
                    ':id': {'S': predecessor},
                    ':waiting': {'S': 'waiting'},
                    ':now': {'S': now},
                    ':by': {'S': tenant.actor_id},
                    ':one': {'N': '1'},
                },
                ReturnValues='ALL_NEW',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                return None
            raise translate(error) from error
        return _job(response['Attributes'])

    def split(self, tenant: 'Tenant', parent: Job, parts: list[Job], now: str) -> None:
        """Mark the parent split and write its parts (with the edges of sequential parts).

        The parent's update and the first items are one transaction, so a split happens once; the
        rest follow in batches. Part ids derive from the parent's, so a repeated split of the same
        parent only fills in parts that are missing.
        """
        items = []
        for part in parts:
            items.append(job_item(tenant, part))
            items += [self._edge(tenant, predecessor, part.id) for predecessor in sorted(part.waiting_on or ())]
        marker = _UpdateExpression()
        marker.assign('partsTotal', len(parts))
        for counter in PART_COUNTERS:
            marker.assign(counter, 0)
        marker.assign('updatedAt', now)
        marker.assign('updatedBy', tenant.actor_id)
        marker.add_to('version', 1)
        head: list[TransactWriteItemTypeDef] = [
            {
                'Update': {
                    'TableName': self._table,
                    'Key': job_key(tenant.environment_id, parent.id),
                    'UpdateExpression': marker.render(),
                    'ConditionExpression': (
                        f'{marker.name("version")} = {marker.value(parent.version)} '
                        f'AND attribute_not_exists({marker.name("partsTotal")})'
                    ),
                    'ExpressionAttributeNames': marker.names,
                    'ExpressionAttributeValues': marker.values,
                }
            }
        ]
        head += [{'Put': {'TableName': self._table, 'Item': item}} for item in items[: TRANSACTION_LIMIT - 1]]
        try:
            self._client.transact_write_items(TransactItems=head)
            batch_write(
                self._client,
                self._table,
                [{'PutRequest': {'Item': item}} for item in items[TRANSACTION_LIMIT - 1 :]],
                'The job store is busy; the split was not finished, retry it',
            )
        except ClientError as error:
            if error_code(error) == 'TransactionCanceledException':
                raise ConditionFailed(self.get(tenant, parent.id)) from error
            raise translate(error) from error

    def delete(self, tenant: 'Tenant', job_id: str) -> Job | None:
        try:
            response = self._client.delete_item(
                TableName=self._table,
                Key=job_key(tenant.environment_id, job_id),
                ConditionExpression='attribute_exists(pk)',
                ReturnValues='ALL_OLD',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                return None
            raise translate(error) from error
        job = _job(response['Attributes'])
        if planned(job.type, job.operation):
            try:
                self._client.delete_item(TableName=self._table, Key=plan_key(tenant.environment_id, job_id))
            except ClientError:
                # Unreachable without its job (every read of a plan reads the job with it): left, harmless.
                logger.exception('The plan of a deleted job was not deleted', job_id=job_id)
        return job

    # ------------------------------------------------------------ reads
    def get(self, tenant: 'Tenant', job_id: str) -> Job | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=job_key(tenant.environment_id, job_id), ConsistentRead=True
            )
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        return _job(item) if item else None

    def get_many(self, tenant: 'Tenant', job_ids: list[str]) -> dict[str, Job]:
        keys = [job_key(tenant.environment_id, job_id) for job_id in dict.fromkeys(job_ids)]
        found: dict[str, Job] = {}
        try:
            for start in range(0, len(keys), 100):
                request: dict[str, Any] = {self._table: {'Keys': keys[start : start + 100], 'ConsistentRead': True}}
                while request:
                    response = self._client.batch_get_item(RequestItems=request)
                    for item in response['Responses'].get(self._table, []):
                        job = _job(item)
                        found[job.id] = job
                    request = cast('dict[str, Any]', response.get('UnprocessedKeys') or {})
        except ClientError as error:
            raise translate(error) from error
        return found

    def dependents(self, tenant: 'Tenant', job_id: str) -> list[str]:
        """The jobs waiting on `job_id`."""
        dependents: list[str] = []
        request: QueryInputTypeDef = {
            'TableName': self._table,
            'KeyConditionExpression': 'pk = :pk',
            'ExpressionAttributeValues': {':pk': {'S': f'DEP#{tenant.environment_id}#{job_id}'}},
        }
        try:
            while True:
                response = self._client.query(**request)
                dependents += [item['dependent']['S'] for item in response['Items']]
                if 'LastEvaluatedKey' not in response:
                    return dependents
                request['ExclusiveStartKey'] = response['LastEvaluatedKey']
        except ClientError as error:
            raise translate(error) from error

    def list(self, tenant: 'Tenant', query: 'JobListQuery') -> JobPage:
        try:
            page = query_page(
                self._client,
                self._table,
                _index_query(tenant.environment_id, query),
                ascending=query.sort_direction == 'asc',
                page_size=query.page_size,
                page_number=query.page_number,
                page_token=query.page_token,
            )
        except ClientError as error:
            raise translate(error) from error
        return JobPage(jobs=[_job(item) for item in page.items], total=page.total, next_token=page.next_token)


def job_item(tenant: 'Tenant', job: Job) -> dict[str, 'AttributeValueTypeDef']:
    values = job.model_dump(by_alias=True, exclude_none=True, mode='json', exclude={'waiting_on'})
    if job.release_status:
        values['releaseStatus'] = job.release_status
    item = to_item(
        {
            **values,
            **index_keys(tenant.environment_id, values),
            SORT_KEY: f'{values["createdAt"]}#{job.id}',
            'entity': ENTITY,
            'accountId': tenant.account_id,
        }
    )
    if job.waiting_on:
        # A string set, so each finished predecessor is removed with an atomic DELETE.
        item['waitingOn'] = {'SS': sorted(job.waiting_on)}
    return {**item, **job_key(tenant.environment_id, job.id)}


def _job(item: dict[str, Any]) -> Job:
    return Job.model_validate(from_item(item))


class _UpdateExpression:
    """Builds an UpdateExpression with placeholders for every name (so reserved words are safe)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValueTypeDef] = {}
        self._set: list[str] = []
        self._remove: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f'#n{len(self.names)}'
        for existing, name in self.names.items():
            if name == attribute:
                return existing
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: object) -> str:
        placeholder = f':v{len(self.values)}'
        self.values[placeholder] = to_value(value)
        return placeholder

    def assign(self, attribute: str, value: object) -> None:
        self._set.append(f'{self.name(attribute)} = {self.value(value)}')

    def assign_if_absent(self, attribute: str, value: object) -> None:
        name = self.name(attribute)
        self._set.append(f'{name} = if_not_exists({name}, {self.value(value)})')

    def add_to(self, attribute: str, amount: int) -> None:
        name = self.name(attribute)
        self._set.append(f'{name} = if_not_exists({name}, {self.value(0)}) + {self.value(amount)}')

    def drop(self, attribute: str) -> None:
        self._remove.append(self.name(attribute))

    def render(self) -> str:
        expression = 'SET ' + ', '.join(self._set)
        if self._remove:
            expression += ' REMOVE ' + ', '.join(self._remove)
        return expression


def _index_query(environment_id: str, query: 'JobListQuery') -> IndexQuery:
    """The most selective index for the filters asked, the other filters applied to its pages."""
    wanted = {
        attribute: f'{environment_id}#{getattr(query, field)}'
        for field, _, attribute in INDEXES
        if getattr(query, field) is not None
    }
    chosen = next(((index, attr) for _, index, attr in INDEXES if attr in wanted), None)
    if chosen is None:
        index, attribute = ('byTopLevel', 'topKey') if query.exclude_child_jobs else ('byEnvironment', 'envKey')
        partition = environment_id
    else:
        index, attribute = chosen
        partition = wanted.pop(attribute)

    names: dict[str, str] = {}
    values: dict[str, AttributeValueTypeDef] = {}
    clauses: list[str] = []
    for position, (other, value) in enumerate(sorted(wanted.items())):
        names[f'#f{position}'] = other
        values[f':f{position}'] = {'S': value}
        clauses.append(f'#f{position} = :f{position}')
    if query.exclude_child_jobs and index not in {'byTopLevel', 'byParent'}:
        names['#top'] = 'topKey'
        clauses.append('attribute_exists(#top)')
    return IndexQuery(index, attribute, partition, ' AND '.join(clauses), names, values)
