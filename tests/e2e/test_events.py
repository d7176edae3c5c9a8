"""The event path of the local stack over real HTTP: stream → publisher → bus → rules → queues → event store,
gates (predecessors, schedules, sequential parts), and listeners subscribed with `jobs dev --listener`.

What reached the store is read through the Events API. Every wait polls an observable outcome (the
Events API, a job's status, a queue) until a bounded deadline: that is synchronisation, not a sleep.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from tests.e2e.conftest import RunningStack, run_cli

pytestmark = pytest.mark.xdist_group('localstack')

WITHIN_SECONDS = 30
CUSTOM = {'type': 'workbook', 'operation': 'e2e-events', 'source': 'us_wb_e2eevents1'}  # not a system job
LIFECYCLE = ['job:created', 'job:ready', 'job:updated', 'job:completed', 'job:outcome-acknowledged']


def eventually(observe: Callable[[], Any], done: Callable[[Any], bool], what: str) -> Any:
    """Poll `observe` until `done` holds for what it returns; fail with the last observation at the deadline."""
    deadline = time.monotonic() + WITHIN_SECONDS
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f'{what} within {WITHIN_SECONDS} s; last seen: {seen!r}')
        time.sleep(0.1)  # the next poll


def events_of(client: httpx.Client, job_id: str, **query: str) -> list[dict[str, Any]]:
    response = client.get('/v1/events', params={'jobId': job_id, 'pageSize': '100', **query})
    assert response.status_code == 200, response.text
    return list(response.json()['data'])


def topics_of(events: list[dict[str, Any]]) -> list[str]:
    return [event['topic'] for event in sorted(events, key=lambda event: (event['version'], event['topic']))]


def wait_for_topics(client: httpx.Client, job_id: str, *topics: str) -> list[dict[str, Any]]:
    wanted = Counter(topics)
    return eventually(
        lambda: events_of(client, job_id),
        lambda events: not wanted - Counter(event['topic'] for event in events),
        f'events {sorted(wanted)} of {job_id} in the store',
    )


def wait_for_status(client: httpx.Client, job_id: str, status: str) -> dict[str, Any]:
    return eventually(
        lambda: client.get(f'/v1/jobs/{job_id}').json()['data'],
        lambda job: job['status'] == status,
        f'{job_id} {status}',
    )


@pytest.fixture
def create(client: httpx.Client) -> Callable[..., dict[str, Any]]:
    def make(**fields: Any) -> dict[str, Any]:
        response = client.post('/v1/jobs', json={**CUSTOM, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json()['data'])

    return make


def post(client: httpx.Client, path: str, body: Any = None) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()['data'])


# ---------------------------------------------------------------- stream → publisher → bus → store
def test_a_jobs_lifecycle_reaches_the_event_store_once_per_change(client, create):
    # GIVEN a job driven through its whole lifecycle over HTTP
    job = create()
    post(client, f'/v1/jobs/{job["id"]}/execute')
    post(client, f'/v1/jobs/{job["id"]}/ack', {'info': 'working', 'progress': 10})
    post(client, f'/v1/jobs/{job["id"]}/complete', {'outcome': {'message': 'done', 'acknowledge': True}})
    post(client, f'/v1/jobs/{job["id"]}/outcome/ack')

    # WHEN its events have gone through the stream, the publisher, the bus and the store's queue
    events = wait_for_topics(client, job['id'], *LIFECYCLE)

    # THEN each change is in the store exactly once, in the order of the job's versions
    assert topics_of(events) == LIFECYCLE
    assert len({event['id'] for event in events}) == len(events)
    created = next(event for event in events if event['topic'] == 'job:created')
    assert created['domain'] == 'job'
    assert created['context']['jobId'] == job['id']
    assert created['payload']['job'] == 'workbook:e2e-events'
    assert created['version'] == 1
    # ...and a later look finds nothing more (no redelivery duplicated an event)
    assert topics_of(events_of(client, job['id'])) == LIFECYCLE


def test_an_event_of_the_store_can_be_read_and_acknowledged(client, create):
    job = create(trigger='immediate')
    (created, *_) = wait_for_topics(client, job['id'], 'job:created')

    response = client.get(f'/v1/events/{created["id"]}')
    assert response.status_code == 200, response.text
    assert response.json()['data']['id'] == created['id']
    acknowledged = post(client, f'/v1/events/{created["id"]}/ack')
    assert acknowledged['acknowledgedAt']


def test_the_events_api_filters_by_topic_job_and_time_and_pages_with_a_cursor(client, create):
    # GIVEN a job with several events in the store
    job = create()
    post(client, f'/v1/jobs/{job["id"]}/execute')
    post(client, f'/v1/jobs/{job["id"]}/ack')
    post(client, f'/v1/jobs/{job["id"]}/complete')
    everything = wait_for_topics(client, job['id'], 'job:created', 'job:ready', 'job:updated', 'job:completed')

    # THEN topic and jobId narrow the list
    only_ready = events_of(client, job['id'], topic='job:ready')
    assert [event['topic'] for event in only_ready] == ['job:ready']
    assert events_of(client, 'us_jb_nosuchjob0000') == []

    # ...since keeps the events at or after a time
    ordered = sorted(everything, key=lambda event: event['createdAt'])
    later = events_of(client, job['id'], since=ordered[-1]['createdAt'])
    assert later
    assert all(event['createdAt'] >= ordered[-1]['createdAt'] for event in later)
    assert len(later) < len(everything)

    # ...and a page size of one walks every event with the cursor, each once
    seen, token = [], None
    for _ in range(len(everything) + 1):
        query = {'jobId': job['id'], 'pageSize': '1'} | ({'pageToken': token} if token else {})
        page = client.get('/v1/events', params=query).json()
        seen += [event['id'] for event in page['data']]
        token = page['pagination'].get('nextPageToken')
        if not token:
            break
    assert sorted(seen) == sorted(event['id'] for event in everything)


def test_events_are_scoped_to_the_callers_environment(client, other_client, create):
    job = create(trigger='immediate')
    wait_for_topics(client, job['id'], 'job:created')
    assert other_client.get('/v1/events', params={'jobId': job['id']}).json()['data'] == []


# ---------------------------------------------------------------- gates: predecessors
def test_a_waiting_job_becomes_ready_when_its_predecessor_completes(client, create):
    # GIVEN a job waiting on a ready one
    first = create(trigger='immediate')
    waiting = create(trigger='immediate', predecessorIds=[first['id']])
    assert waiting['status'] == 'waiting'

    # WHEN the predecessor completes over HTTP
    post(client, f'/v1/jobs/{first["id"]}/ack')
    post(client, f'/v1/jobs/{first["id"]}/complete')

    # THEN the gates function releases the waiting job, as its trigger says
    released = wait_for_status(client, waiting['id'], 'ready')
    assert not released.get('waitingOn')
    wait_for_topics(client, waiting['id'], 'job:ready')


def test_a_waiting_job_fails_naming_its_predecessor_when_that_fails(client, create):
    first = create(trigger='immediate')
    waiting = create(trigger='immediate', predecessorIds=[first['id']])

    post(client, f'/v1/jobs/{first["id"]}/fail', {'outcome': {'message': 'broken'}})

    failed = wait_for_status(client, waiting['id'], 'failed')
    assert first['id'] in failed['outcome']['message']


# ---------------------------------------------------------------- gates: schedules
def test_a_scheduled_job_becomes_ready_once_its_time_has_come(client, create):
    # GIVEN a job scheduled two seconds ahead
    at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    job = create(trigger='immediate', scheduledAt=at.isoformat().replace('+00:00', 'Z'))
    assert job['status'] == 'scheduled'

    # WHEN the one-time schedule the gates function made fires
    ready = wait_for_status(client, job['id'], 'ready')

    # THEN the job went on as its trigger says, not before its time
    assert datetime.fromisoformat(ready['updatedAt'].replace('Z', '+00:00')) >= at
    events = wait_for_topics(client, job['id'], 'job:created', 'job:scheduled', 'job:ready')
    assert topics_of(events)[-1] == 'job:ready'


# ---------------------------------------------------------------- split jobs
def parts_of(client: httpx.Client, parent: str) -> list[dict[str, Any]]:
    response = client.get('/v1/jobs', params={'parentId': parent, 'sortDirection': 'asc', 'pageSize': '100'})
    assert response.status_code == 200, response.text
    return sorted(response.json()['data'], key=lambda part: part['part'])


def test_sequential_parts_run_one_after_another_and_the_parent_hears_once(client, create):
    # GIVEN an executing job split into three sequential parts
    parent = create(trigger='immediate')
    post(client, f'/v1/jobs/{parent["id"]}/ack')
    post(client, f'/v1/jobs/{parent["id"]}/split', {'parts': 3})
    parts = parts_of(client, parent['id'])
    assert [part['status'] for part in parts] == ['ready', 'waiting', 'waiting']

    # WHEN each ready part completes, THEN the next one becomes ready and the one after still waits
    for index, part in enumerate(parts):
        wait_for_status(client, part['id'], 'ready')
        if index + 1 < len(parts):
            assert client.get(f'/v1/jobs/{parts[-1]["id"]}').json()['data']['status'] == 'waiting'
        post(client, f'/v1/jobs/{part["id"]}/ack')
        post(client, f'/v1/jobs/{part["id"]}/complete')

    # THEN the parent's job:parts-completed is stored exactly once, with the counts
    events = wait_for_topics(client, parent['id'], 'job:parts-completed')
    finished = [event for event in events if event['topic'] == 'job:parts-completed']
    assert len(finished) == 1
    assert finished[0]['payload']['parts'] == {'total': 3, 'completed': 3, 'failed': 0, 'canceled': 0}


# ---------------------------------------------------------------- listeners (jobs dev --listener)
def test_a_listener_gets_the_eventbridge_envelope_and_drives_the_job(client, create):
    # GIVEN the e2e listener file's `completer`, subscribed to ready workbook:e2e-listen jobs
    job = create(operation='e2e-listen', trigger='immediate')

    # WHEN the job's job:ready goes through the bus to the listener
    done = wait_for_status(client, job['id'], 'complete')

    # THEN the listener saw the whole EventBridge event, with its Lambda-like context
    keys = set(done['outcome']['message'].split(','))
    assert {'version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'} <= keys
    assert done['info'] == 'jobs-local-listener-e2e_listener.completer'


@pytest.fixture(scope='module')
def moto_sqs(stack: RunningStack) -> Any:
    found = re.search(r'AWS \(moto\) endpoint: (http://\S+)', stack.output())
    assert found, stack.output()
    return boto3.client('sqs', endpoint_url=found.group(1), region_name='us-east-1')


def test_a_failing_listener_is_tried_three_times_then_its_event_is_dead_lettered(client, create, moto_sqs):
    # GIVEN the listener that always raises, subscribed to ready workbook:e2e-explode jobs
    job = create(operation='e2e-explode', trigger='immediate')
    url = moto_sqs.get_queue_url(QueueName='jobs-local-listener-e2e_listener-exploder-dlq')['QueueUrl']

    # WHEN its event has been through every attempt
    def dead_letters() -> list[dict[str, Any]]:
        response = moto_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=['All'])
        return [
            message
            for message in response.get('Messages', [])
            if json.loads(message['Body'])['detail']['context']['jobId'] == job['id']
        ]

    (message,) = eventually(dead_letters, bool, f'the event of {job["id"]} in the dead-letter queue')

    # THEN it was tried three times (once and two retries), and the dead letter says why it failed
    assert client.get(f'/v1/jobs/{job["id"]}').json()['data']['info'] == 'attempt 3'
    assert 'boom' in message['MessageAttributes']['ErrorMessage']['StringValue']
    assert json.loads(message['Body'])['detail-type'] == 'job:ready'


def test_jobs_dev_with_a_file_without_listeners_fails_in_one_line(tmp_path):
    empty = tmp_path / 'nothing.py'
    empty.write_text('VALUE = 1\n')
    result = run_cli('dev', '--listener', str(empty), PORT='0')
    # THEN it stops with one error line (after the startup notices) and no traceback
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, result.stderr
    assert 'no listener' in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert 'Traceback' not in result.stderr + result.stdout


# ---------------------------------------------------------------- faults, injected through moto
@pytest.fixture(scope='module')
def moto_dynamodb(stack: RunningStack) -> Any:
    found = re.search(r'AWS \(moto\) endpoint: (http://\S+)', stack.output())
    assert found, stack.output()
    return boto3.client('dynamodb', endpoint_url=found.group(1), region_name='us-east-1')


def test_a_job_item_the_publisher_cannot_read_lands_in_the_on_failure_queue_and_the_stream_goes_on(
    client, create, moto_dynamodb, moto_sqs
):
    # GIVEN a job item without the fields an event needs, written straight into the table
    poison = f'us_jb_poison{time.monotonic_ns()}'
    moto_dynamodb.put_item(
        TableName='jobs-local-JobsTable',
        Item={'pk': {'S': f'POISON#{poison}'}, 'sk': {'S': 'JOB'}, 'entity': {'S': 'job'}, 'id': {'S': poison}},
    )
    url = moto_sqs.get_queue_url(QueueName='jobs-local-PublisherFailureQueue')['QueueUrl']

    # WHEN the publisher has failed on it through every retry
    def on_failure_records() -> list[dict[str, Any]]:
        response = moto_sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(message['Body']) for message in response.get('Messages', [])]

    (record,) = eventually(on_failure_records, bool, 'the on-failure record of the poison item')

    # THEN its on-failure record says why and where, as Lambda writes it
    assert record['requestContext']['condition'] == 'RetryAttemptsExhausted'
    assert record['requestContext']['functionArn'].endswith(':function:jobs-local-PublisherFunction')
    assert record['requestContext']['approximateInvokeCount'] == 9  # MaximumRetryAttempts 8, plus the first
    info = record['DDBStreamBatchInfo']
    assert info['batchSize'] == 1
    assert info['startSequenceNumber'] == info['endSequenceNumber']
    assert ':table/jobs-local-JobsTable/stream/' in info['streamArn']

    # ...and the changes after it still reach the store
    job = create(trigger='immediate')
    wait_for_topics(client, job['id'], 'job:created', 'job:ready')


def test_a_message_the_event_store_keeps_failing_on_goes_to_its_dead_letter_queue(moto_sqs):
    # GIVEN a message on the event store's queue that is not an EventBridge event
    queue = moto_sqs.get_queue_url(QueueName='jobs-local-EventStoreQueue')['QueueUrl']
    dead_letters = moto_sqs.get_queue_url(QueueName='jobs-local-EventStoreDeadLetterQueue')['QueueUrl']
    body = json.dumps({'not': 'an event', 'nonce': time.monotonic_ns()})
    moto_sqs.send_message(QueueUrl=queue, MessageBody=body)

    # WHEN the event store function has failed on it maxReceiveCount times
    def dead() -> list[dict[str, Any]]:
        response = moto_sqs.receive_message(
            QueueUrl=dead_letters, MaxNumberOfMessages=10, MessageSystemAttributeNames=['All']
        )
        return [message for message in response.get('Messages', []) if message['Body'] == body]

    (message,) = eventually(dead, bool, 'the poison message in the dead-letter queue')

    # THEN SQS moved it there after the RedrivePolicy's five receives
    assert int(message['Attributes']['ApproximateReceiveCount']) > 5
