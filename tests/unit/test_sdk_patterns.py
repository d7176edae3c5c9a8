"""listener.event_patterns() checked against EventBridge itself (moto evaluates patterns in process):
a rule with the listener's pattern on a bus, an SQS queue as its target, a corpus of real envelopes
put on the bus. Whatever the listener's own filter accepts must be delivered (never narrower); where
the filter is expressible, nothing else is (the narrowest)."""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobs_sdk import JobsClient, Listener
from jobs_sdk.patterns import event_patterns, glob_matcher
from tests.unit.sdk_fixtures import envelope

BUS = 'jobs-test'

CORPUS = [
    envelope('job:created', job='workbook:export', job_id='us_jb_1', status='created'),
    envelope('job:ready', job='workbook:export', job_id='us_jb_1', context={'workbook_id': 'us_wb_1'}),
    envelope('job:ready', job='workbook:export', job_id='us_jb_2', isPart=True),
    envelope('job:ready', job='sheet:export', job_id='us_jb_3', context={'sheet_id': 'us_sh_1'}),
    envelope('job:ready', job='file:extract', job_id='us_jb_4', context={'file_id': 'us_fl_1'}),
    envelope('job:ready', job='file:extract-plugin-zip', job_id='us_jb_5'),
    envelope('job:ready', job='workbook:map', job_id='us_jb_6', input={'region': 'eu'}),
    envelope('job:updated', job='workbook:export', job_id='us_jb_1', status='executing', progress=40),
    envelope('job:completed', job='workbook:export', job_id='us_jb_1', status='complete',
             context={'workbook_id': 'us_wb_1'}),
    envelope('job:completed', job='sheet:export', job_id='us_jb_3', status='complete'),
    envelope('job:failed', job='file:extract', job_id='us_jb_4', status='failed'),
    envelope('job:outcome-acknowledged', job='workbook:export', job_id='us_jb_1', status='complete'),
    envelope('job:parts-completed', job='workbook:export', job_id='us_jb_7', status='executing',
             parts={'total': 2, 'completed': 2, 'failed': 0, 'canceled': 0}),
    envelope('job:deleted', job='space:configure', job_id='us_jb_8'),
]  # fmt: skip


@pytest.fixture
def bus() -> Iterator[Callable[[list[dict[str, Any]]], Counter]]:
    """Puts the corpus on a bus whose rule has `patterns`; returns how often each event id arrived."""
    with mock_aws():
        events, sqs = boto3.client('events'), boto3.client('sqs')
        events.create_event_bus(Name=BUS)

        def deliver(patterns: list[dict[str, Any]]) -> Counter:
            queue = sqs.create_queue(QueueName=f'q{len(sqs.list_queues().get("QueueUrls", []))}')['QueueUrl']
            arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
            for index, pattern in enumerate(patterns):
                rule = f'{queue.rsplit("/", 1)[1]}-{index}'
                events.put_rule(Name=rule, EventBusName=BUS, EventPattern=json.dumps(pattern))
                events.put_targets(Rule=rule, EventBusName=BUS, Targets=[{'Id': 'listener', 'Arn': arn}])
            for item in CORPUS:
                entry = {'Source': 'jobs', 'DetailType': item['topic'], 'Detail': json.dumps(item), 'EventBusName': BUS}
                assert events.put_events(Entries=[entry])['FailedEntryCount'] == 0
            arrived: Counter = Counter()
            while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get('Messages', []):
                for message in messages:
                    arrived[json.loads(message['Body'])['detail']['id']] += 1
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message['ReceiptHandle'])
            for index in range(len(patterns)):  # rules are per test: leave the bus clean
                rule = f'{queue.rsplit("/", 1)[1]}-{index}'
                events.remove_targets(Rule=rule, EventBusName=BUS, Ids=['listener'])
                events.delete_rule(Name=rule, EventBusName=BUS)
            return arrived

        yield deliver


def accepted(listener: Listener) -> set[str]:
    """The corpus events the listener's own filters accept."""
    return {item['id'] for item in CORPUS if listener.dispatch(item)}


def listener_with(*registrations: tuple[Any, ...]) -> Listener:
    listener = Listener(JobsClient('http://jobs.test', 'sk_test'))
    for topics, *event_filter in registrations:
        listener.on(topics, *event_filter)(lambda event: None)
    return listener


