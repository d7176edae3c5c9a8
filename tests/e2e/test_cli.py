"""The `jobs` command as a user runs it, against `jobs dev` over real HTTP: a job created, watched live
while it is acknowledged with progress, completed; events tailed; failures in one line; a big upload
through a presigned URL to storage; upload --wait and export, whatever the platform's system jobs
can do yet (they say clearly when they cannot)."""

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import JOBS, ROOT, RunningStack, issue_key, run_cli, stack_environment

pytestmark = pytest.mark.xdist_group('localstack')


@pytest.fixture(scope='module')
def env(stack: RunningStack) -> dict[str, str]:
    """The environment of a user of their own environment, as `jobs configure` would not be needed."""
    return {'JOBS_API_URL': stack.url, 'JOBS_API_KEY': issue_key(stack, 'e2e-cli'), 'COLUMNS': '150'}


def jobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, remove=('JOBS_PROFILE',), **env)


def as_json(env: dict[str, str], *args: str) -> dict:
    result = jobs(env, *args, '--json')
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def wait_until_shown(log: Path, text: str, within: float = 20.0) -> None:
    """Wait (bounded) until the watch's output shows `text`."""
    deadline = time.monotonic() + within
    while text not in log.read_text():
        assert time.monotonic() < deadline, f'the watch never showed {text!r}:\n{log.read_text()}'
        time.sleep(0.1)


