"""Lambda's DynamoDB stream event source mapping, run by the local stack against moto's stream.

What Lambda does, from the function's `DynamoDB` event in the template:
- reads each shard in order, from TRIM_HORIZON or LATEST, and drops the records its FilterCriteria
  do not match (they count as processed);
- gathers up to BatchSize records, waiting at most MaximumBatchingWindowInSeconds for a fuller batch,
  and invokes the function with `{"Records": [...]}`, one batch of a shard at a time;
- with ReportBatchItemFailures, a response naming failed records checkpoints before the lowest of
  them and retries from there; a malformed response is a failure of the whole batch;
- a function error retries the batch; with BisectBatchOnFunctionError it first splits the batch in
  halves, which costs no retry;
- after MaximumRetryAttempts retries, the records still failing are discarded: a JSON record naming
  them goes to the OnFailure destination (an SQS queue), and the shard moves on past them.

Retries wait a short, configurable delay (Lambda's own back-off is not specified). The mapping is
driven by `poll_once`, with the shard reader, the function and the destination injected, so it can
be tested without AWS.
"""

import base64
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from jobs_local.patterns import matches

log = logging.getLogger('jobs_local.events')


@dataclass(frozen=True)
class StreamMappingConfig:
    function_name: str
    function_arn: str
    stream_arn: str
    region: str = 'us-east-1'
    batch_size: int = 100  # Lambda's defaults for a DynamoDB event source
    batching_window_seconds: float = 0.0
    maximum_retry_attempts: int = -1  # -1: until the record expires (locally: until the stack stops)
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    on_failure_arn: str | None = None
    starting_position: str = 'TRIM_HORIZON'


class ShardReader(Protocol):
    def shards(self) -> list[str]:
        """The stream's shards, parents before children."""
        ...

    def read(self, shard_id: str) -> list[dict[str, Any]]:
        """The shard's records since the previous read (or the starting position), in Lambda's shape."""
        ...


Invoke = Callable[[dict[str, Any]], Any]
SendFailure = Callable[[str, dict[str, Any]], None]  # (destination ARN, on-failure record)
Wait = Callable[[float], bool]  # sleeps; True when the stack is stopping


@dataclass
class _Outcome:
    failed_from: int | None = None  # index of the first record to retry; None: the batch succeeded
    function_error: str | None = None  # "Type: message" when the function raised or answered nonsense


@dataclass
class _Shard:
    buffer: list[dict[str, Any]] = field(default_factory=list)
    since: float | None = None  # when the oldest buffered record was read


