"""A page of records costs one Query, whatever the sheet's size: measured at 1,000 and 100,000 records.

Two sheets are filled (their records written with raw BatchWriteItem, 1% of them invalid, and their
counts set as inserts would leave them), then the real RecordService reads pages of each: the first
page, the next page by its cursor, a page of `filter=error` (the sparse byErrors index), a page of
`filter=valid` and page 3 by number. A botocore hook counts every call; DynamoDB calls are the
claim, times are shown for what they are (moto reads a partition in Python, so its Query time grows
with the partition where DynamoDB's does not).

Checked claim (issue 4): the first page, a cursor page and an error page are one Query (plus the
sheet's GetItem, for its fields and counts) at both sizes. Rows marked info are not checked.

    python bench/records_page.py [--small 1000] [--large 100000] [--page-size 100]
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from collections import Counter
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
    POWERTOOLS_SERVICE_NAME='jobs',
    POWERTOOLS_METRICS_NAMESPACE='Jobs',
    POWERTOOLS_LOG_LEVEL='ERROR',
    POWERTOOLS_TRACE_DISABLED='true',
    POWERTOOLS_METRICS_DISABLED='true',
)
for variable in ('AWS_ENDPOINT_URL', 'AWS_PROFILE'):
    os.environ.pop(variable, None)
warnings.filterwarnings('ignore')

DATA = 'jobs-bench-data'
REPEAT = 5


@dataclass
class Row:
    size: int
    page: str
    calls: Counter[str]
    milliseconds: float
    checked: bool
    records: int

    @property
    def problem(self) -> str | None:
        if not self.checked:
            return None
        if self.calls != Counter({'GetItem': 1, 'Query': 1}):
            return f'{dict(self.calls)}, expected one GetItem and one Query'
        return None


class Bench:
    def __init__(self, page_size: int) -> None:
        import boto3

        from jobs_core.data_store import DataStore
        from jobs_core.dynamo import dynamodb_client
        from jobs_core.jobs import JobService
        from jobs_core.models.tenant import Tenant
        from jobs_core.records import RecordService
        from jobs_core.records_store import RecordStore
        from jobs_core.store import DynamoJobStore
        from jobs_local.template import create_tables

        self.page_size = page_size
        self.client = dynamodb_client()
        self.tenant = Tenant('us_acc_bench', 'us_env_bench', 'us_key_bench')
        create_tables(boto3.client('dynamodb'), {'JobsTable': 'jobs-bench', 'DataTable': DATA})
        self.catalog = DataStore(DATA, self.client)
        self.store = RecordStore(DATA, 'jobs-bench', self.client)
        self.records = RecordService(self.catalog, self.store)
        self.jobs = JobService(DynamoJobStore('jobs-bench', self.client))
        self.calls: Counter[str] = Counter()
        self.client.meta.events.register('before-call.dynamodb.*', self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def sheet(self, size: int) -> str:
        """A sheet of `size` records, 1% invalid, written straight to the table."""
        from jobs_core import ids
        from jobs_core.models.space import SpaceCreate
        from jobs_core.models.workbook import WorkbookCreate
        from jobs_core.spaces import SpaceService
        from jobs_core.workbooks import WorkbookService

        space = SpaceService(self.catalog, self.jobs).create(self.tenant, SpaceCreate(name='bench'))
        fields = [{'key': 'name', 'type': 'string'}, {'key': 'n', 'type': 'number'}]
        body = WorkbookCreate.model_validate(
            {'name': 'bench', 'spaceId': space.id, 'sheets': [{'name': f'sheet{size}', 'fields': fields}]}
        )
        sheet_id = WorkbookService(self.catalog, self.jobs).create(self.tenant, body).sheets[0].id
        errors = 0
        batch: list[Any] = []
        for index, record_id in enumerate(ids.new_record_ids(size, int(time.time() * 1000))):
            invalid = index % 100 == 50
            errors += invalid
            record = {
                'id': record_id,
                'values': {'name': f'person {index}', 'n': 'many' if invalid else index},
                'errors': {'n': [{'type': 'error', 'message': 'n must be a number'}]} if invalid else {},
                'valid': not invalid,
                'metadata': {},
                'version': 1,
                'commitId': 'us_vr_bench',
                'updatedAt': '2024-01-01T00:00:00.000Z',
            }
            batch.append({'PutRequest': {'Item': self.store.record_item(self.tenant.environment_id, sheet_id, record)}})
            if len(batch) == 25:
                self._write(batch)
                batch = []
        if batch:
            self._write(batch)
        self.client.update_item(
            TableName=DATA,
            Key={'pk': {'S': f'SHEET#{self.tenant.environment_id}#{sheet_id}'}, 'sk': {'S': '#META'}},
            UpdateExpression='SET recordsTotal = :t, recordsValid = :v, recordsError = :e',
            ExpressionAttributeValues={
                ':t': {'N': str(size)},
                ':v': {'N': str(size - errors)},
                ':e': {'N': str(errors)},
            },
        )
        return sheet_id

    def _write(self, batch: list[Any]) -> None:
        while batch:
            batch = self.client.batch_write_item(RequestItems={DATA: batch}).get('UnprocessedItems', {}).get(DATA, [])

    def measure(self, size: int, sheet_id: str, page: str, query: dict[str, Any], checked: bool) -> Row:
        from jobs_core.models.record import RecordQuery

        parsed = RecordQuery.model_validate({'pageSize': self.page_size, **query})
        timings = []
        for _ in range(REPEAT):
            self.calls.clear()
            started = time.perf_counter()
            data = self.records.page(self.tenant, sheet_id, parsed)
            timings.append((time.perf_counter() - started) * 1000)
        return Row(size, page, Counter(self.calls), statistics.median(timings), checked, len(data.records))

    def pages(self, size: int, sheet_id: str) -> list[Row]:
        from jobs_core.models.record import RecordQuery

        first = self.records.page(self.tenant, sheet_id, RecordQuery.model_validate({'pageSize': self.page_size}))
        cursor = first.next_page_token
        return [
            self.measure(size, sheet_id, 'first page', {}, checked=True),
            self.measure(size, sheet_id, 'next page by cursor', {'pageToken': cursor}, checked=True),
            self.measure(size, sheet_id, 'filter=error (byErrors index)', {'filter': 'error'}, checked=True),
            self.measure(size, sheet_id, 'filter=valid (info)', {'filter': 'valid'}, checked=False),
            self.measure(size, sheet_id, 'pageNumber=3 (info)', {'pageNumber': 3}, checked=False),
            self.measure(size, sheet_id, 'last records, descending', {'sortDirection': 'desc'}, checked=True),
        ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--small', type=int, default=1_000)
    parser.add_argument('--large', type=int, default=100_000)
    parser.add_argument('--page-size', type=int, default=100)
    arguments = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        bench = Bench(arguments.page_size)
        started = time.perf_counter()
        sheets = {size: bench.sheet(size) for size in (arguments.small, arguments.large)}
        loading = time.perf_counter() - started
        rows = {size: bench.pages(size, sheet_id) for size, sheet_id in sheets.items()}

    small, large = rows[arguments.small], rows[arguments.large]
    print(
        f'A page of {arguments.page_size} records at {arguments.small:,} and {arguments.large:,} records; '
        f'median of {REPEAT}; moto in process (loading took {loading:.0f} s)\n'
    )
    at_small, at_large = f'calls at {arguments.small:,}', f'calls at {arguments.large:,}'
    header = f'{"page":<34} {at_small:>22} {at_large:>24} {"ms small":>9} {"ms large":>9} {"x":>6}'
    print(header)
    print('-' * len(header))
    for left, right in zip(small, large, strict=True):
        describe = lambda row: ', '.join(f'{name} {count}' for name, count in sorted(row.calls.items()))  # noqa: E731
        print(
            f'{left.page:<34} {describe(left):>22} {describe(right):>24} {left.milliseconds:>9.1f} '
            f'{right.milliseconds:>9.1f} {right.milliseconds / left.milliseconds:>6.1f}'
        )
    problems = [f'{row.size:,} {row.page}: {row.problem}' for row in small + large if row.problem]
    short = [
        row for row in small + large if row.checked and row.records != arguments.page_size and 'error' not in row.page
    ]
    problems += [f'{row.size:,} {row.page}: {row.records} records, expected a full page' for row in short]
    print('\n' + ('FAIL: ' + '; '.join(problems) if problems else 'OK: every checked page is one Query'))
    return 1 if problems else 0


if __name__ == '__main__':
    raise SystemExit(main())
