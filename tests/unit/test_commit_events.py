"""Commit events: every records write puts a commit item in the jobs table; its stream record goes
through the publisher's filter and comes out as `commit:created`, matching a {sheet: slug} filter."""

import json
from typing import Any

import boto3
import pytest

from jobs_core.lifecycle_events import events_of
from jobs_local.template import load
from tests.builders import LambdaContext, load_function
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures


class Bus:
    """The publisher's port, keeping what it is given."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, events: list[Any]) -> set[str]:
        self.events += events
        return set()


def stream_records(dynamodb) -> list[dict[str, Any]]:
    arn = dynamodb.describe_table(TableName='jobs-test')['Table']['LatestStreamArn']
    streams = boto3.client('dynamodbstreams')
    found = []
    for shard in streams.describe_stream(StreamArn=arn)['StreamDescription']['Shards']:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard['ShardId'], ShardIteratorType='TRIM_HORIZON')
        found += streams.get_records(ShardIterator=iterator['ShardIterator'])['Records']
    for record in found:  # as Lambda delivers them
        record['dynamodb']['ApproximateCreationDateTime'] = record['dynamodb'][
            'ApproximateCreationDateTime'
        ].timestamp()
        record['eventSourceARN'] = arn
    return found


def filter_patterns() -> list[dict[str, Any]]:
    stream = load()['Resources']['PublisherFunction']['Properties']['Events']['Stream']['Properties']
    return [json.loads(entry['Pattern']) for entry in stream['FilterCriteria']['Filters']]


def passes(pattern: Any, value: Any) -> bool:
    """Lambda's event filtering for the patterns the template uses: nested keys and lists of values."""
    if isinstance(pattern, list):
        return value in pattern
    return isinstance(value, dict) and all(key in value and passes(inner, value[key]) for key, inner in pattern.items())


def commit_records(dynamodb) -> list[dict[str, Any]]:
    return [
        record
        for record in stream_records(dynamodb)
        if any(passes(pattern, record) for pattern in filter_patterns())
        and (record['dynamodb'].get('NewImage') or record['dynamodb'].get('OldImage'))['entity']['S'] == 'commit'
    ]


def test_each_records_write_becomes_one_commit_created_event(data_api):
    # GIVEN a contacts sheet, written three ways
    sheet = data_api.sheet()
    inserted = data_api.insert(sheet['id'], [{'name': 'Ann'}, {'name': 'Bob'}])
    first = inserted.data['records'][0]['id']
    updated = data_api.call(
        'PUT', f'/v1/sheets/{sheet["id"]}/records', [{'id': first, 'values': {'age': {'value': 3}}}]
    )
    data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': first})

    # WHEN the jobs table's stream records that pass the publisher's filter are published
    records = commit_records(data_api.dynamodb)
    bus = Bus()
    publisher = load_function('publisher')
    result = publisher.lambda_handler({'Records': records}, LambdaContext(), events_publisher=bus)

    # THEN each write is one commit:created, in order, naming its kind and how many records it touched
    assert result == {'batchItemFailures': []}
    assert [(event.topic, event.payload['kind'], event.payload['count']) for event in bus.events] == [
        ('commit:created', 'insert', 2),
        ('commit:created', 'update', 1),
        ('commit:created', 'delete', 1),
    ]
    event = bus.events[0].model_dump(mode='json')
    assert event['domain'] == 'commit'
    assert event['payload'] == {
        'commitId': inserted.data['commitId'],
        'sheetId': sheet['id'],
        'count': 2,
        'kind': 'insert',
    }
    assert event['context'] == {
        'accountId': 'us_acc_test0000001',
        'environmentId': 'us_env_test0000001',
        'spaceId': data_api.call('GET', f'/v1/workbooks/{sheet["workbookId"]}').data['spaceId'],
        'workbookId': sheet['workbookId'],
        'sheetId': sheet['id'],
        'sheetSlug': 'contacts',
        'commitId': inserted.data['commitId'],
        'actorId': 'us_key_test0000001',
        'slugs': {'sheet': 'contacts'},
    }
    assert bus.events[1].payload['commitId'] == updated.data['commitId']
    # AND the seed's listener filter {sheet: 'contacts'} finds the sheet's slug in the event
    assert event['context']['slugs']['sheet'] == 'contacts'


def test_a_redelivered_commit_record_yields_the_same_event_id(data_api):
    sheet = data_api.sheet()
    data_api.insert(sheet['id'], [{'name': 'Ann'}])
    [record] = commit_records(data_api.dynamodb)
    assert [event.id for event in events_of(record)] == [event.id for event in events_of(record)]


def test_a_failed_write_commits_nothing(data_api):
    sheet = data_api.sheet()
    assert data_api.insert(sheet['id'], [{'nickname': 'x'}]).status == 400
    assert commit_records(data_api.dynamodb) == []


@pytest.mark.parametrize(
    ('event_name', 'entity', 'published'),
    [('INSERT', 'commit', True), ('REMOVE', 'commit', False), ('MODIFY', 'job', True), ('INSERT', 'apiKey', False)],
)
def test_the_publisher_filter_takes_commit_creations_only(event_name, entity, published):
    image = {'entity': {'S': entity}}
    record = {
        'eventName': event_name,
        'dynamodb': {'OldImage': image} if event_name == 'REMOVE' else {'NewImage': image, 'OldImage': image},
    }
    assert any(passes(pattern, record) for pattern in filter_patterns()) is published
