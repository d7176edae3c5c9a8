"""Inserting records: DynamoDB calls per 1,000 records, and records/s against raw BatchWriteItem.

The real RecordService inserts 10,000 records (validation of every value, ids, 25-item
BatchWriteItem with unprocessed items retried, then the sheet's counts and the commit in one
transaction) into moto's DynamoDB, in requests of REQUEST_SIZE records as the API takes them. The
baseline, measured in the same run against the same backend, writes the same finished items with
raw BatchWriteItem calls and nothing else. A botocore hook counts every call.

moto makes each TransactWriteItems a deep copy of every table it touches (to roll back from), which
DynamoDB does not do: the last transaction of a 10,000-record insert copies 10,000 items. So the
time spent inside our TransactWriteItems calls is shown, and the ratio is also given with those
calls costed as one plain UpdateItem each, which is what they cost on DynamoDB (~one write latency,
against 400 BatchWriteItem). Tables are emptied between rounds so every round starts alike, and
garbage collection is paused while timing, as timeit does.

Checked claims (issue 4):
- without unique fields, at most 41 DynamoDB calls per 1,000 records;
- records/s at least 0.7 of the baseline's.
A sheet with a unique field is measured too (info: one more UpdateItem per distinct value).

    python bench/records_insert.py [--records 10000] [--rounds 3]
"""

import argparse
import gc
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / 'src')]
os.environ.update(
    AWS_ACCESS_KEY_ID='bench',
    AWS_SECRET_ACCESS_KEY='bench',
    AWS_SESSION_TOKEN='bench',
    AWS_DEFAULT_REGION='us-east-1',
    TABLE_NAME='jobs-bench',
    DATA_TABLE_NAME='jobs-bench-data',
    FILES_BUCKET_NAME='jobs-bench-files',
    POWERTOOLS_SERVICE_NAME='jobs',
    POWERTOOLS_METRICS_NAMESPACE='Jobs',
    POWERTOOLS_LOG_LEVEL='ERROR',
    POWERTOOLS_TRACE_DISABLED='true',
    POWERTOOLS_METRICS_DISABLED='true',
)
for variable in ('AWS_ENDPOINT_URL', 'AWS_PROFILE'):
    os.environ.pop(variable, None)
warnings.filterwarnings('ignore')

REQUEST_SIZE = 5_000  # records per insert request (the API takes at most 5,000)
MAX_CALLS_PER_1000 = 41
MIN_RATIO = 0.7
FIELDS = [
    {'key': 'name', 'type': 'string', 'constraints': [{'type': 'required'}]},
    {'key': 'email', 'type': 'string'},
    {'key': 'age', 'type': 'number'},
    {'key': 'active', 'type': 'boolean'},
    {'key': 'tier', 'type': 'enum', 'config': {'options': [{'value': 'gold'}, {'value': 'silver'}]}},
]


def rows(count: int) -> list[dict[str, Any]]:
    """Realistic rows: mostly valid, some values of the wrong type (stored, marked invalid)."""
    return [
        {
            'name': f'Person {index}',
            'email': f'person{index}@example.com',
            'age': str(20 + index % 50) if index % 17 else 'unknown',
            'active': 'yes' if index % 2 else 'no',
            'tier': 'gold' if index % 3 else 'silver',
        }
        for index in range(count)
    ]


