"""Every seed example of examples/ end to end: `jobs listen examples/<x>.py` as a subprocess against the
local stack, jobs created over HTTP, and the jobs polled until the listener has run them.

The listeners follow an environment of their own, so nothing else in the session's stack reaches them.
"""

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningStack, issue_key
from tests.e2e.listening import EXAMPLES, Listening, create, events_of, listening
from tests.e2e.polling import data, eventually, finished, job_of

pytestmark = pytest.mark.xdist_group('localstack')


@pytest.fixture(scope='module')
def api_key(stack: RunningStack) -> str:
    return issue_key(stack, 'e2e-listeners')


@pytest.fixture(scope='module')
def api(stack: RunningStack, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, headers={'Authorization': f'Bearer {api_key}'}, timeout=30) as client:
        yield client


Listen = Callable[..., AbstractContextManager[Listening]]


@pytest.fixture
def listen(stack: RunningStack, api_key: str, tmp_path: Path) -> Listen:
    def start(example: str, **env: str) -> AbstractContextManager[Listening]:
        return listening(stack, api_key, [EXAMPLES / example], tmp_path / f'{example}.log', **env)

    return start


def workbook() -> str:
    return f'us_wb_{secrets.token_hex(6)}'


# ---------------------------------------------------------------- the action job
def test_export_action_acks_exports_and_completes(api, listen, tmp_path):
    with listen('export_action.py', JOBS_EXPORT_DIR=str(tmp_path / 'exports')) as listener:
        rows = [{'name': 'Ada', 'email': 'ada@example.com'}, {'name': 'Grace', 'email': 'grace@example.com'}]
        job = create(api, type='workbook', operation='export', source=workbook(), managed=False, input={'rows': rows})

        done = finished(api, job['id'])

        assert (done['status'], done['info'], done['progress']) == ('complete', 'Starting export...', 100)
        assert done['outcome'] == {'message': 'Export completed successfully'}
        exported = (tmp_path / 'exports' / f'{job["id"]}.csv').read_text().splitlines()
        assert exported == ['email,name', 'ada@example.com,Ada', 'grace@example.com,Grace']
        assert listener.process.poll() is None


def test_export_action_fails_the_job_when_the_export_raises(api, listen, tmp_path):
    with listen('export_action.py', JOBS_EXPORT_DIR=str(tmp_path / 'exports')):
        job = create(
            api, type='workbook', operation='export', source=workbook(), managed=False, input={'format': 'xml'}
        )

        failed = finished(api, job['id'])

        assert (failed['status'], failed['outcome']) == ('failed', {'message': 'Export failed'})


# ---------------------------------------------------------------- the custom job
def test_custom_job_is_created_from_an_event_and_handled(api, listen):
    with listen('custom_job.py'):
        # GIVEN an import of a workbook, which the test runs to completion by hand
        source = workbook()
        trigger = create(api, type='workbook', operation='import', source=source)
        assert api.post(f'/v1/jobs/{trigger["id"]}/ack', json={'progress': 50}).status_code == 200
        assert api.post(f'/v1/jobs/{trigger["id"]}/complete').status_code == 200

        # THEN the listener creates a custom job on the workbook, and runs it
        custom = eventually(
            lambda: [
                job
                for job in api.get('/v1/jobs', params={'workbookId': source}).json()['data']
                if job['operation'] == 'customOperation'
            ],
            lambda jobs: len(jobs) == 1 and jobs[0]['status'] == 'complete',
            'the custom job completed',
        )[0]
        assert custom['outcome'] == {'message': 'Operation completed'}
        assert custom['info'] == '1 of 2 jobs of the workbook are complete'


# ---------------------------------------------------------------- error handling
def test_error_handling_fails_with_a_message_to_acknowledge(api, listen):
    with listen('error_handling.py'):
        bad = create(
            api,
            type='sheet',
            operation='validate',
            source='us_sh_e2elisten01',
            input={'rows': [{'email': 'ada@example.com'}, {'email': 'bob'}]},
        )
        good = create(
            api, type='sheet', operation='validate', source='us_sh_e2elisten01', input={'rows': [{'email': 'a@b.c'}]}
        )

        failed, completed = finished(api, bad['id']), finished(api, good['id'])

        assert failed['status'] == 'failed'
        assert failed['outcome'] == {'message': "Job failed: row 2: 'bob' is not an email address", 'acknowledge': True}
        assert (completed['status'], completed['outcome']) == ('complete', {'message': 'All 1 rows are valid'})


