"""The `jobs` commands of the API, run with CliRunner against the real API handler in process:
configuration and profiles, every job command readable and as the API's JSON, and failures as one
line with a non-zero exit status."""

import json
import stat

import pytest

from jobs_cli import config
from tests.unit.cli_fixtures import API_URL, BAD_KEY, UNREACHABLE, cli_fixture  # noqa: F401 - fixtures
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.sdk_fixtures import events_table_fixture  # noqa: F401 - fixtures

JOB = ('--type', 'workbook', '--operation', 'render', '--source', 'us_wb_cli0000001')


def created(cli, *extra: str) -> dict:
    return cli.json('create', *JOB, *extra)['data']


# ---------------------------------------------------------------- configuration
def test_configure_saves_a_private_profile_that_commands_use(cli, monkeypatch):
    monkeypatch.delenv('JOBS_API_URL')
    monkeypatch.delenv('JOBS_API_KEY')

    # WHEN a profile is configured at the prompts (the key is checked against the API first)
    result = cli('configure', '--profile', 'staging', input=f'{API_URL}\nsk_staging\n')

    # THEN it is saved, readable by its owner only, and says where
    assert result.exit_code == 0, result.output
    assert 'Saved profile staging' in result.stderr
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert config.load_profiles(cli.config)['staging'] == config.Profile(API_URL, 'sk_staging')

    # AND a command with --profile uses it; without any key, a command says how to get one
    cli.keys.clear()
    assert cli('list', '--profile', 'staging').exit_code == 0
    assert cli.keys[-1] == 'sk_staging'
    missing = cli('list')
    assert missing.exit_code == 1
    assert missing.stderr.strip().startswith('error: no API key')
    unknown = cli('list', '--profile', 'nope')
    assert 'no profile' in unknown.stderr and unknown.exit_code == 1


def test_flags_beat_the_environment_which_beats_the_default_profile(cli, monkeypatch):
    config.save_profile('default', config.Profile(API_URL, 'sk_profile'), cli.config)
    config.save_profile('other', config.Profile(API_URL, 'sk_other'), cli.config)
    monkeypatch.setenv('JOBS_API_KEY', 'sk_environment')

    assert config.resolve(None, 'sk_flag', None).api_key == 'sk_flag'
    assert config.resolve(None, None, None).api_key == 'sk_environment'
    assert config.resolve(None, None, 'other').api_key == 'sk_other'  # named on the command line
    monkeypatch.delenv('JOBS_API_KEY')
    assert config.resolve(None, None, None).api_key == 'sk_profile'
    monkeypatch.setenv('JOBS_PROFILE', 'other')
    assert config.resolve(None, None, None).api_key == 'sk_other'
    # the other profile was kept when the second was saved, and the file is still private
    assert set(config.load_profiles(cli.config)) == {'default', 'other'}
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600


def test_a_profile_name_is_checked(cli):
    result = cli('configure', '--profile', 'no spaces', '--api-key', 'sk_x', '--no-check')
    assert result.exit_code == 1
    assert 'a name is 1-64 letters' in result.stderr


# ---------------------------------------------------------------- reads
def test_list_is_a_table_and_json_is_the_apis(cli):
    job = created(cli, '--trigger', 'immediate', '--info', 'Warming up')
    created(cli)

    table = cli('list')
    assert table.exit_code == 0, table.output
    assert job['id'] in table.stdout and 'workbook:render' in table.stdout and 'Warming up' in table.stdout
    assert '2 of 2 jobs' in table.stdout

    as_json = cli.json('list', '--status', 'ready')
    api = cli.data.call('GET', '/v1/jobs', query={'status': 'ready'}).body
    assert as_json == api
    assert [listed['id'] for listed in as_json['data']] == [job['id']]
    assert 'No jobs match' in cli('list', '--status', 'failed').stdout


