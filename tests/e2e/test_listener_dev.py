"""The export example run the third way: `jobs dev --listener examples/export_action.py`, in a local
stack of its own, where the stack subscribes the listener to its bus with `event_patterns()` and
invokes `lambda_handler` as an EventBridge rule's Lambda target would."""

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack, start_stack, stop_stack
from tests.e2e.listening import EXAMPLES, create
from tests.e2e.polling import finished

pytestmark = pytest.mark.xdist_group('localstack')


@pytest.fixture(scope='module')
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('exports')


@pytest.fixture(scope='module')
def export_stack(tmp_path_factory: pytest.TempPathFactory, exports: Path) -> Iterator[RunningStack]:
    log = tmp_path_factory.mktemp('listener-stack') / 'jobs-dev.log'
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv('JOBS_EXPORT_DIR', str(exports))  # the stack's processes inherit this environment
        running = start_stack(log, f'sk_e2e_{secrets.token_urlsafe(24)}', listeners=(EXAMPLES / 'export_action.py',))
    yield running
    stop_stack(running)


def test_the_export_example_runs_inside_the_local_stack(export_stack, exports):
    assert 'export_action.listener' in export_stack.output()
    with httpx.Client(
        base_url=export_stack.url, headers={'Authorization': f'Bearer {export_stack.api_key}'}, timeout=30
    ) as api:
        job = create(
            api,
            type='workbook',
            operation='export',
            source='us_wb_e2edevlisten',
            managed=False,
            input={'format': 'json', 'rows': [{'name': 'Ada'}]},
        )
        other = create(api, type='workbook', operation='import', source='us_wb_e2edevlisten')

        done = finished(api, job['id'])

        assert (done['status'], done['info']) == ('complete', 'Starting export...')
        assert done['outcome'] == {'message': 'Export completed successfully'}
        assert (exports / f'{job["id"]}.json').read_text() == '[{"name": "Ada"}]'
        # The rule's pattern is the listener's: a job it does not handle stays ready.
        assert api.get(f'/v1/jobs/{other["id"]}').json()['data']['status'] == 'ready'
