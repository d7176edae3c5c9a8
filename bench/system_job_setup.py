"""What the system job benchmarks share: the tables and bucket of template.yaml in moto, a space, a CSV
uploaded for import (which creates its file:extract job), and a job driven through the worker's steps
exactly as the state machine drives them (acknowledge, prepare, process until finished, finalize),
with the real operations at their real sizes and the worker's real time budget.

Import it first: it points AWS at moto's fake credentials and names the tables in the environment.
"""

import csv
import gc
import io
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / 'src'), str(ROOT / 'layers' / 'core' / 'python')]
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
    AWS_ACCOUNT_ID_ENDPOINT_MODE='disabled',
)
os.environ.pop('AWS_PROFILE', None)
warnings.filterwarnings('ignore')

if TYPE_CHECKING:
    from jobs_core.models.job import Job

FIELDS = ['id', 'name', 'email', 'city', 'notes']
CITIES = ['Paris', 'Lyon', 'Zürich', 'São Paulo', '']


def people_csv(count: int) -> bytes:
    """A realistic CSV: five columns, UTF-8, an empty cell in a fifth of the rows, a quoted note now and then."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for index in range(count):
        notes = 'says "hi", twice' if index % 97 == 0 else ''
        writer.writerow([index, f'Person {index}', f'person{index}@example.com', CITIES[index % 5], notes])
    return buffer.getvalue().encode()


def tenant() -> Any:
    from jobs_core.models.tenant import Tenant

    return Tenant('us_acc_bench000001', 'us_env_bench000001', 'us_key_bench000001')


def create_resources() -> None:
    """The jobs and data tables (from template.yaml) and the files bucket, in whatever AWS is current;
    moto's transactions are the local stack's (jobs_local.transactions): rolled back item by item, not
    by a copy of every table they touch, which would make each cost as much as the table is big."""
    import boto3

    from jobs_local.template import create_tables
    from jobs_local.transactions import install

    install()

    create_tables(boto3.client('dynamodb'), {'JobsTable': 'jobs-bench', 'DataTable': 'jobs-bench-data'})
    boto3.client('s3').create_bucket(Bucket='jobs-bench-files')


def space() -> str:
    from jobs_core.data_jobs import data_plane
    from jobs_core.models.space import SpaceCreate
    from jobs_core.spaces import SpaceService

    return SpaceService(data_plane().catalog, data_plane().jobs).create(tenant(), SpaceCreate(name='bench')).id


def upload(space_id: str, content: bytes, name: str = 'people.csv') -> str:
    """Upload a file for import as a browser does (described, PUT to storage, completed); its id."""
    import boto3

    from jobs_core.data_jobs import data_plane
    from jobs_core.models.file import UploadCreate
    from jobs_core.object_store import file_key

    files = data_plane().files
    started = files.start_upload(tenant(), UploadCreate(space_id=space_id, name=name, size=len(content)))
    key = file_key(tenant().environment_id, started.file.id)
    boto3.client('s3').put_object(Bucket='jobs-bench-files', Key=key, Body=content)
    files.complete(tenant(), started.file.id, None)
    return started.file.id


def extract_job(file_id: str) -> str:
    from jobs_core.data_jobs import data_plane
    from jobs_core.models.job import JobListQuery

    [job] = data_plane().jobs.page(tenant(), JobListQuery(file_id=file_id)).jobs
    return job.id


def create_job(**fields: Any) -> str:
    from jobs_core.data_jobs import data_plane
    from jobs_core.models.job import JobCreate

    return data_plane().jobs.create(tenant(), JobCreate(trigger='immediate', **fields)).id


def run(job_id: str, budget_seconds: float = 240.0) -> 'Job':
    """Drive a ready job through the worker's steps as the state machine does; the job after."""
    from jobs_core.data_jobs import data_plane
    from jobs_core.system.catalog import operations
    from jobs_core.system.runtime import Runtime, Task, TimeBudget

    jobs = data_plane().jobs
    runtime = Runtime(jobs, operations())
    task = Task(job_id=job_id, environment_id=tenant().environment_id, account_id=tenant().account_id, attempt=1)
    task = runtime.prepare(runtime.acknowledge(task))
    while not task.finished:
        task = runtime.process(task, TimeBudget(budget_seconds))
    runtime.finalize(task)
    job = jobs.get(tenant(), job_id)
    if job.status != 'complete':
        raise RuntimeError(f'{job_id} ended {job.status}: {job.outcome}')
    return job


def sheet_of(job: 'Job') -> str:
    return str((job.result or {})['sheetIds'][0])


@contextmanager
def paused_gc() -> Iterator[None]:
    """Garbage collection paused while timing: its pauses are noise, not the work measured."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Calls:
    """DynamoDB calls a client makes, by operation."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        client.meta.events.register('before-call.dynamodb.*', self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1


def raw_write(client: Any, requests: list[Any]) -> None:
    """Requests sent in BatchWriteItem calls of 25, the unprocessed ones sent again."""
    for start in range(0, len(requests), 25):
        batch = requests[start : start + 25]
        while batch:
            response = client.batch_write_item(RequestItems={'jobs-bench-data': batch})
            batch = response.get('UnprocessedItems', {}).get('jobs-bench-data', [])


class RawWriter:
    """The baselines' writes: items put with raw BatchWriteItem, 25 a call, nothing else (no
    validation, no counts, no guard)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pending: list[Any] = []

    def put(self, item: Any) -> None:
        self._pending.append({'PutRequest': {'Item': item}})
        if len(self._pending) == 25:
            self.flush()

    def flush(self) -> None:
        raw_write(self._client, self._pending)
        self._pending = []


def baseline_record(position: int, values: dict[str, Any]) -> dict[str, Any]:
    """A record as the baselines write it: the shape the record service stores, an id per position."""
    from jobs_core import ids

    return {
        'id': ids.record_id_at(1_700_000_000_000, position, 'bench0'),
        'values': values,
        'errors': {},
        'valid': True,
        'metadata': {},
        'version': 1,
        'commitId': 'us_vr_bench',
        'updatedAt': '2024-01-01T00:00:00.000Z',
    }
