"""The local DynamoDB stream event source mapping, driven with a fake shard, function and destination."""

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobs_local.patterns import parse
from jobs_local.stream_mapping import StreamMapping, StreamMappingConfig, lambda_record

STREAM = 'arn:aws:dynamodb:us-east-1:123456789012:table/jobs-local-JobsTable/stream/2026-01-01T00:00:00.000'
FUNCTION = 'arn:aws:lambda:us-east-1:123456789012:function:jobs-local-PublisherFunction'
FAILURES = 'arn:aws:sqs:us-east-1:123456789012:jobs-local-PublisherFailureQueue'
SHARD = 'shardId-1'


def record(sequence: int, entity: str = 'job', event_name: str = 'INSERT') -> dict[str, Any]:
    return {
        'eventID': f'e{sequence}',
        'eventName': event_name,
        'eventVersion': '1.1',
        'eventSource': 'aws:dynamodb',
        'awsRegion': 'us-east-1',
        'dynamodb': {
            'ApproximateCreationDateTime': 1_767_225_600 + sequence,
            'Keys': {'pk': {'S': f'K{sequence}'}},
            'NewImage': {'pk': {'S': f'K{sequence}'}, 'entity': {'S': entity}},
            'SequenceNumber': str(1000 + sequence),
            'SizeBytes': 10,
            'StreamViewType': 'NEW_AND_OLD_IMAGES',
        },
        'eventSourceARN': STREAM,
    }


def sequence_of(item: dict[str, Any]) -> int:
    return int(item['dynamodb']['SequenceNumber']) - 1000


