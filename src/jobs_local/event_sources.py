"""The template functions' DynamoDB and SQS events, as event source mappings the local stack runs.

Each `DynamoDB` event becomes a StreamMapping on moto's stream and each `SQS` event a QueueMapping on
moto's queue, both with the properties the template gives them, invoking the real handler in
process. Properties Lambda has and the local mappings do not honour are named in a notice.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jobs_local.errors import StackError
from jobs_local.patterns import PatternError, parse
from jobs_local.pollers import Poller
from jobs_local.provision import LocalResources
from jobs_local.queue_mapping import QueueMapping, QueueMappingConfig, SqsQueue
from jobs_local.runtime import LocalFunction
from jobs_local.stream_mapping import DynamoDBStreamReader, StreamMapping, StreamMappingConfig

log = logging.getLogger('jobs_local.events')

STREAM_POLL_SECONDS: Final = 0.25  # Lambda polls a DynamoDB stream shard four times a second
_STREAM_PROPERTIES: Final = frozenset(
    {
        'Stream',
        'StartingPosition',
        'BatchSize',
        'MaximumBatchingWindowInSeconds',
        'MaximumRetryAttempts',
        'BisectBatchOnFunctionError',
        'FunctionResponseTypes',
        'FilterCriteria',
        'DestinationConfig',
        'Enabled',
        'ParallelizationFactor',  # one batch per shard at a time locally, which is what 1 means
    }
)
_QUEUE_PROPERTIES: Final = frozenset(
    {'Queue', 'BatchSize', 'MaximumBatchingWindowInSeconds', 'FunctionResponseTypes', 'FilterCriteria', 'Enabled'}
)


@dataclass(frozen=True)
class Settings:
    retry_seconds: float  # the local stand-in for every retry delay and visibility timeout of a failure
    wait: Callable[[float], bool]  # the stack's stop event's wait


def retry_delay(base: float) -> Callable[[int], float]:
    """Back-off for the n-th retry: doubling from `base`, at most eight times it."""
    return lambda retries: base * min(2**retries, 8)


def forget_moto_iterator(iterator: str) -> None:
    """moto keeps every shard iterator it hands out; drop each once read, so a long session stays small."""
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends  # noqa: PLC0415

        for regions in dynamodbstreams_backends.values():
            for backend in regions.values():
                backend.shard_iterators.pop(iterator, None)
    except Exception:  # noqa: S110 - housekeeping only; moto's internals may change
        pass


def _filters(owner: str, properties: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    try:
        return tuple(parse(item['Pattern']) for item in properties.get('FilterCriteria', {}).get('Filters', []))
    except PatternError as error:
        raise StackError(f'{owner}: FilterCriteria: {error}') from None


def _unhonoured(owner: str, properties: dict[str, Any], known: frozenset[str], notices: list[str]) -> None:
    ignored = sorted(set(properties) - known)
    if properties.get('ParallelizationFactor', 1) != 1:
        ignored.append('ParallelizationFactor > 1')
    if ignored:
        notices.append(f'{owner}: {", ".join(ignored)} not honoured locally')


def event_source_pollers(
    resources: LocalResources,
    functions: dict[str, LocalFunction],
    clients: dict[str, Any],
    settings: Settings,
    stop: threading.Event,
) -> list[Poller]:
    """A poller per DynamoDB and SQS event of the template's functions (`functions` by logical id)."""
    builder = _Builder(resources, clients, settings)
    pollers = []
    for logical_id, function in sorted(functions.items()):
        for event_name, event in sorted(function.spec.events.items()):
            owner = f'{logical_id} {event_name}'
            if event['Type'] not in {'DynamoDB', 'SQS'}:
                if event['Type'] != 'Api':
                    resources.notices.append(f'{owner}: {event["Type"]} events are not emulated locally')
                continue
            try:
                properties = resources.resolve_tree(event.get('Properties', {}))
            except ValueError as error:
                raise StackError(f'{owner}: {error}') from None
            if not properties.get('Enabled', True):
                resources.notices.append(f'{owner}: disabled in the template')
                continue
            if event['Type'] == 'DynamoDB':
                mapping: Any = builder.stream_mapping(owner, function, properties)
                pollers.append(Poller(f'{owner} (DynamoDB stream)', mapping.poll_once, stop, STREAM_POLL_SECONDS))
            else:
                mapping = builder.queue_mapping(owner, function, properties)
                pollers.append(Poller(f'{owner} (SQS)', mapping.poll_once, stop))
    return pollers


class _Builder:
    def __init__(self, resources: LocalResources, clients: dict[str, Any], settings: Settings) -> None:
        self._resources = resources
        self._clients = clients
        self._settings = settings

    def stream_mapping(self, owner: str, function: LocalFunction, properties: dict[str, Any]) -> StreamMapping:
        resources = self._resources
        _unhonoured(owner, properties, _STREAM_PROPERTIES, resources.notices)
        on_failure = properties.get('DestinationConfig', {}).get('OnFailure', {})
        destination = on_failure.get('Destination')
        if destination is not None and (
            on_failure.get('Type', 'SQS') != 'SQS' or destination not in resources.queue_urls
        ):
            raise StackError(f'{owner}: only an SQS queue of the template works as OnFailure destination locally')
        position = properties.get('StartingPosition', 'TRIM_HORIZON')
        if position not in {'TRIM_HORIZON', 'LATEST'}:
            raise StackError(f'{owner}: StartingPosition {position} is not supported locally')
        config = StreamMappingConfig(
            function_name=function.spec.name,
            function_arn=resources.function_arn(function.spec.name),
            stream_arn=properties['Stream'],
            region=resources.region,
            batch_size=int(properties.get('BatchSize', 100)),
            batching_window_seconds=float(properties.get('MaximumBatchingWindowInSeconds', 0)),
            maximum_retry_attempts=int(properties.get('MaximumRetryAttempts', -1)),
            bisect_on_error=bool(properties.get('BisectBatchOnFunctionError', False)),
            report_batch_item_failures='ReportBatchItemFailures' in properties.get('FunctionResponseTypes', []),
            filters=_filters(owner, properties),
            on_failure_arn=destination,
            starting_position=position,
        )
        reader = DynamoDBStreamReader(
            self._clients['dynamodbstreams'], config.stream_arn, position, resources.region, forget=forget_moto_iterator
        )
        sqs = self._clients['sqs']

        def send_failure(arn: str, record: dict[str, Any]) -> None:
            sqs.send_message(QueueUrl=resources.queue_url(arn), MessageBody=json.dumps(record))

        return StreamMapping(
            config,
            reader,
            function.invoke,
            send_failure,
            retry_delay=retry_delay(self._settings.retry_seconds),
            wait=self._settings.wait,
            clock=time.monotonic,
        )

    def queue_mapping(self, owner: str, function: LocalFunction, properties: dict[str, Any]) -> QueueMapping:
        _unhonoured(owner, properties, _QUEUE_PROPERTIES, self._resources.notices)
        arn = properties['Queue']
        config = QueueMappingConfig(
            function_name=function.spec.name,
            queue_arn=arn,
            region=self._resources.region,
            batch_size=int(properties.get('BatchSize', 10)),
            batching_window_seconds=float(properties.get('MaximumBatchingWindowInSeconds', 0)),
            report_batch_item_failures='ReportBatchItemFailures' in properties.get('FunctionResponseTypes', []),
            filters=_filters(owner, properties),
        )
        queue = SqsQueue(self._clients['sqs'], self._resources.queue_url(arn), self._settings.retry_seconds)
        return QueueMapping(config, queue, function.invoke, wait=self._settings.wait, clock=time.monotonic)
