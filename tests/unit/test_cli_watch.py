"""`jobs watch` and `jobs events tail`, run with CliRunner against the API in process while a scripted
worker moves the job along on each poll: the progress as it happens, the outcome and what `next`
offers, the exit status of each end, and events as they arrive."""

import json
from datetime import UTC, datetime, timedelta

from jobs_core.models.event import Event
from tests.unit.cli_fixtures import cli_fixture  # noqa: F401 - fixtures
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.sdk_fixtures import envelope, events_table_fixture  # noqa: F401 - fixtures

JOB = {'type': 'workbook', 'operation': 'render', 'source': 'us_wb_watch000001', 'trigger': 'immediate'}
FAST = ('--interval', '0.05')


def ready_job(cli) -> dict:
    reply = cli.data.call('POST', '/v1/jobs', JOB)
    assert reply.status == 201
    return dict(reply.data)


def script(cli, job_id: str, *ends: tuple[str, dict | None]) -> None:
    """Start the job, report 30% then 70%, then end it (one action per poll, after the watch's first
    look at the events, which only learns what is already there)."""
    eta = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    cli.on_poll += [
        lambda: None,
        cli.act('POST', f'/v1/jobs/{job_id}/ack', {'info': 'Rendering page 3', 'progress': 30}),
        cli.act(
            'POST', f'/v1/jobs/{job_id}/ack', {'info': 'Rendering page 7', 'progress': 70, 'estimatedCompletionAt': eta}
        ),
        *(cli.act('POST', f'/v1/jobs/{job_id}/{end}', body, topic=f'job:{end}d') for end, body in ends),
    ]


def test_watch_shows_progress_until_complete_then_the_outcome_and_exits_0(cli):
    job = ready_job(cli)
    outcome = {'message': 'Rendered 10 pages', 'next': {'type': 'url', 'url': 'https://example.com/r', 'label': 'Open'}}
    script(cli, job['id'], ('complete', {'outcome': outcome}))

    result = cli('watch', job['id'], *FAST)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    progress = [line.split()[1:3] for line in lines if line[:2].isdigit()]  # "12:00:01  executing  30%  …"
    assert progress == [['ready', '0%'], ['executing', '30%'], ['executing', '70%'], ['complete', '100%']]
    assert any('Rendering page 7' in line and '(ETA in 4m' in line for line in lines)
    assert f'✔ {job["id"]} (workbook:render) complete' in result.stdout
    assert 'Rendered 10 pages' in result.stdout
    assert 'https://example.com/r (Open)' in result.stdout


def test_watch_exits_1_when_the_job_fails_and_2_when_it_is_canceled(cli):
    failing, canceled = ready_job(cli), ready_job(cli)
    script(cli, failing['id'], ('fail', {'outcome': {'message': 'Out of paper'}}))
    failed = cli('watch', failing['id'], *FAST)
    assert failed.exit_code == 1
    assert 'failed' in failed.stdout and 'Out of paper' in failed.stdout

    cli.on_poll += [lambda: None, cli.act('POST', f'/v1/jobs/{canceled["id"]}/cancel', {'info': 'Stopped by a user'})]
    assert cli('watch', canceled['id'], *FAST).exit_code == 2


def test_watch_without_events_reads_the_job_and_json_prints_the_last_one(cli, monkeypatch):
    # GIVEN an API whose Events API is missing (404): the watch polls the job itself
    job = ready_job(cli)
    cli.data.call('POST', f'/v1/jobs/{job["id"]}/complete', {'outcome': {'message': 'Done'}})

    result = cli('watch', job['id'], '--json')

    assert result.exit_code == 0
    assert json.loads(result.stdout) == cli.data.call('GET', f'/v1/jobs/{job["id"]}').body


def test_watch_downloads_what_the_outcome_offers(cli, tmp_path):
    space = cli.data.space()
    upload = cli.data.upload(b'id,name\n1,Ada\n', space_id=space['id'], name='report.csv', mode='export')
    job = ready_job(cli)
    files = {'type': 'files', 'files': [{'fileId': upload.data['id']}]}
    script(cli, job['id'], ('complete', {'outcome': {'message': 'Exported', 'next': files}}))

    result = cli('watch', job['id'], *FAST, '--download', str(tmp_path / 'out'))

    assert result.exit_code == 0, result.output
    assert (tmp_path / 'out' / 'report.csv').read_bytes() == b'id,name\n1,Ada\n'
    assert f'/v1/files/{upload.data["id"]}/download' in result.stdout
    assert 'Saved' in result.stdout


def test_watch_gives_up_after_its_timeout_with_124(cli):
    job = ready_job(cli)
    result = cli('watch', job['id'], *FAST, '--timeout', '0.2')
    assert result.exit_code == 124
    assert 'still ready after 0.2s' in result.stderr


def test_events_tail_prints_events_as_they_arrive(cli):
    job = ready_job(cli)
    # AN event from before the tail starts is not shown
    cli.events.put(
        Event.model_validate(
            envelope('job:ready', job_id=job['id'], created_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    )
    cli.on_poll += [
        cli.act('POST', f'/v1/jobs/{job["id"]}/ack', {'info': 'Halfway', 'progress': 50}),
        cli.act('POST', f'/v1/jobs/{job["id"]}/complete', None, topic='job:completed'),
    ]

    result = cli('events', 'tail', '--job', job['id'], '--interval', '0.1', '--limit', '2')

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert 'job:updated' in lines[0] and job['id'] in lines[0] and 'executing' in lines[0] and '50%' in lines[0]
    assert 'job:completed' in lines[1] and 'complete' in lines[1]

    cli.on_poll.append(cli.act('POST', f'/v1/jobs/{job["id"]}/outcome/ack', None, topic='job:outcome-acknowledged'))
    as_json = cli(
        'events', 'tail', '--topic', 'job:outcome-acknowledged', '--json', '--interval', '0.1', '--limit', '1'
    )
    event = json.loads(as_json.stdout)
    assert (event['topic'], event['context']['jobId']) == ('job:outcome-acknowledged', job['id'])