def test_create_watch_ack_and_complete(env, tmp_path):
    job = as_json(
        env,
        'create',
        '--type',
        'workbook',
        '--operation',
        'e2e-render',
        '--source',
        'us_wb_e2ecli00001',
        '--trigger',
        'immediate',
    )['data']
    log = tmp_path / 'watch.log'
    with log.open('w') as output:
        watcher = subprocess.Popen(
            [str(JOBS), 'watch', job['id'], '--interval', '0.2'],
            cwd=ROOT,
            env=stack_environment(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # Each change is made once the watch has shown the one before: a watch shows the job as it
            # finds it, and two quick changes may reach it as one.
            wait_until_shown(log, 'ready    0%')
            started = jobs(env, 'ack', job['id'], '--progress', '25', '--info', 'Rendering page 1', '--eta', '30s')
            assert started.returncode == 0, started.stderr
            wait_until_shown(log, 'executing   25%  Rendering page 1')
            assert jobs(env, 'ack', job['id'], '--progress', '75', '--info', 'Rendering page 3').returncode == 0
            wait_until_shown(log, 'executing   75%  Rendering page 3')
            done = jobs(env, 'complete', job['id'], '-m', 'Rendered 4 pages', '--next-url', 'https://example.com/r')
            assert done.returncode == 0, done.stderr
            assert watcher.wait(timeout=30) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()
    lines = log.read_text()
    assert 'executing   25%  Rendering page 1' in lines
    assert 'executing   75%  Rendering page 3' in lines
    assert f'✔ {job["id"]} (workbook:e2e-render) complete' in lines
    assert 'Rendered 4 pages' in lines and 'https://example.com/r' in lines

    listed = as_json(env, 'list', '--status', 'complete')
    assert job['id'] in [each['id'] for each in listed['data']]
    shown = jobs(env, 'get', job['id'])
    assert 'complete' in shown.stdout and 'Rendered 4 pages' in shown.stdout


def test_watch_exits_1_for_a_failed_job_and_2_for_a_canceled_one(env):
    failed = as_json(
        env,
        'create',
        '--type',
        'workbook',
        '--operation',
        'e2e-render',
        '--source',
        'us_wb_e2ecli00002',
        '--trigger',
        'immediate',
    )['data']
    jobs(env, 'fail', failed['id'], '-m', 'Out of paper')
    result = jobs(env, 'watch', failed['id'])
    assert result.returncode == 1 and 'Out of paper' in result.stdout

    canceled = as_json(
        env, 'create', '--type', 'workbook', '--operation', 'e2e-render', '--source', 'us_wb_e2ecli00003'
    )['data']
    jobs(env, 'cancel', canceled['id'])
    assert jobs(env, 'watch', canceled['id']).returncode == 2


def test_events_tail_follows_a_job(env):
    job = as_json(env, 'create', '--type', 'workbook', '--operation', 'e2e-tail', '--source', 'us_wb_e2ecli00004')[
        'data'
    ]
    tail = subprocess.Popen(
        [str(JOBS), 'events', 'tail', '--job', job['id'], '--json', '--limit', '2', '--interval', '0.2'],
        cwd=ROOT,
        env=stack_environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        jobs(env, 'execute', job['id'])
        jobs(env, 'ack', job['id'], '--progress', '50')
        out, _ = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert [event['topic'] for event in events] == ['job:ready', 'job:updated']
    assert {event['context']['jobId'] for event in events} == {job['id']}


@pytest.mark.parametrize(
    ('extra', 'start'),
    [
        (('--api-key', 'sk_wrong'), 'error: http://127.0.0.1:'),
        (('--api-url', 'http://127.0.0.1:9'), 'error: cannot reach the Jobs API at http://127.0.0.1:9'),
    ],
)
def test_a_bad_key_or_an_unreachable_url_is_one_line(env, extra, start):
    result = jobs(env, 'list', *extra)
    assert result.returncode == 1
    assert result.stderr.startswith(start)
    assert len(result.stderr.strip().splitlines()) == 1
    assert 'Traceback' not in result.stderr


def test_an_api_error_is_its_message(env):
    result = jobs(env, 'get', 'us_jb_e2enothere01')
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: Job us_jb_e2enothere01 not found (HTTP 404)'


def test_a_big_upload_goes_through_storage_and_comes_back_equal(env, tmp_path):
    space = _post(env, '/v1/spaces', {'name': 'CLI uploads'})
    content = b'id,name\n' + b''.join(b'%08d,person %08d\n' % (i, i) for i in range(260_000))  # ~6 MB
    assert len(content) > 4 * 1024 * 1024
    path = tmp_path / 'people.csv'
    path.write_bytes(content)

    uploaded = as_json(env, 'upload', str(path), '--space', space['id'], '--mode', 'export')['data']

    assert (uploaded['status'], uploaded['size']) == ('complete', len(content))
    with httpx.Client(base_url=env['JOBS_API_URL'], headers={'Authorization': f'Bearer {env["JOBS_API_KEY"]}'}) as api:
        location = api.get(f'/v1/files/{uploaded["id"]}/download').headers['location']
    assert httpx.get(location, timeout=30).content == content


def test_upload_wait_follows_the_extract_job_or_says_there_is_none(env, tmp_path):
    space = _post(env, '/v1/spaces', {'name': 'CLI imports'})
    path = tmp_path / 'contacts.csv'
    path.write_text('name,email\nAda,ada@example.com\nGrace,grace@example.com\n')

    result = jobs(env, 'upload', str(path), '--space', space['id'], '--wait', '--extract-timeout', '5')

    assert 'Uploaded contacts.csv' in result.stdout
    if result.returncode == 3:  # the platform does not extract uploads yet
        assert 'no extract job started for us_fl_' in result.stderr
    else:
        assert 'Extracting: job us_jb_' in result.stdout
        assert result.returncode in {0, 1}, result.stderr  # the extract job's own end
        assert ('complete' if result.returncode == 0 else 'failed') in result.stdout


def test_export_downloads_the_sheet_or_fails_with_the_jobs_message(env, tmp_path):
    space = _post(env, '/v1/spaces', {'name': 'CLI exports'})
    sheet_config = {'name': 'Contacts', 'slug': 'contacts', 'fields': [{'key': 'name', 'type': 'string'}]}
    workbook = _post(env, '/v1/workbooks', {'name': 'People', 'spaceId': space['id'], 'sheets': [sheet_config]})
    sheet = workbook['sheets'][0]
    _post(env, f'/v1/sheets/{sheet["id"]}/records', [{'name': {'value': 'Ada'}}, {'name': {'value': 'Grace'}}])
    target = tmp_path / 'contacts.csv'

    result = jobs(env, 'export', sheet['id'], '-o', str(target), '--timeout', '60')

    if result.returncode == 0:
        text = target.read_text()
        assert 'Ada' in text and 'Grace' in text
        assert 'Saved' in result.stdout
    else:  # the platform cannot export yet: the job failed and said why
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith('error: the export failed: ')
        assert not target.exists()


def _post(env: dict[str, str], path: str, body: object) -> dict:
    with httpx.Client(base_url=env['JOBS_API_URL'], headers={'Authorization': f'Bearer {env["JOBS_API_KEY"]}'}) as api:
        response = api.post(path, json=body, timeout=30)
    assert response.status_code in {200, 201}, response.text
    return dict(response.json()['data'])


def test_configure_then_use_the_profile(env, tmp_path):
    config = tmp_path / 'jobs.toml'
    setup = subprocess.run(
        [str(JOBS), 'configure', '--profile', 'local'],
        cwd=ROOT,
        env={**stack_environment(), 'JOBS_CONFIG': str(config)},
        input=f'{env["JOBS_API_URL"]}\n{env["JOBS_API_KEY"]}\n',
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    assert oct(config.stat().st_mode & 0o777) == '0o600'
    listed = run_cli(
        'list', '--profile', 'local', '--json', remove=('JOBS_API_URL', 'JOBS_API_KEY'), JOBS_CONFIG=str(config)
    )
    assert listed.returncode == 0, listed.stderr
    assert 'data' in json.loads(listed.stdout)