# ---------------------------------------------------------------- progress
def progress_updates(api: httpx.Client, job_id: str) -> list[tuple[int, str]]:
    """(progress, info) of the job's job:updated events while it ran, once its job:completed is stored."""
    events = eventually(
        lambda: events_of(api, job_id),
        lambda found: 'job:completed' in [event['topic'] for event in found],
        f'the job:completed event of {job_id} stored',
    )
    updates = sorted((event for event in events if event['topic'] == 'job:updated'), key=lambda event: event['version'])
    return [(event['payload']['progress'], event['payload'].get('info', '')) for event in updates]


def test_progress_with_update_and_with_ack_ticks(api, listen):
    with listen('progress.py'):
        updated = create(api, type='workbook', operation='process', source=workbook(), input={'batches': 4})
        ticked = create(api, type='workbook', operation='reindex', source=workbook(), input={'batches': 4})

        assert finished(api, updated['id'])['outcome'] == {
            'message': 'Process completed successfully',
            'acknowledge': True,
        }
        assert finished(api, ticked['id'])['outcome'] == {'message': 'Reindexed 4 batches'}

        assert progress_updates(api, updated['id']) == [
            (0, 'Starting process...'),
            (25, 'Processing: 25% complete'),
            (50, 'Processing: 50% complete'),
            (75, 'Processing: 75% complete'),
        ]
        assert job_of(api, updated['id'])['estimatedCompletionAt']
        assert progress_updates(api, ticked['id']) == [
            (0, 'Accepted'),
            (25, 'Reindexed 1 of 4 batches'),
            (50, 'Reindexed 2 of 4 batches'),
            (75, 'Reindexed 3 of 4 batches'),
        ]


# ---------------------------------------------------------------- outcomes
OUTCOMES: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    'id': (
        {'type': 'space', 'operation': 'openFiles', 'source': 'us_sp_e2elisten01', 'spaceId': 'us_sp_e2elisten01'},
        lambda job: {
            'message': 'Process completed',
            'next': {
                'type': 'id',
                'id': 'us_sp_e2elisten01',
                'path': 'files',
                'query': 'mode=export',
                'label': 'View Files',
            },
        },
    ),
    'url': (
        {'type': 'workbook', 'operation': 'publishReport', 'source': 'us_wb_e2elisten01'},
        lambda job: {
            'message': 'Process completed',
            'next': {'type': 'url', 'url': f'https://reports.example.com/{job["id"]}', 'label': 'View Results'},
        },
    ),
    'download': (
        {'type': 'workbook', 'operation': 'downloadExport', 'source': 'us_wb_e2elisten01'},
        lambda job: {
            'message': 'Files ready',
            'next': {
                'type': 'download',
                'fileName': 'export.csv',
                'url': f'https://files.example.com/exports/{job["id"]}.csv',
                'label': 'Download',
            },
        },
    ),
    'snapshot': (
        {
            'type': 'sheet',
            'operation': 'takeSnapshot',
            'source': 'us_sh_e2elisten01',
            'input': {'snapshotId': 'us_ss_e2elisten01'},
        },
        lambda job: {
            'message': 'Snapshot created',
            'next': {
                'type': 'snapshot',
                'snapshotId': 'us_ss_e2elisten01',
                'sheetId': 'us_sh_e2elisten01',
                'label': 'View Snapshot',
            },
        },
    ),
    'retry': (
        {'type': 'workbook', 'operation': 'syncCrm', 'source': 'us_wb_e2elisten01'},
        lambda job: {'message': 'Process completed with warnings', 'next': {'type': 'retry', 'label': 'Try Again'}},
    ),
    'user feedback': (
        {'type': 'workbook', 'operation': 'summarize', 'source': 'us_wb_e2elisten01'},
        lambda job: {
            'heading': 'Process Complete',
            'message': 'Detailed results...',
            'buttonText': 'Continue',
            'acknowledge': True,
        },
    ),
}


