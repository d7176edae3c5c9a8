"""The publisher: PutEvents calls per stream batch, and its cost per event.

1. PutEvents calls per batch of 1 to 1,000 stream records: must be ceil(events / 10).
2. Cost per event of the real publisher handler (stream records → events → PutEvents entries,
   through Powertools' batch processor), against a baseline measured in the same run that only
   serialises the same events to JSON. EventBridge is a fake that accepts every entry, so what is
   measured is our code, not the network.

    python bench/publisher.py [--repeat 5]
"""

import argparse
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / 'src')]
os.environ.update(
    AWS_DEFAULT_REGION='us-east-1',
    AWS_ACCESS_KEY_ID='bench',
    AWS_SECRET_ACCESS_KEY='bench',
    POWERTOOLS_SERVICE_NAME='jobs',
    POWERTOOLS_METRICS_NAMESPACE='Jobs',
    POWERTOOLS_TRACE_DISABLED='true',
    POWERTOOLS_METRICS_DISABLED='true',
    POWERTOOLS_LOG_LEVEL='ERROR',
    EVENT_BUS_NAME='bench',
)

from jobs_core.lifecycle_events import events_of  # noqa: E402
from jobs_core.models.job import Job  # noqa: E402
from jobs_core.models.tenant import Tenant  # noqa: E402
from jobs_core.publisher import EventBridgePublisher  # noqa: E402
from jobs_core.store import job_item  # noqa: E402
from jobs_local.functions import handler_of  # noqa: E402

TENANT = Tenant('us_acc_bench', 'us_env_bench', 'us_key_bench')


class AcceptingBus:
    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        return {'FailedEntryCount': 0, 'Entries': [{'EventId': str(i)} for i in range(len(Entries))]}


def records(count: int) -> list[dict[str, Any]]:
    """INSERTs of ready jobs (two events each: job:created, job:ready), as Lambda delivers them."""
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    found = []
    for index in range(count):
        job = Job(
            id=f'us_jb_bench{index:07d}',
            type='workbook',
            operation='export',
            source='us_wb_bench',
            status='ready',
            environment_id=TENANT.environment_id,
            created_by=TENANT.actor_id,
            created_at=stamp,
            updated_at=stamp,
            version=1,
            input={'rows': index},
        )
        item = job_item(TENANT, job)
        found.append(
            {
                'eventID': f'event-{index}',
                'eventName': 'INSERT',
                'eventVersion': '1.1',
                'eventSource': 'aws:dynamodb',
                'awsRegion': 'us-east-1',
                'dynamodb': {
                    'ApproximateCreationDateTime': stamp.timestamp(),
                    'Keys': {'pk': item['pk'], 'sk': item['sk']},
                    'NewImage': item,
                    'SequenceNumber': f'{index + 1:021d}',
                    'SizeBytes': 512,
                    'StreamViewType': 'NEW_AND_OLD_IMAGES',
                },
                'eventSourceARN': 'arn:aws:dynamodb:us-east-1:123456789012:table/jobs/stream/x',
            }
        )
    return found


class Context:
    function_name = 'publisher'
    memory_limit_in_mb = 512
    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:publisher'
    aws_request_id = 'bench'


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    handler = handler_of('PublisherFunction')
    failures = 0

    print('PutEvents calls per stream batch')
    print(f'{"records":>8} {"events":>7} {"calls":>6} {"ceil(events/10)":>16}')
    for count in (1, 5, 10, 50, 100, 500, 1000):
        batch = records(count)
        bus = AcceptingBus()
        result = handler({'Records': batch}, Context(), events_publisher=EventBridgePublisher('bench', bus))
        events = sum(len(events_of(record)) for record in batch)
        expected = math.ceil(events / 10)
        failures += bus.calls != expected or result != {'batchItemFailures': []}
        print(f'{count:>8} {events:>7} {bus.calls:>6} {expected:>16}')

    batch = records(1000)
    events = [event for record in batch for event in events_of(record)]
    publisher_times, baseline_times = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine
        start = time.perf_counter()
        for event in events:
            event.model_dump_json()
        baseline_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        handler({'Records': batch}, Context(), events_publisher=EventBridgePublisher('bench', AcceptingBus()))
        publisher_times.append(time.perf_counter() - start)
    publisher = statistics.median(publisher_times) / len(events) * 1e6
    baseline = statistics.median(baseline_times) / len(events) * 1e6
    print(f'\nCost per event over {len(events)} events (median of {args.repeat})')
    print(f'  baseline, serialise only : {baseline:8.1f} µs')
    print(f'  publisher handler        : {publisher:8.1f} µs  ({publisher / baseline:.1f}x baseline)')
    print('\nPutEvents calls = ceil(events / 10) for every batch:', 'yes' if not failures else 'NO')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
