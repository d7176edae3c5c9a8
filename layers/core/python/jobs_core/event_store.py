"""The event store: every event that reached the bus, kept for the Events API (TTL'd).

Keyed by the event's id, so a duplicate delivery is written once; scoped by environment like
every other key. Read by topic, job or domain, in order, from a point in time.
"""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from jobs_core.dynamo import dynamodb_client, error_code, from_item, to_item, translate
from jobs_core.models.event import Event
from jobs_core.paging import SORT_KEY, IndexQuery, query_page
from jobs_core.timestamps import format_timestamp

if TYPE_CHECKING:
    from datetime import datetime

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from jobs_core.models.tenant import Tenant

DAY: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class EventQuery:
    topic: str | None = None
    job_id: str | None = None
    domain: str | None = None
    since: 'datetime | None' = None
    ascending: bool = True
    page_size: int = 20
    page_number: int = 1
    page_token: str | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[Event]
    total: int
    next_token: str | None


def event_key(environment_id: str, event_id: str) -> dict[str, 'AttributeValueTypeDef']:
    return {'pk': {'S': f'EVT#{environment_id}#{event_id}'}, 'sk': {'S': 'EVENT'}}


# (query field, index, partition attribute), most selective first.
INDEXES: Final = (
    ('job_id', 'byJob', 'jobKey'),
    ('topic', 'byTopic', 'topicKey'),
    ('domain', 'byDomain', 'domainKey'),
)


class EventStore:
    def __init__(self, table_name: str, retention_days: int = 30, client: 'DynamoDBClient | None' = None) -> None:
        self._table = table_name
        self._retention = retention_days * DAY
        self._client = client or dynamodb_client()

    def put(self, event: Event) -> bool:
        """Store an event once; False when it was already stored (a duplicate delivery)."""
        values = event.model_dump(mode='json', exclude={'acknowledged_at', 'acknowledged_by'})
        environment = event.context.environment_id
        keys = {
            'envKey': environment,
            'topicKey': f'{environment}#{event.topic}',
            'domainKey': f'{environment}#{event.domain}',
            SORT_KEY: f'{values["createdAt"]}#{event.id}',
        }
        if event.context.job_id:
            keys['jobKey'] = f'{environment}#{event.context.job_id}'
        item = to_item({**values, **keys, 'expiresAt': int(time.time()) + self._retention})
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**item, **event_key(environment, event.id)},
                ConditionExpression='attribute_not_exists(pk)',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                return False
            raise translate(error) from error
        return True

    def get(self, tenant: 'Tenant', event_id: str) -> Event | None:
        try:
            response = self._client.get_item(TableName=self._table, Key=event_key(tenant.environment_id, event_id))
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        return Event.model_validate(from_item(item)) if item else None

    def acknowledge(self, tenant: 'Tenant', event_id: str, now: 'datetime') -> Event | None:
        """Mark an event acknowledged by the caller; the first acknowledgement is kept."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=event_key(tenant.environment_id, event_id),
                UpdateExpression='SET acknowledgedAt = if_not_exists(acknowledgedAt, :at), '
                'acknowledgedBy = if_not_exists(acknowledgedBy, :by)',
                ConditionExpression='attribute_exists(pk)',
                ExpressionAttributeValues={':at': {'S': format_timestamp(now)}, ':by': {'S': tenant.actor_id}},
                ReturnValues='ALL_NEW',
            )
        except ClientError as error:
            if error_code(error) == 'ConditionalCheckFailedException':
                return None
            raise translate(error) from error
        return Event.model_validate(from_item(response['Attributes']))

    def list(self, tenant: 'Tenant', query: EventQuery) -> EventPage:
        environment = tenant.environment_id
        wanted = {attr: f'{environment}#{getattr(query, name)}' for name, _, attr in INDEXES if getattr(query, name)}
        chosen = next(((index, attr) for _, index, attr in INDEXES if attr in wanted), None)
        index, attribute = chosen or ('byEnvironment', 'envKey')
        partition = wanted.pop(attribute) if chosen else environment
        names = {f'#f{i}': name for i, name in enumerate(sorted(wanted))}
        values: dict[str, AttributeValueTypeDef] = {
            f':f{i}': {'S': wanted[name]} for i, name in enumerate(sorted(wanted))
        }
        index_query = IndexQuery(
            index=index,
            partition_attribute=attribute,
            partition=partition,
            filter_expression=' AND '.join(f'#f{i} = :f{i}' for i in range(len(names))),
            filter_names=names,
            filter_values=values,
            # A timestamp alone sorts before every "timestamp#id" at that instant, so this is "at or after".
            after=format_timestamp(query.since) if query.since else None,
        )
        try:
            page = query_page(
                self._client,
                self._table,
                index_query,
                ascending=query.ascending,
                page_size=query.page_size,
                page_number=query.page_number,
                page_token=query.page_token,
            )
        except ClientError as error:
            raise translate(error) from error
        return EventPage(events=[_event(item) for item in page.items], total=page.total, next_token=page.next_token)


def _event(item: dict[str, Any]) -> Event:
    return Event.model_validate(from_item(item))