def test_get_shows_fields_progress_info_and_eta(cli):
    job = created(cli, '--trigger', 'immediate', '--metadata', '{"owner": "ops"}')
    cli.json('ack', job['id'], '--progress', '40', '--info', 'Rendering page 4', '--eta', '10m')

    shown = cli('get', job['id'])
    assert shown.exit_code == 0
    for expected in (job['id'], 'executing', '40%', 'Rendering page 4', 'in 9m', 'us_wb_cli0000001', '"owner": "ops"'):
        assert expected in shown.stdout, expected
    assert cli.json('get', job['id']) == cli.data.call('GET', f'/v1/jobs/{job["id"]}').body


# ---------------------------------------------------------------- the lifecycle
def test_every_lifecycle_command_moves_the_job(cli):
    job = created(cli)
    assert job['status'] == 'created'

    assert cli.json('execute', job['id']) == {'data': {'success': True}}
    started = cli('ack', job['id'], '--progress', '10', '--info', 'Starting')
    assert started.exit_code == 0 and 'Started' in started.stdout and 'executing 10%' in started.stdout
    tick = cli('ack', job['id'], '--progress', '60')
    assert 'Updated' in tick.stdout

    done = cli.json(
        'complete', job['id'], '-m', 'Rendered 12 pages', '--next-url', 'https://example.com/r', '--acknowledge'
    )
    assert done['data']['status'] == 'complete'
    assert done['data']['outcome'] == {
        'message': 'Rendered 12 pages',
        'next': {'type': 'url', 'url': 'https://example.com/r'},
        'acknowledge': True,
    }
    acknowledged = cli('ack-outcome', job['id'])
    assert acknowledged.exit_code == 0 and 'Acknowledged the outcome' in acknowledged.stdout

    other = created(cli, '--trigger', 'immediate')
    failed = cli('fail', other['id'], '-m', 'Out of paper')
    assert failed.exit_code == 0 and 'now failed' in failed.stdout
    retried = cli.json('retry', other['id'])['data']
    assert (retried['status'], retried['attempt']) == ('ready', 2)
    assert cli.json('cancel', other['id'], '--info', 'Not needed')['data']['status'] == 'canceled'
    assert cli('delete', other['id']).stdout.strip() == f'Deleted {other["id"]}'
    assert cli.data.call('GET', f'/v1/jobs/{other["id"]}').status == 404


def test_create_takes_a_body_and_checks_what_it_needs(cli):
    body = json.dumps({'type': 'sheet', 'operation': 'dedupe', 'source': 'us_sh_cli0000001', 'config': {'a': 1}})
    job = cli.json('create', '--body', body, '--trigger', 'immediate')['data']
    assert (job['operation'], job['config'], job['status']) == ('dedupe', {'a': 1}, 'ready')

    missing = cli('create', '--type', 'sheet')
    assert missing.exit_code == 1
    assert missing.stderr.strip() == 'error: a job needs --operation, --source (or the same fields in --body)'
    not_json = cli('create', *JOB, '--config', '{nope')
    assert not_json.exit_code == 1 and '--config is not JSON' in not_json.stderr


# ---------------------------------------------------------------- failures
def test_the_apis_message_one_line_and_exit_1(cli):
    job = created(cli)
    refused = cli('complete', job['id'])
    assert refused.exit_code == 1
    assert refused.stderr.count('\n') == 1
    assert refused.stderr.startswith('error: ') and '(HTTP 409)' in refused.stderr
    assert 'Traceback' not in refused.output

    # WITH --json, the API's error body is on stdout for scripts
    missing = cli('get', 'us_jb_nothere00001', '--json')
    assert missing.exit_code == 1
    assert json.loads(missing.stdout) == {'errors': [{'key': 'jobId', 'message': 'Job us_jb_nothere00001 not found'}]}


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (('--api-key', BAD_KEY), f'error: {API_URL} refused the API key from --api-key (401)'),
        (('--api-url', f'http://{UNREACHABLE}'), f'error: cannot reach the Jobs API at http://{UNREACHABLE}'),
    ],
)
def test_a_bad_key_or_an_unreachable_api_is_one_line(cli, args, message):
    result = cli('list', *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count('\n') == 1
    assert result.stdout == ''