@dataclass
class Result:
    path: str
    records: int
    calls: Counter[str]
    seconds: float
    in_transactions: float = 0.0  # seconds inside TransactWriteItems calls

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def per_1000(self) -> float:
        return self.total_calls * 1000 / self.records

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@contextmanager
def paused_gc() -> Iterator[None]:
    """As timeit does: no garbage collection while timing (moto's table copies leave much garbage)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Bench:
    def __init__(self) -> None:
        import boto3

        from jobs_core.data_store import DataStore
        from jobs_core.dynamo import dynamodb_client
        from jobs_core.jobs import JobService
        from jobs_core.models.tenant import Tenant
        from jobs_core.records import RecordService
        from jobs_core.records_store import RecordStore
        from jobs_core.store import DynamoJobStore
        from jobs_core.workbooks import WorkbookService
        from jobs_local.template import create_tables

        self.client = dynamodb_client()
        self.tenant = Tenant('us_acc_bench', 'us_env_bench', 'us_key_bench')
        create_tables(boto3.client('dynamodb'), {'JobsTable': 'jobs-bench', 'DataTable': 'jobs-bench-data'})
        self.catalog = DataStore('jobs-bench-data', self.client)
        self.store = RecordStore('jobs-bench-data', 'jobs-bench', self.client)
        self.records = RecordService(self.catalog, self.store)
        self.jobs = JobService(DynamoJobStore('jobs-bench', self.client))
        self.workbooks = WorkbookService(self.catalog, self.jobs)
        self.calls: Counter[str] = Counter()
        self.in_transactions = 0.0
        self._started: float | None = None
        self.client.meta.events.register('before-call.dynamodb.*', self._count)
        self.client.meta.events.register('after-call.dynamodb.TransactWriteItems', self._transaction_done)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == 'TransactWriteItems':
            self._started = time.perf_counter()

    def _transaction_done(self, **_: Any) -> None:
        if self._started is not None:
            self.in_transactions += time.perf_counter() - self._started
            self._started = None

    def sheet(self, unique: bool = False) -> str:
        from jobs_core.models.space import SpaceCreate
        from jobs_core.models.workbook import WorkbookCreate
        from jobs_core.spaces import SpaceService

        space = SpaceService(self.catalog, self.jobs).create(self.tenant, SpaceCreate(name='bench'))
        fields = [dict(field) for field in FIELDS]
        if unique:
            fields[1]['constraints'] = [{'type': 'unique'}]
        body = WorkbookCreate.model_validate(
            {'name': 'bench', 'spaceId': space.id, 'sheets': [{'name': 'people', 'fields': fields}]}
        )
        return self.workbooks.create(self.tenant, body).sheets[0].id

    def empty(self) -> None:
        """Drop every record item, so each round starts from the same table size."""
        keys = []
        for page in self.client.get_paginator('scan').paginate(
            TableName='jobs-bench-data', ProjectionExpression='pk, sk'
        ):
            keys += [item for item in page['Items'] if not item['sk']['S'].startswith('#')]
        for start in range(0, len(keys), 25):
            self.client.batch_write_item(
                RequestItems={'jobs-bench-data': [{'DeleteRequest': {'Key': key}} for key in keys[start : start + 25]]}
            )

    def insert(self, sheet_id: str, data: list[dict[str, Any]], path: str) -> Result:
        self.calls.clear()
        self.in_transactions = 0.0
        with paused_gc():
            started = time.perf_counter()
            for start in range(0, len(data), REQUEST_SIZE):
                self.records.insert(self.tenant, sheet_id, data[start : start + REQUEST_SIZE])
            seconds = time.perf_counter() - started
        return Result(path, len(data), Counter(self.calls), seconds, self.in_transactions)

    def baseline(self, sheet_id: str, data: list[dict[str, Any]]) -> Result:
        """The same items, finished beforehand, written with raw BatchWriteItem and nothing else."""
        from jobs_core import ids
        from jobs_core.validation import validate_record

        sheet = self.records.sheet(self.tenant, sheet_id)
        items = []
        for record_id, row in zip(ids.new_record_ids(len(data), int(time.time() * 1000)), data, strict=True):
            cells = validate_record(sheet.fields, row)
            errors = {key: cell['messages'] for key, cell in cells.items() if not cell['valid']}
            record = {
                'id': record_id,
                'values': {key: cell['value'] for key, cell in cells.items()},
                'errors': errors,
                'valid': not errors,
                'metadata': {},
                'version': 1,
                'commitId': 'us_vr_bench',
                'updatedAt': '2024-01-01T00:00:00.000Z',
            }
            items.append(self.store.record_item(self.tenant.environment_id, sheet_id, record))
        self.calls.clear()
        with paused_gc():
            started = time.perf_counter()
            for start in range(0, len(items), 25):
                pending: list[Any] = [{'PutRequest': {'Item': item}} for item in items[start : start + 25]]
                while pending:
                    response = self.client.batch_write_item(RequestItems={'jobs-bench-data': pending})
                    pending = response.get('UnprocessedItems', {}).get('jobs-bench-data', [])
            seconds = time.perf_counter() - started
        return Result('baseline: raw BatchWriteItem', len(items), Counter(self.calls), seconds)

    def one_write(self, sheet_id: str) -> float:
        """What one plain UpdateItem of the sheet's item costs here."""
        started = time.perf_counter()
        self.client.update_item(
            TableName='jobs-bench-data',
            Key={'pk': {'S': f'SHEET#{self.tenant.environment_id}#{sheet_id}'}, 'sk': {'S': '#META'}},
            UpdateExpression='SET benchTouched = :n',
            ExpressionAttributeValues={':n': {'N': '1'}},
        )
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--records', type=int, default=10_000)
    parser.add_argument('--rounds', type=int, default=3)
    arguments = parser.parse_args()
    from moto import mock_aws

    data = rows(arguments.records)
    with mock_aws():
        bench = Bench()
        plain = bench.sheet()
        unique = bench.sheet(unique=True)
        ours: list[Result] = []
        base: list[Result] = []
        for _ in range(arguments.rounds):
            bench.empty()
            base.append(bench.baseline(plain, data))
            bench.empty()
            ours.append(bench.insert(plain, data, f'RecordService.insert ({REQUEST_SIZE:,} a request)'))
        write = statistics.median(bench.one_write(plain) for _ in range(20))
        bench.empty()
        with_unique = bench.insert(unique, data, 'RecordService.insert, unique email (info)')

    baseline = min(base, key=lambda result: result.seconds)
    best = min(ours, key=lambda result: result.seconds)
    transactions = best.calls['TransactWriteItems']
    adjusted = Result(
        '  its transactions costed as plain writes',
        best.records,
        best.calls,
        best.seconds - best.in_transactions + transactions * write,
    )
    ratio = best.rate / baseline.rate
    adjusted_ratio = adjusted.rate / baseline.rate

    print(f'Inserting {arguments.records:,} records; best of {arguments.rounds} rounds; moto in process\n')
    header = f'{"path":<52} {"calls":>7} {"calls/1k":>9} {"seconds":>8} {"records/s":>10} {"vs base":>8}'
    print(header)
    print('-' * len(header))
    for result in (baseline, best, adjusted, with_unique):
        relative = result.rate / baseline.rate
        print(
            f'{result.path:<52} {result.total_calls:>7} {result.per_1000:>9.1f} {result.seconds:>8.2f} '
            f'{result.rate:>10,.0f} {relative:>8.2f}'
        )
    print()
    for result in (best, with_unique):
        print(f'{result.path}: ' + ', '.join(f'{name} {count}' for name, count in sorted(result.calls.items())))
    print(
        f'inside its {transactions} TransactWriteItems (moto copying the table): {best.in_transactions:.2f} s; '
        f'one plain UpdateItem: {write * 1000:.1f} ms'
    )

    problems = []
    if best.per_1000 > MAX_CALLS_PER_1000:
        problems.append(f'{best.per_1000:.1f} calls per 1,000 records > {MAX_CALLS_PER_1000}')
    if adjusted_ratio < MIN_RATIO:
        problems.append(f'records/s {adjusted_ratio:.2f} of the baseline (raw {ratio:.2f}) < {MIN_RATIO}')
    print('\n' + ('FAIL: ' + '; '.join(problems) if problems else 'OK: every claim holds'))
    return 1 if problems else 0


if __name__ == '__main__':
    raise SystemExit(main())