def test_every_outcome_next_variant(api, listen):
    with listen('outcomes.py'):
        jobs = {name: create(api, **fields) for name, (fields, _) in OUTCOMES.items()}

        outcomes = {name: finished(api, job['id'])['outcome'] for name, job in jobs.items()}

        assert outcomes == {name: expected(jobs[name]) for name, (_, expected) in OUTCOMES.items()}


# ---------------------------------------------------------------- cleanup
def test_cleanup_on_job_completed_removes_temporary_files(api, listen, tmp_path):
    scratch = tmp_path / 'scratch'
    with listen('cleanup.py', JOBS_SCRATCH_DIR=str(scratch)):
        job = create(api, type='workbook', operation='render', source=workbook(), metadata={'owner': 'e2e'})

        assert finished(api, job['id'])['outcome'] == {'message': 'Rendered 3 pages'}
        cleaned = eventually(
            lambda: job_of(api, job['id']), lambda found: 'temporaryFilesRemoved' in found['metadata'], 'cleanup'
        )

        assert cleaned['metadata'] == {'owner': 'e2e', 'temporaryFilesRemoved': 3}
        assert not (scratch / job['id']).exists()


# ---------------------------------------------------------------- monitoring
def test_monitoring_middleware_logs_every_job_event(api, listen):
    with listen('monitoring.py') as listener:
        job = create(api, type='workbook', operation='watched', source=workbook())
        assert api.post(f'/v1/jobs/{job["id"]}/ack', json={'progress': 10}).status_code == 200
        assert api.post(f'/v1/jobs/{job["id"]}/complete').status_code == 200

        expected = [
            f'Job {job["id"]}: {topic}' for topic in ('job:created', 'job:ready', 'job:updated', 'job:completed')
        ]
        lines = eventually(
            lambda: [line for line in listener.output().splitlines() if line.startswith(f'Job {job["id"]}:')],
            lambda found: len(found) >= len(expected),
            'the monitoring lines',
        )
        # (job:created and job:ready share a creation time and may be stored apart: their order may vary)
        assert sorted(lines) == sorted(expected)


# ---------------------------------------------------------------- automap
def test_automap_maps_an_extracted_upload_and_runs_a_plan_it_is_sure_of(api, listen):
    with listen('automap.py'):
        # GIVEN a space with the destination sheet, and a CSV uploaded into it for import
        space = data(api.post('/v1/spaces', json={'name': 'Automap'}), 201)
        sheet = {
            'name': 'Contacts',
            'slug': 'contacts',
            'fields': [{'key': 'name', 'type': 'string'}, {'key': 'email', 'type': 'string'}],
        }
        destination = data(
            api.post('/v1/workbooks', json={'name': 'CRM', 'spaceId': space['id'], 'sheets': [sheet]}), 201
        )
        upload = api.post(
            '/v1/files',
            data={'spaceId': space['id'], 'mode': 'import'},
            files={'file': ('people.csv', b'Name,E-mail\nAnn,ann@x\nBob,bob@x\n', 'text/csv')},
        )
        assert upload.status_code == 201, upload.text

        # WHEN the listener sees the extract complete, creates the map job, and sees its plan announced
        def map_jobs() -> list[dict[str, Any]]:
            jobs = data(api.get('/v1/jobs', params={'pageSize': '100'}))
            return [job for job in jobs if job['operation'] == 'map' and job.get('destination') == destination['id']]

        [job] = eventually(map_jobs, lambda found: len(found) == 1, 'the listener created the map job')
        done = finished(api, job['id'])

        # THEN the plan was sure of every edge, so the listener executed it, and the records are mapped
        assert done['status'] == 'complete', done
        assert job['input'] == {'isAutomap': True}
        [contacts] = destination['sheets']
        records = data(api.get(f'/v1/sheets/{contacts["id"]}/records'))['records']
        assert [{key: cell['value'] for key, cell in record['values'].items()} for record in records] == [
            {'name': 'Ann', 'email': 'ann@x'},
            {'name': 'Bob', 'email': 'bob@x'},
        ]