class StreamMapping:
    def __init__(
        self,
        config: StreamMappingConfig,
        reader: ShardReader,
        invoke: Invoke,
        send_failure: SendFailure,
        *,
        retry_delay: Callable[[int], float],
        wait: Wait,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self._reader = reader
        self._invoke_function = invoke
        self._send_failure = send_failure
        self._retry_delay = retry_delay
        self._wait = wait
        self._clock = clock
        self._shards: dict[str, _Shard] = {}

    def poll_once(self) -> None:
        """Read every shard, and deliver each batch that is full or has waited its batching window."""
        for shard_id in self._reader.shards():
            shard = self._shards.setdefault(shard_id, _Shard())
            fresh = [record for record in self._reader.read(shard_id) if self._wanted(record)]
            if fresh and not shard.buffer:
                shard.since = self._clock()
            shard.buffer.extend(fresh)
            while shard.buffer and self._due(shard):
                batch = shard.buffer[: self.config.batch_size]
                if not self._deliver(shard_id, batch):
                    return  # stopping: the batch stays buffered, unacknowledged
                del shard.buffer[: len(batch)]
                if not shard.buffer:
                    shard.since = None

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.config.filters or any(matches(pattern, record) for pattern in self.config.filters)

    def _due(self, shard: _Shard) -> bool:
        if len(shard.buffer) >= self.config.batch_size or self.config.batching_window_seconds <= 0:
            return True
        return shard.since is not None and self._clock() - shard.since >= self.config.batching_window_seconds

    def _deliver(self, shard_id: str, batch: list[dict[str, Any]]) -> bool:
        """Invoke until every record of the batch succeeded or was discarded; False if the stack stops."""
        pending: list[tuple[list[dict[str, Any]], int]] = [(batch, 0)]  # (records, retries spent on them)
        while pending:
            records, retries = pending.pop(0)
            outcome = self._invoke(records)
            if outcome.failed_from is None:
                continue
            remaining = records[outcome.failed_from :]
            if outcome.function_error and self.config.bisect_on_error and len(remaining) > 1:
                half = len(remaining) // 2
                pending[:0] = [(remaining[:half], retries), (remaining[half:], retries)]  # costs no retry
                continue
            if self.config.maximum_retry_attempts < 0 or retries < self.config.maximum_retry_attempts:
                if self._wait(self._retry_delay(retries)):
                    return False
                pending.insert(0, (remaining, retries + 1))
                continue
            if not self._discard(shard_id, remaining, retries + 1, outcome):
                return False
        return True

    def _invoke(self, records: list[dict[str, Any]]) -> _Outcome:
        try:
            response = self._invoke_function({'Records': records})
        except Exception as error:  # an Unhandled function error, as Lambda reports it
            log.warning(
                '%s failed on %d stream records (%s: %s); retrying',
                self.config.function_name,
                len(records),
                type(error).__name__,
                error,
            )
            return _Outcome(failed_from=0, function_error=f'{type(error).__name__}: {error}')
        if not self.config.report_batch_item_failures:
            return _Outcome()
        return _partial_outcome(response, records)

    def _discard(self, shard_id: str, records: list[dict[str, Any]], invocations: int, outcome: _Outcome) -> bool:
        first, last = records[0]['dynamodb'], records[-1]['dynamodb']
        destination = self.config.on_failure_arn
        log.warning(
            '%s: stream records %s..%s discarded after %d invocations; %s',
            self.config.function_name,
            first['SequenceNumber'],
            last['SequenceNumber'],
            invocations,
            f'on-failure record sent to {destination}' if destination else 'no OnFailure destination',
        )
        if destination is None:
            return True
        record = {
            'requestContext': {
                'requestId': str(uuid.uuid4()),
                'functionArn': self.config.function_arn,
                'condition': 'RetryAttemptsExhausted',
                'approximateInvokeCount': invocations,
            },
            'responseContext': {
                'statusCode': 200,
                'executedVersion': '$LATEST',
                **({'functionError': 'Unhandled'} if outcome.function_error else {}),
            },
            'version': '1.0',
            'timestamp': _iso(datetime.now(UTC), milliseconds=True),
            'DDBStreamBatchInfo': {
                'shardId': shard_id,
                'startSequenceNumber': first['SequenceNumber'],
                'endSequenceNumber': last['SequenceNumber'],
                'approximateArrivalOfFirstRecord': _arrival(first),
                'approximateArrivalOfLastRecord': _arrival(last),
                'batchSize': len(records),
                'streamArn': self.config.stream_arn,
            },
        }
        attempt = 0
        while True:  # the record of a discarded batch is never lost: retried until it is sent
            try:
                self._send_failure(destination, record)
            except Exception as error:
                log.warning('Cannot send the on-failure record to %s (%s); retrying', destination, error)
                if self._wait(self._retry_delay(attempt)):
                    return False
                attempt += 1
            else:
                return True


def _partial_outcome(response: Any, records: list[dict[str, Any]]) -> _Outcome:
    """Lambda's reading of a ReportBatchItemFailures response for a stream batch."""
    failures = response.get('batchItemFailures') if isinstance(response, dict) else None
    if not failures:  # no response, an empty one, or an empty or null list: all succeeded
        return _Outcome()
    positions = {record['dynamodb']['SequenceNumber']: index for index, record in enumerate(records)}
    identifiers = item_identifiers(failures)
    if identifiers is None or not all(identifier in positions for identifier in identifiers):
        return _Outcome(failed_from=0, function_error=f'malformed batchItemFailures: {failures!r}'[:200])
    return _Outcome(failed_from=min(positions[identifier] for identifier in identifiers))


def item_identifiers(failures: Any) -> list[str] | None:
    """The itemIdentifier of each batch item failure; None when one is missing, empty or not a string."""
    if not isinstance(failures, list):
        return None
    identifiers = [failure.get('itemIdentifier') if isinstance(failure, dict) else None for failure in failures]
    if not all(isinstance(identifier, str) and identifier for identifier in identifiers):
        return None
    return [str(identifier) for identifier in identifiers]


def _arrival(stream_record: dict[str, Any]) -> str:
    return _iso(datetime.fromtimestamp(float(stream_record.get('ApproximateCreationDateTime', 0)), UTC))


def _iso(moment: datetime, milliseconds: bool = False) -> str:
    if milliseconds:
        return moment.strftime('%Y-%m-%dT%H:%M:%S.') + f'{moment.microsecond // 1000:03d}Z'
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


# ---------------------------------------------------------------- records as Lambda delivers them
def lambda_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A stream record from GetRecords (as botocore parses it) in the shape Lambda's event carries."""
    stream = dict(raw['dynamodb'])
    created = stream.get('ApproximateCreationDateTime')
    if isinstance(created, datetime):
        stream['ApproximateCreationDateTime'] = int(created.timestamp())  # epoch seconds, rounded down
    for image in ('Keys', 'NewImage', 'OldImage'):
        if image in stream:
            stream[image] = {name: _json_attribute(value) for name, value in stream[image].items()}
    record = {
        'eventID': raw['eventID'],
        'eventName': raw['eventName'],
        'eventVersion': raw.get('eventVersion', '1.1'),
        'eventSource': 'aws:dynamodb',
        'awsRegion': raw.get('awsRegion', region),
        'dynamodb': stream,
        'eventSourceARN': stream_arn,
    }
    if 'userIdentity' in raw:
        record['userIdentity'] = raw['userIdentity']
    return record


def _json_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as JSON carries it: binary as base64 text, containers converted inside."""
    ((kind, inner),) = value.items()
    if kind == 'B':
        return {kind: base64.b64encode(inner).decode()}
    if kind == 'BS':
        return {kind: [base64.b64encode(item).decode() for item in inner]}
    if kind == 'M':
        return {kind: {name: _json_attribute(item) for name, item in inner.items()}}
    if kind == 'L':
        return {kind: [_json_attribute(item) for item in inner]}
    return {kind: inner}


class DynamoDBStreamReader:
    """Reads a DynamoDB stream through the dynamodbstreams API, following each shard's iterator."""

    def __init__(
        self,
        client: Any,
        stream_arn: str,
        starting_position: str,
        region: str,
        forget: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._stream_arn = stream_arn
        self._starting_position = starting_position
        self._region = region
        self._forget = forget  # told of each iterator once it has been used
        self._iterators: dict[str, str | None] = {}
        self._initial: set[str] | None = None  # shards read from the starting position; later ones from the start

    def shards(self) -> list[str]:
        shards: list[str] = []
        arguments: dict[str, Any] = {'StreamArn': self._stream_arn}
        while True:
            description = self._client.describe_stream(**arguments)['StreamDescription']
            shards.extend(shard['ShardId'] for shard in description.get('Shards', []))
            if not description.get('LastEvaluatedShardId'):
                if self._initial is None:
                    self._initial = set(shards)
                return shards
            arguments['ExclusiveStartShardId'] = description['LastEvaluatedShardId']

    def read(self, shard_id: str) -> list[dict[str, Any]]:
        if shard_id not in self._iterators:
            position = self._starting_position if shard_id in (self._initial or set()) else 'TRIM_HORIZON'
            self._iterators[shard_id] = self._client.get_shard_iterator(
                StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=position
            )['ShardIterator']
        iterator = self._iterators[shard_id]
        if iterator is None:
            return []  # a closed shard, read to its end
        response = self._client.get_records(ShardIterator=iterator, Limit=1000)
        self._iterators[shard_id] = response.get('NextShardIterator')
        if self._forget is not None:
            self._forget(iterator)
        return [lambda_record(raw, self._stream_arn, self._region) for raw in response['Records']]