class FakeShard:
    """A shard whose records appear when the test adds them; each read returns the new ones."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.read_up_to = 0

    def add(self, *sequences: int, **options: Any) -> None:
        self.records += [record(sequence, **options) for sequence in sequences]

    def shards(self) -> list[str]:
        return [SHARD]

    def read(self, shard_id: str) -> list[dict[str, Any]]:
        fresh = self.records[self.read_up_to :]
        self.read_up_to = len(self.records)
        return fresh


class FakeFunction:
    """Records each batch it gets; `answer(batch)` decides what it returns or raises."""

    def __init__(self, answer=None) -> None:
        self.batches: list[list[int]] = []
        self.answer = answer or (lambda batch: None)

    def __call__(self, event: dict[str, Any]) -> Any:
        batch = [sequence_of(item) for item in event['Records']]
        self.batches.append(batch)
        return self.answer(batch)


def failing_on(*poison: int):
    def answer(batch: list[int]) -> None:
        if any(sequence in poison for sequence in batch):
            raise RuntimeError(f'poison {poison}')

    return answer


def reporting(*poison: int):
    """Like the publisher: reports failed records, and raises when all of them failed."""

    def answer(batch: list[int]) -> dict[str, Any]:
        failed = [sequence for sequence in batch if sequence in poison]
        if failed and len(failed) == len(batch):
            raise RuntimeError('all records failed')
        return {'batchItemFailures': [{'itemIdentifier': str(1000 + sequence)} for sequence in failed]}

    return answer


class Harness:
    def __init__(self, function: FakeFunction, **config: Any) -> None:
        self.shard = FakeShard()
        self.function = function
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.waits: list[float] = []
        self.now = 0.0
        self.stop_after_waits: int | None = None
        defaults: dict[str, Any] = {
            'function_name': 'PublisherFunction',
            'function_arn': FUNCTION,
            'stream_arn': STREAM,
            'batch_size': 100,
            'maximum_retry_attempts': 2,
            'on_failure_arn': FAILURES,
        }
        self.mapping = StreamMapping(
            StreamMappingConfig(**(defaults | config)),
            self.shard,
            function,
            lambda arn, body: self.sent.append((arn, body)),
            retry_delay=lambda retries: 0.1 * (retries + 1),
            wait=self.wait,
            clock=lambda: self.now,
        )

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.stop_after_waits is not None and len(self.waits) >= self.stop_after_waits

    def discarded(self) -> list[list[int]]:
        info = [body['DDBStreamBatchInfo'] for _, body in self.sent]
        return [list(range(int(i['startSequenceNumber']) - 1000, int(i['endSequenceNumber']) - 1000 + 1)) for i in info]


# ---------------------------------------------------------------- batching and order
def test_records_go_in_order_in_batches_of_batch_size_one_at_a_time():
    # GIVEN five records and a batch size of two
    harness = Harness(FakeFunction(), batch_size=2)
    harness.shard.add(1, 2, 3, 4, 5)

    # WHEN the mapping polls
    harness.mapping.poll_once()

    # THEN the function got them in order, two at a time
    assert harness.function.batches == [[1, 2], [3, 4], [5]]
    assert harness.sent == []


def test_records_the_filters_do_not_match_are_dropped_and_do_not_block():
    filters = (parse('{"dynamodb": {"NewImage": {"entity": {"S": ["job"]}}}}'),)
    harness = Harness(FakeFunction(), filters=filters)
    harness.shard.add(1, 2)
    harness.shard.add(3, entity='apiKey')
    harness.shard.add(4)

    harness.mapping.poll_once()

    assert harness.function.batches == [[1, 2, 4]]


def test_a_batch_waits_for_its_batching_window_unless_it_is_full():
    # GIVEN a one-second window and a batch size of three
    harness = Harness(FakeFunction(), batch_size=3, batching_window_seconds=1.0)
    harness.shard.add(1)

    # WHEN it polls before the window has passed, nothing is invoked
    harness.mapping.poll_once()
    harness.now = 0.5
    harness.shard.add(2)
    harness.mapping.poll_once()
    assert harness.function.batches == []

    # WHEN the window has passed, the gathered records go together
    harness.now = 1.0
    harness.mapping.poll_once()
    assert harness.function.batches == [[1, 2]]

    # and a full batch goes at once, window or not
    harness.shard.add(3, 4, 5)
    harness.mapping.poll_once()
    assert harness.function.batches[-1] == [3, 4, 5]


def test_records_arriving_later_are_delivered_by_later_polls():
    harness = Harness(FakeFunction())
    harness.shard.add(1)
    harness.mapping.poll_once()
    harness.mapping.poll_once()  # nothing new: no invocation
    harness.shard.add(2, 3)
    harness.mapping.poll_once()
    assert harness.function.batches == [[1], [2, 3]]


# ---------------------------------------------------------------- partial batch responses
def test_a_partial_failure_checkpoints_before_the_lowest_failed_record_and_retries_from_it():
    # GIVEN a function that fails record 3 once, then succeeds
    answers = iter([{'batchItemFailures': [{'itemIdentifier': '1004'}, {'itemIdentifier': '1003'}]}, None])
    harness = Harness(FakeFunction(lambda batch: next(answers)), report_batch_item_failures=True)
    harness.shard.add(1, 2, 3, 4, 5)

    harness.mapping.poll_once()

    # THEN the retry starts at record 3, after a retry delay, and nothing is discarded
    assert harness.function.batches == [[1, 2, 3, 4, 5], [3, 4, 5]]
    assert harness.waits == [0.1]
    assert harness.sent == []


def test_without_report_batch_item_failures_a_response_is_not_read():
    harness = Harness(FakeFunction(lambda batch: {'batchItemFailures': [{'itemIdentifier': '1001'}]}))
    harness.shard.add(1, 2)
    harness.mapping.poll_once()
    assert harness.function.batches == [[1, 2]]


@pytest.mark.parametrize(
    'response',
    [
        {'batchItemFailures': [{'itemIdentifier': ''}]},
        {'batchItemFailures': [{'itemIdentifier': None}]},
        {'batchItemFailures': [{'wrongKey': '1001'}]},
        {'batchItemFailures': [{'itemIdentifier': '9999'}]},
        {'batchItemFailures': 'everything'},
    ],
)
def test_a_malformed_partial_response_fails_the_whole_batch(response):
    answers = iter([response, None])
    harness = Harness(FakeFunction(lambda batch: next(answers)), report_batch_item_failures=True)
    harness.shard.add(1, 2)
    harness.mapping.poll_once()
    assert harness.function.batches == [[1, 2], [1, 2]]


@pytest.mark.parametrize('response', [None, {}, {'batchItemFailures': []}, {'batchItemFailures': None}, 'ok'])
def test_an_empty_partial_response_is_a_success(response):
    harness = Harness(FakeFunction(lambda batch: response), report_batch_item_failures=True)
    harness.shard.add(1, 2)
    harness.mapping.poll_once()
    assert harness.function.batches == [[1, 2]]


# ---------------------------------------------------------------- errors, bisection, on-failure
def test_a_function_error_is_retried_then_the_batch_goes_to_the_on_failure_destination():
    # GIVEN a function that always fails on record 2, two retries, no bisection
    harness = Harness(FakeFunction(failing_on(2)), batch_size=2, maximum_retry_attempts=2)
    harness.shard.add(1, 2, 3)

    harness.mapping.poll_once()

    # THEN the batch was tried three times, discarded with its on-failure record, and the shard moved on
    assert harness.function.batches == [[1, 2], [1, 2], [1, 2], [3]]
    assert harness.waits == [0.1, 0.2]
    assert harness.discarded() == [[1, 2]]
    arn, body = harness.sent[0]
    assert arn == FAILURES
    assert body['requestContext']['condition'] == 'RetryAttemptsExhausted'
    assert body['requestContext']['functionArn'] == FUNCTION
    assert body['requestContext']['approximateInvokeCount'] == 3
    assert body['responseContext']['functionError'] == 'Unhandled'
    assert body['version'] == '1.0'
    info = body['DDBStreamBatchInfo']
    assert info == {
        'shardId': SHARD,
        'startSequenceNumber': '1001',
        'endSequenceNumber': '1002',
        'approximateArrivalOfFirstRecord': '2026-01-01T00:00:01Z',
        'approximateArrivalOfLastRecord': '2026-01-01T00:00:02Z',
        'batchSize': 2,
        'streamArn': STREAM,
    }
    json.dumps(body)  # it travels as an SQS message body


def test_bisection_isolates_the_poison_record_without_spending_retries():
    # GIVEN a batch of eight where record 6 always fails, with bisection and two retries
    harness = Harness(FakeFunction(failing_on(6)), bisect_on_error=True, maximum_retry_attempts=2)
    harness.shard.add(*range(1, 9))

    harness.mapping.poll_once()

    # THEN halves are tried until record 6 is alone, it alone is retried and discarded,
    # and every other record was delivered successfully, in order
    batches = harness.function.batches
    assert batches[:4] == [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8], [5, 6]]
    assert batches[4:] == [[5], [6], [6], [6], [7, 8]]
    assert harness.waits == [0.1, 0.2]
    assert harness.discarded() == [[6]]
    assert harness.sent[0][1]['requestContext']['approximateInvokeCount'] == 3


def test_with_partial_responses_and_bisection_the_records_after_a_poison_record_still_succeed():
    # GIVEN the publisher's behaviour: it reports record 3, which always fails
    harness = Harness(
        FakeFunction(reporting(3)), bisect_on_error=True, report_batch_item_failures=True, maximum_retry_attempts=1
    )
    harness.shard.add(1, 2, 3, 4, 5)

    harness.mapping.poll_once()

    # THEN the batch is retried from record 3, the records after it are delivered each time,
    # and what is left when retries run out is discarded to the on-failure destination
    assert harness.function.batches == [[1, 2, 3, 4, 5], [3, 4, 5]]
    assert harness.discarded() == [[3, 4, 5]]
    assert 'functionError' not in harness.sent[0][1]['responseContext']


def test_without_a_destination_a_discarded_batch_is_only_logged(caplog):
    harness = Harness(FakeFunction(failing_on(1)), maximum_retry_attempts=0, on_failure_arn=None)
    harness.shard.add(1, 2)
    harness.mapping.poll_once()
    assert harness.function.batches == [[1, 2]]
    assert 'no OnFailure destination' in caplog.text


def test_with_unlimited_retries_a_failing_batch_blocks_the_shard_until_the_stack_stops():
    # GIVEN unlimited retries and a stack that stops after five retry waits
    harness = Harness(FakeFunction(failing_on(1)), maximum_retry_attempts=-1)
    harness.stop_after_waits = 5
    harness.shard.add(1, 2)

    harness.mapping.poll_once()

    # THEN the batch was retried, never discarded, and the record after it was not delivered past it
    assert harness.function.batches == [[1, 2]] * 5
    assert harness.sent == []


def test_an_on_failure_record_that_cannot_be_sent_is_retried_until_it_is():
    attempts = []

    def flaky_send(arn: str, body: dict[str, Any]) -> None:
        attempts.append(body)
        if len(attempts) < 3:
            raise ConnectionError('queue unreachable')

    harness = Harness(FakeFunction(failing_on(1)), maximum_retry_attempts=0)
    harness.mapping._send_failure = flaky_send
    harness.shard.add(1)
    harness.mapping.poll_once()
    assert len(attempts) == 3
    assert attempts[0] == attempts[2]


# ---------------------------------------------------------------- the record shape
def test_a_get_records_record_becomes_the_record_lambda_delivers():
    # GIVEN a record as botocore parses GetRecords: a datetime, and binary attributes as bytes
    raw = {
        'eventID': 'abc',
        'eventName': 'MODIFY',
        'eventVersion': '1.1',
        'eventSource': 'aws:dynamodb',
        'awsRegion': 'us-east-1',
        'dynamodb': {
            'ApproximateCreationDateTime': datetime(2026, 1, 1, 0, 0, 1, 900_000, tzinfo=UTC),
            'Keys': {'pk': {'S': 'a'}},
            'NewImage': {'pk': {'S': 'a'}, 'blob': {'B': b'\x00\x01'}, 'm': {'M': {'set': {'BS': [b'x']}}}},
            'OldImage': {'pk': {'S': 'a'}, 'n': {'N': '1'}, 'l': {'L': [{'B': b'y'}]}},
            'SequenceNumber': '1001',
            'SizeBytes': 12,
            'StreamViewType': 'NEW_AND_OLD_IMAGES',
        },
    }

    # WHEN it is shaped as Lambda's event record
    shaped = lambda_record(raw, STREAM, 'us-east-1')

    # THEN it has Lambda's keys, epoch seconds rounded down, base64 binaries, and the stream ARN
    assert list(shaped) == [
        'eventID',
        'eventName',
        'eventVersion',
        'eventSource',
        'awsRegion',
        'dynamodb',
        'eventSourceARN',
    ]
    assert shaped['eventSourceARN'] == STREAM
    assert shaped['dynamodb']['ApproximateCreationDateTime'] == 1_767_225_601
    assert shaped['dynamodb']['NewImage']['blob'] == {'B': base64.b64encode(b'\x00\x01').decode()}
    assert shaped['dynamodb']['NewImage']['m'] == {'M': {'set': {'BS': ['eA==']}}}
    assert shaped['dynamodb']['OldImage']['l'] == {'L': [{'B': 'eQ=='}]}
    assert shaped['dynamodb']['OldImage']['n'] == {'N': '1'}
    json.dumps(shaped)
