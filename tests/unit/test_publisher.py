"""The publisher: stream records → events on the bus, exactly once by id, whatever fails."""

import json
import random
from collections import Counter
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from jobs_core.publisher import EventBridgePublisher
from tests.builders import LambdaContext, load_entry


class FakeEventBridge:
    """PutEvents as EventBridge answers it, with failures injected on purpose."""

    def __init__(self, refuse: float = 0.0, outages: int = 0, seed: int = 7) -> None:
        self.refuse = refuse
        self.outages = outages  # calls that fail as a whole
        self.random = random.Random(seed)
        self.calls: list[list[dict[str, Any]]] = []
        self.accepted: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        self.calls.append(Entries)
        if self.outages:
            self.outages -= 1
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url='https://events')
        results = []
        for entry in Entries:
            if self.random.random() < self.refuse:
                results.append({'ErrorCode': 'InternalFailure', 'ErrorMessage': 'try again'})
            else:
                self.accepted.append(entry)
                results.append({'EventId': str(len(self.accepted))})
        return {'FailedEntryCount': sum('ErrorCode' in result for result in results), 'Entries': results}

    def ids(self) -> Counter:
        return Counter(json.loads(entry['Detail'])['id'] for entry in self.accepted)


@pytest.fixture
def stream_records(api, create_job, dynamodb):
    """Real stream records of the jobs table, as moto's stream gives them."""

    def records() -> list[dict[str, Any]]:
        arn = dynamodb.describe_table(TableName='jobs-test')['Table']['LatestStreamArn']
        streams = __import__('boto3').client('dynamodbstreams')
        shards = streams.describe_stream(StreamArn=arn)['StreamDescription']['Shards']
        found = []
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard['ShardId'], ShardIteratorType='TRIM_HORIZON'
            )['ShardIterator']
            found += streams.get_records(ShardIterator=iterator)['Records']
        for record in found:  # Lambda delivers the time as epoch seconds
            record['dynamodb']['ApproximateCreationDateTime'] = record['dynamodb'][
                'ApproximateCreationDateTime'
            ].timestamp()
            record['eventSourceARN'] = arn
        return found

    return records


def handler():
    return load_entry('PublisherFunction').lambda_handler


def lifecycle(api, create_job, count=5):
    for _ in range(count):
        jid = create_job(trigger='immediate')['id']
        api('POST', f'/v1/jobs/{jid}/ack', {'progress': 10})
        api('POST', f'/v1/jobs/{jid}/complete')


def test_every_change_becomes_its_events(api, create_job, stream_records):
    # GIVEN a job's whole life in the stream
    jid = create_job(trigger='immediate')['id']
    api('POST', f'/v1/jobs/{jid}/ack')
    api('POST', f'/v1/jobs/{jid}/complete')
    api('POST', f'/v1/jobs/{jid}/outcome/ack')
    api('DELETE', f'/v1/jobs/{jid}')
    bus = FakeEventBridge()
    # WHEN the publisher gets the batch
    result = handler()(
        {'Records': stream_records()}, LambdaContext(), events_publisher=EventBridgePublisher('bus', bus)
    )
    # THEN each topic is on the bus in order, as the Flatfile envelope
    assert result == {'batchItemFailures': []}
    topics = [entry['DetailType'] for entry in bus.accepted]
    assert topics == [
        'job:created',
        'job:ready',
        'job:updated',
        'job:completed',
        'job:outcome-acknowledged',
        'job:deleted',
    ]
    detail = json.loads(bus.accepted[0]['Detail'])
    assert detail['context']['jobId'] == jid
    assert detail['payload']['job'] == 'workbook:export'
    assert {entry['Source'] for entry in bus.accepted} == {'jobs'}
    assert {entry['EventBusName'] for entry in bus.accepted} == {'bus'}


def test_put_events_takes_ten_at_a_time(api, create_job, stream_records):
    lifecycle(api, create_job, count=7)  # 7 x (created, ready, updated, completed) = 28 events
    bus = FakeEventBridge()
    handler()({'Records': stream_records()}, LambdaContext(), events_publisher=EventBridgePublisher('bus', bus))
    assert [len(call) for call in bus.calls] == [10, 10, 8]


def test_partial_failures_are_retried_until_every_event_is_in_once(api, create_job, stream_records):
    lifecycle(api, create_job, count=10)
    bus = FakeEventBridge(refuse=1 / 3)
    publisher = EventBridgePublisher('bus', bus, attempts=10, sleep=lambda _: None)
    result = handler()({'Records': stream_records()}, LambdaContext(), events_publisher=publisher)
    assert result == {'batchItemFailures': []}
    assert len(bus.ids()) == 40
    assert set(bus.ids().values()) == {1}


def test_an_outage_for_one_call_is_retried_within_the_invocation(api, create_job, stream_records):
    lifecycle(api, create_job, count=5)
    bus = FakeEventBridge(outages=1)
    publisher = EventBridgePublisher('bus', bus, sleep=lambda _: None)
    result = handler()({'Records': stream_records()}, LambdaContext(), events_publisher=publisher)
    assert result == {'batchItemFailures': []}
    assert len(bus.ids()) == 20
    assert set(bus.ids().values()) == {1}


def test_a_long_outage_fails_the_batch_and_redelivery_yields_the_same_ids(api, create_job, stream_records):
    lifecycle(api, create_job, count=2)
    records = stream_records()
    # GIVEN EventBridge is down for longer than the publisher retries
    down = FakeEventBridge(outages=100)
    publisher = EventBridgePublisher('bus', down, sleep=lambda _: None)
    # THEN the invocation fails as a whole: Lambda delivers the batch again (bisecting it)
    with pytest.raises(BatchProcessingError, match='All records failed'):
        handler()({'Records': records}, LambdaContext(), events_publisher=publisher)
    assert len(down.calls) == 5  # every attempt was made before giving up
    # WHEN the records come again and EventBridge is back, delivered twice over
    up = FakeEventBridge()
    publisher = EventBridgePublisher('bus', up)
    handler()({'Records': records}, LambdaContext(), events_publisher=publisher)
    handler()({'Records': records}, LambdaContext(), events_publisher=publisher)
    # THEN the same events came out, with the same ids each time
    assert all(count == 2 for count in up.ids().values())
    assert len(up.ids()) == 8


def test_a_poison_record_is_reported_and_the_rest_still_publish(api, create_job, stream_records):
    lifecycle(api, create_job, count=2)
    records = stream_records()
    poison = records[2]
    del poison['dynamodb']['NewImage']['accountId']  # an item no event can be made of
    bus = FakeEventBridge()
    result = handler()({'Records': records}, LambdaContext(), events_publisher=EventBridgePublisher('bus', bus))
    assert result == {'batchItemFailures': [{'itemIdentifier': poison['dynamodb']['SequenceNumber']}]}
    published = {json.loads(entry['Detail'])['context']['jobId'] for entry in bus.accepted}
    assert len(published) == 2
    assert len(bus.accepted) == 8 - len(handler_events(poison))


def handler_events(record):
    """How many events the poisoned record would have had."""
    return ['job:updated'] if record['eventName'] == 'MODIFY' else ['job:created', 'job:ready']


def test_items_that_are_not_jobs_publish_nothing(dynamodb, stream_records):
    from jobs_core.keys import ApiKeyStore

    ApiKeyStore('jobs-test', dynamodb).issue('dev')
    bus = FakeEventBridge()
    result = handler()(
        {'Records': stream_records()}, LambdaContext(), events_publisher=EventBridgePublisher('bus', bus)
    )
    assert result == {'batchItemFailures': []}
    assert bus.calls == []
