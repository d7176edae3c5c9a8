"""`jobs listen` itself, over real HTTP: a raising handler retried a bounded number of times and its
event left unacknowledged, handled events acknowledged, Ctrl-C, and a refused key."""

import httpx
import pytest

from tests.e2e.conftest import RunningStack, issue_key, run_cli
from tests.e2e.listening import create, listening
from tests.e2e.polling import eventually, finished

pytestmark = pytest.mark.xdist_group('localstack')

LISTENER = """
from pathlib import Path

from jobs_sdk import Listener

listener = Listener()
ATTEMPTS = Path(__file__).with_suffix('.attempts')


@listener.on('job:ready', job='workbook:explode')
def explode(event):
    with ATTEMPTS.open('a') as attempts:
        attempts.write(event.id + '\\n')
    raise RuntimeError('boom')


@listener.on('job:ready', job='workbook:fine')
def fine(event, api):
    api.jobs.complete(event.context.job_id, outcome={'message': 'fine'})
"""


@pytest.fixture(scope='module')
def api_key(stack: RunningStack) -> str:
    return issue_key(stack, 'e2e-listen-cli')


@pytest.fixture(scope='module')
def api(stack: RunningStack, api_key: str):
    with httpx.Client(base_url=stack.url, headers={'Authorization': f'Bearer {api_key}'}, timeout=30) as client:
        yield client


def ready_event(api: httpx.Client, job_id: str) -> dict:
    events = eventually(
        lambda: api.get('/v1/events', params={'jobId': job_id, 'topic': 'job:ready'}).json()['data'],
        lambda found: len(found) == 1,
        f'the job:ready event of {job_id}',
    )
    return dict(events[0])


def test_a_raising_handler_is_retried_a_bounded_number_of_times(stack, api_key, api, tmp_path):
    listener_file = tmp_path / 'exploding.py'
    listener_file.write_text(LISTENER)
    attempts = listener_file.with_suffix('.attempts')

    with listening(stack, api_key, [listener_file], tmp_path / 'listen.log', '--max-attempts', '3') as running:
        exploding = create(api, type='workbook', operation='explode', source='us_wb_e2eclilisten')
        fine = create(api, type='workbook', operation='fine', source='us_wb_e2eclilisten')

        # THEN the fine job is handled, and the exploding one given up after three attempts
        assert finished(api, fine['id'])['outcome'] == {'message': 'fine'}
        eventually(running.output, lambda output: 'giving up' in output, 'jobs listen gave up')
        failed_event, fine_event = ready_event(api, exploding['id']), ready_event(api, fine['id'])
        assert attempts.read_text().split() == [failed_event['id']] * 3

        # AND the handled event is acknowledged, the abandoned one is not
        assert 'acknowledgedAt' not in api.get(f'/v1/events/{failed_event["id"]}').json()['data']
        assert api.get(f'/v1/events/{fine_event["id"]}').json()['data']['acknowledgedAt']
        assert running.process.poll() is None

    # WHEN it is stopped with Ctrl-C, THEN it says so and exits cleanly
    assert running.process.returncode == 0
    assert running.output().rstrip().endswith('Stopped.')


def test_a_refused_key_is_one_line_and_exit_code_1(stack, tmp_path):
    listener_file = tmp_path / 'quiet.py'
    listener_file.write_text('from jobs_sdk import Listener\nlistener = Listener()\n')

    result = run_cli('listen', str(listener_file), '--api-key', 'sk_not_a_key', JOBS_API_URL=stack.url)

    assert result.returncode == 1
    assert 'error: the Events API refused (401)' in result.stderr
    assert 'Traceback' not in result.stderr


def test_a_listener_file_that_does_not_load_is_one_line(stack, tmp_path):
    broken = tmp_path / 'broken.py'
    broken.write_text('import jobs_sdk\n\nlistener = jobs_sdk.Listner()\n')

    result = run_cli('listen', str(broken), '--api-key', 'sk_any', JOBS_API_URL=stack.url)

    assert result.returncode == 1
    assert f"error: {broken}:3: AttributeError: module 'jobs_sdk' has no attribute 'Listner'" in result.stderr
