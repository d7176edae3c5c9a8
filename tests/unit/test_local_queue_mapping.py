"""The local SQS event source mapping, driven with a fake queue and function."""

import json
from typing import Any

import pytest

from jobs_local.patterns import parse
from jobs_local.queue_mapping import QueueMapping, QueueMappingConfig, sqs_record

QUEUE = 'arn:aws:sqs:us-east-1:123456789012:jobs-local-EventStoreQueue'


def message(number: int, body: Any = None) -> dict[str, Any]:
    return {
        'MessageId': f'm{number}',
        'ReceiptHandle': f'r{number}',
        'MD5OfBody': 'md5',
        'Body': json.dumps(body if body is not None else {'n': number}),
        'Attributes': {'ApproximateReceiveCount': '1', 'SentTimestamp': '1767225600000', 'SenderId': 'AIDA'},
    }


class FakeQueue:
    def __init__(self, *messages: dict[str, Any]) -> None:
        self.waiting = list(messages)
        self.deleted: list[str] = []
        self.retried: list[str] = []
        self.receives: list[tuple[int, int]] = []

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        self.receives.append((max_messages, wait_seconds))
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def delete(self, receipt_handles: list[str]) -> None:
        self.deleted += receipt_handles

    def retry_later(self, receipt_handles: list[str]) -> None:
        self.retried += receipt_handles


class Harness:
    def __init__(self, queue: FakeQueue, answer=None, **config: Any) -> None:
        self.queue = queue
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: None)
        self.now = 0.0
        self.mapping = QueueMapping(
            QueueMappingConfig(**({'function_name': 'EventStoreFunction', 'queue_arn': QUEUE} | config)),
            queue,
            self.invoke,
            wait=self.wait,
            clock=lambda: self.now,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.answer(event)

    def wait(self, seconds: float) -> bool:
        self.now += max(seconds, 0.05)
        return False

    def batches(self) -> list[list[str]]:
        return [[record['messageId'] for record in event['Records']] for event in self.events]


def test_a_batch_that_succeeds_is_deleted():
    harness = Harness(FakeQueue(message(1), message(2)))
    harness.mapping.poll_once()
    assert harness.batches() == [['m1', 'm2']]
    assert harness.queue.deleted == ['r1', 'r2']
    assert harness.queue.retried == []


def test_the_first_poll_is_short_and_the_next_ones_long():
    harness = Harness(FakeQueue())
    harness.mapping.poll_once()
    harness.mapping.poll_once()
    assert [wait for _, wait in harness.queue.receives] == [0, 1]


def test_reported_failures_stay_on_the_queue_and_the_rest_is_deleted():
    answer = lambda event: {'batchItemFailures': [{'itemIdentifier': 'm2'}]}  # noqa: E731
    harness = Harness(FakeQueue(message(1), message(2), message(3)), answer, report_batch_item_failures=True)
    harness.mapping.poll_once()
    assert harness.queue.deleted == ['r1', 'r3']
    assert harness.queue.retried == ['r2']


def test_a_function_error_leaves_the_whole_batch_on_the_queue():
    def answer(event):
        raise RuntimeError('down')

    harness = Harness(FakeQueue(message(1), message(2)), answer, report_batch_item_failures=True)
    harness.mapping.poll_once()
    assert harness.queue.deleted == []
    assert harness.queue.retried == ['r1', 'r2']


@pytest.mark.parametrize(
    'response',
    [
        {'batchItemFailures': [{'itemIdentifier': 'not-in-batch'}]},
        {'batchItemFailures': [{'itemIdentifier': ''}]},
        {'batchItemFailures': [{}]},
    ],
)
def test_a_malformed_response_leaves_the_whole_batch(response):
    harness = Harness(FakeQueue(message(1), message(2)), lambda event: response, report_batch_item_failures=True)
    harness.mapping.poll_once()
    assert harness.queue.retried == ['r1', 'r2']


def test_without_report_batch_item_failures_the_response_is_ignored():
    answer = lambda event: {'batchItemFailures': [{'itemIdentifier': 'm1'}]}  # noqa: E731
    harness = Harness(FakeQueue(message(1)), answer)
    harness.mapping.poll_once()
    assert harness.queue.deleted == ['r1']


def test_messages_the_filters_drop_are_deleted_without_an_invocation():
    filters = (parse('{"body": {"detail-type": ["job:ready"]}}'),)
    queue = FakeQueue(message(1, {'detail-type': 'job:ready'}), message(2, {'detail-type': 'job:created'}))
    harness = Harness(queue, filters=filters)
    harness.mapping.poll_once()
    assert harness.batches() == [['m1']]
    assert sorted(harness.queue.deleted) == ['r1', 'r2']


def test_a_body_that_is_not_json_is_filtered_as_text():
    plain = message(1) | {'Body': 'hello'}
    harness = Harness(FakeQueue(plain), filters=(parse('{"body": ["hello"]}'),))
    harness.mapping.poll_once()
    assert harness.batches() == [['m1']]


def test_the_batching_window_gathers_more_messages_up_to_the_batch_size():
    # GIVEN 25 messages, a batch size of 20 and a window
    queue = FakeQueue(*(message(number) for number in range(25)))
    harness = Harness(queue, batch_size=20, batching_window_seconds=1.0)

    # WHEN it polls twice
    harness.mapping.poll_once()
    harness.mapping.poll_once()

    # THEN the first batch is full (more than one ReceiveMessage) and the second has the rest
    assert [len(batch) for batch in harness.batches()] == [20, 5]
    assert all(size <= 10 for size, _ in queue.receives)


def test_an_sqs_message_becomes_the_record_lambda_delivers():
    raw = message(1) | {
        'MessageAttributes': {
            'Kind': {'StringValue': 'x', 'DataType': 'String'},
            'Blob': {'BinaryValue': b'\x01', 'DataType': 'Binary'},
        },
        'MD5OfMessageAttributes': 'attrs-md5',
    }
    record = sqs_record(raw, QUEUE, 'us-east-1')
    assert record == {
        'messageId': 'm1',
        'receiptHandle': 'r1',
        'body': '{"n": 1}',
        'attributes': {'ApproximateReceiveCount': '1', 'SentTimestamp': '1767225600000', 'SenderId': 'AIDA'},
        'messageAttributes': {
            'Kind': {'stringValue': 'x', 'stringListValues': [], 'binaryListValues': [], 'dataType': 'String'},
            'Blob': {'binaryValue': 'AQ==', 'stringListValues': [], 'binaryListValues': [], 'dataType': 'Binary'},
        },
        'md5OfBody': 'md5',
        'eventSource': 'aws:sqs',
        'eventSourceARN': QUEUE,
        'awsRegion': 'us-east-1',
        'md5OfMessageAttributes': 'attrs-md5',
    }