EXACT = {
    'one job': [('job:ready', {'job': 'workbook:export'})],
    'a list of jobs': [('job:ready', {'job': ['sheet:export', 'workbook:export']})],
    'a topic glob': [('job:*',)],
    'a topic list': [(['job:completed', 'job:failed'],)],
    'a value prefix': [('job:ready', {'job': 'file:extract*'})],
    'a value wildcard': [('*:ready', {'job': '*:export'})],
    'two keys': [('job:ready', {'job': 'workbook:export', 'isPart': False})],
    'a dotted key': [('job:completed', {'context.workbookId': 'us_wb_1'})],
    'a missing field': [('job:ready', {'workbookId': None})],
    'a key in two places': [('job:ready', {'domain': 'workbook'})],
    'a number': [('job:*', {'progress': 40})],
    'nested parts': [('job:parts-completed', {'parts': {'completed': 2}})],
    'everything': [('**',)],
    'two registrations': [
        ('job:ready', {'job': 'workbook:export'}),
        ('job:failed',),
        ('job:completed', {'job': 'sheet:*'}),
    ],
    'two registrations on one field': [
        ('job:ready', {'job': 'sheet:export'}),
        ('job:completed', {'job': 'sheet:export'}),
    ],
}


@pytest.mark.parametrize('registrations', EXACT.values(), ids=EXACT.keys())
def test_expressible_filters_deliver_exactly_what_the_listener_accepts(bus, registrations):
    listener = listener_with(*registrations)
    arrived = bus(listener.event_patterns())
    assert set(arrived) == accepted(listener)
    assert set(arrived.values()) <= {1}  # one rule: every event at most once


BROADER = {
    'a question mark': ([('job:rea?y', {'job': 'workbook:*'})], False),
    'a double star': ([('job:ready', {'job': 'file:**'})], False),
    'a key glob': ([('job:ready', {'payload.*': 'sheet:export'})], True),
    'a key the envelope does not define': ([('job:ready', {'region': 'eu'})], True),
}


@pytest.mark.parametrize(('registrations', 'strictly'), BROADER.values(), ids=BROADER.keys())
def test_inexpressible_filters_fall_back_to_broader_patterns(bus, registrations, strictly):
    listener = listener_with(*registrations)
    arrived = bus(listener.event_patterns())
    assert accepted(listener) <= set(arrived)
    assert (accepted(listener) != set(arrived)) is strictly


def test_a_bare_key_is_not_looked_for_in_the_jobs_input(bus):
    # GIVEN a job whose free-form input happens to have a key named like a filter key
    listener = listener_with(('job:ready', {'job': 'workbook:export'}))
    stray = envelope('job:ready', job='workbook:map', job_id='us_jb_9', input={'job': 'workbook:export'})
    # THEN Flatfile's filter accepts it (the key is anywhere), but the pattern looks at payload.job only:
    # the one documented place where the pattern is narrower than the filter
    assert listener.dispatch(stray) == 1
    assert event_patterns([(['job:ready'], [{'job': 'workbook:export'}])])[0]['detail'] == {
        'payload': {'job': ['workbook:export']}
    }


def test_a_child_node_filter_narrows_the_pattern(bus):
    listener = listener_with()
    listener.filter({'isPart': True}).on('job:ready', lambda event: None)
    arrived = bus(listener.event_patterns())
    assert set(arrived) == accepted(listener) == {CORPUS[2]['id']}


def test_a_listener_with_middleware_gets_everything():
    listener = listener_with(('job:ready', {'job': 'workbook:export'}))
    listener.use(lambda event, call_next: call_next())
    assert listener.event_patterns() == [{'source': ['jobs']}]


def test_a_listener_without_registrations_wants_nothing():
    assert listener_with().event_patterns() == []


def test_the_shape_of_the_common_cases():
    assert listener_with(('job:ready', {'job': 'workbook:export'})).event_patterns() == [
        {'source': ['jobs'], 'detail-type': ['job:ready'], 'detail': {'payload': {'job': ['workbook:export']}}}
    ]
    assert listener_with(('job:ready',), ('job:completed',)).event_patterns() == [
        {'source': ['jobs'], 'detail-type': ['job:ready', 'job:completed']}
    ]
    assert event_patterns([(['job:*'], [{'sheetId': None}])]) == [
        {
            'source': ['jobs'],
            'detail-type': [{'prefix': 'job:'}],
            'detail': {'context': {'sheetId': [None, {'exists': False}]}},
        }
    ]


@pytest.mark.parametrize(
    ('glob', 'matcher'),
    [
        ('job:ready', 'job:ready'),
        ('job:*', {'prefix': 'job:'}),
        ('*', {'wildcard': '*'}),
        ('*:export', {'wildcard': '*:export'}),
        ('job:**', {'prefix': 'job'}),
        ('**', None),
        ('job:rea?y', {'prefix': 'job:rea'}),
        ('?', None),
    ],
)
def test_glob_matchers(glob, matcher):
    assert glob_matcher(glob) == matcher
