"""`jobs upload` and `jobs export`, run with CliRunner against the API in process (moto's S3 behind
the presigned URLs): direct and presigned uploads (one PUT, and parts), following the extract job or
saying there is none, and an export that downloads its result or fails with the job's message."""

import json

import pytest

import jobs_cli.files_commands
import jobs_core.files
import jobs_sdk.files
from tests.unit.cli_fixtures import cli_fixture  # noqa: F401 - fixtures
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.sdk_fixtures import events_table_fixture  # noqa: F401 - fixtures

CSV = b'name,email\nAda,ada@example.com\nGrace,grace@example.com\n'
MiB = 1024 * 1024


def stored_bytes(cli, file_id: str) -> bytes:
    url = cli.data.call('GET', f'/v1/files/{file_id}/download').headers['Location']
    bucket, key = url.split('://', 1)[1].split('.', 1)[0], url.split('.com/', 1)[1].split('?', 1)[0]
    return cli.data.s3.get_object(Bucket=bucket, Key=key)['Body'].read()


def test_a_small_file_goes_in_one_request(cli, tmp_path):
    space = cli.data.space()
    path = tmp_path / 'contacts.csv'
    path.write_bytes(CSV)

    result = cli('upload', str(path), '--space', space['id'])

    assert result.exit_code == 0, result.output
    assert f'Uploaded contacts.csv ({len(CSV)} B) as us_fl_' in result.stdout
    posts = [request for request in cli.requests if request.method == 'POST']
    assert [request.url.path for request in posts] == ['/v1/files']
    assert posts[0].headers['content-type'].startswith('multipart/form-data')
    file = cli.data.call('GET', '/v1/files', query={'spaceId': space['id']}).data[0]
    assert (file['name'], file['status'], file['size']) == ('contacts.csv', 'complete', len(CSV))
    assert stored_bytes(cli, file['id']) == CSV


@pytest.mark.parametrize('multipart', [False, True])
def test_a_big_file_goes_straight_to_storage(cli, tmp_path, monkeypatch, multipart):
    # GIVEN limits scaled down: past 1 KiB a file is presigned, past 6 MiB in parts of 5 MiB
    monkeypatch.setattr(jobs_sdk.files, 'DIRECT_UPLOAD_LIMIT', 1024)
    monkeypatch.setattr(jobs_core.files, 'SINGLE_PUT_LIMIT', 6 * MiB)
    monkeypatch.setattr(jobs_core.files, 'MIN_PART_SIZE', 5 * MiB)
    space = cli.data.space()
    content = CSV + b''.join(
        b'row%09d,someone%09d@example.com\n' % (i, i) for i in range((11 if multipart else 1) * 30_000)
    )
    path = tmp_path / 'big.csv'
    path.write_bytes(content)

    result = cli('upload', str(path), '--space', space['id'], '--json')

    assert result.exit_code == 0, result.output
    file = json.loads(result.stdout)['data']
    assert (file['status'], file['size']) == ('complete', len(content))
    assert stored_bytes(cli, file['id']) == content
    puts = [request for request in cli.requests if request.method == 'PUT']
    assert all(request.url.host != 'jobs.test' and 'authorization' not in request.headers for request in puts)
    assert len(puts) == (3 if multipart else 1)
    assert cli.requests[-1].url.path == f'/v1/files/{file["id"]}/complete'


def test_upload_wait_says_so_when_no_extract_job_starts(cli, tmp_path, monkeypatch):
    # GIVEN a platform that starts no extract job (the command looks for one that never comes)
    monkeypatch.setattr(jobs_cli.files_commands, 'EXTRACT', ('file', 'never-started'))
    space = cli.data.space()
    path = tmp_path / 'contacts.csv'
    path.write_bytes(CSV)

    result = cli('upload', str(path), '--space', space['id'], '--wait', '--extract-timeout', '0.2')

    assert result.exit_code == 3
    assert 'Uploaded contacts.csv' in result.stdout
    assert 'no extract job started for us_fl_' in result.stderr
    assert 'does not extract uploads (file:extract) yet' in result.stderr


def test_upload_wait_follows_the_extract_job(cli, tmp_path):
    space = cli.data.space()
    path = tmp_path / 'contacts.csv'
    path.write_bytes(CSV)
    job_ids: list[str] = []

    def platform_extracts() -> None:
        """The file's extract job: the platform's, or one made here as the platform would make it."""
        file_id = cli.data.call('GET', '/v1/files', query={'spaceId': space['id']}).data[0]['id']
        jobs = cli.data.call('GET', '/v1/jobs', query={'fileId': file_id}).data
        extract = [job['id'] for job in jobs if (job['type'], job['operation']) == ('file', 'extract')]
        if not extract:
            body = {
                'type': 'file',
                'operation': 'extract',
                'source': file_id,
                'fileId': file_id,
                'trigger': 'immediate',
            }
            extract = [cli.data.call('POST', '/v1/jobs', body).data['id']]
        job_ids.append(extract[0])

    def step(path_end: str, body: dict | None, topic: str = 'job:updated'):
        def act() -> None:  # the job's id is known only once it exists
            cli.act('POST', f'/v1/jobs/{job_ids[0]}/{path_end}', body, topic)()

        return act

    cli.on_poll += [
        platform_extracts,
        lambda: None,
        step('ack', {'info': 'Extracted 1 of 2 rows', 'progress': 50}),
        step('complete', {'outcome': {'message': 'Extracted 2 rows'}}, 'job:completed'),
    ]

    result = cli('upload', str(path), '--space', space['id'], '--wait')

    assert result.exit_code == 0, result.output
    assert f'Extracting: job {job_ids[0]}' in result.stdout
    assert 'Extracted 1 of 2 rows' in result.stdout and 'Extracted 2 rows' in result.stdout


def test_export_fails_with_the_jobs_message_when_the_platform_cannot_export(cli, tmp_path):
    sheet = cli.data.sheet()
    # the platform's answer when it has no export operation: the job fails, saying so
    cli.on_poll += [lambda: None, lambda: _fail_latest(cli, 'sheet:export is not an operation this platform runs')]

    result = cli('export', sheet['id'], '-o', str(tmp_path / 'out.csv'))

    assert result.exit_code == 1
    assert result.stderr.strip() == 'error: the export failed: sheet:export is not an operation this platform runs'
    assert not (tmp_path / 'out.csv').exists()
    created = cli.data.call('GET', '/v1/jobs').data[0]
    assert (created['type'], created['operation'], created['source']) == ('sheet', 'export', sheet['id'])


def _fail_latest(cli, message: str) -> None:
    job = cli.data.call('GET', '/v1/jobs').data[0]
    cli.act('POST', f'/v1/jobs/{job["id"]}/fail', {'outcome': {'message': message}}, 'job:failed')()


def test_export_downloads_the_result_the_outcome_offers(cli, tmp_path):
    sheet = cli.data.sheet()
    exported = cli.data.upload(CSV, space_id=cli.data.space()['id'], name='contacts.csv', mode='export').data

    def complete_latest() -> None:
        job = cli.data.call('GET', '/v1/jobs').data[0]
        url = f'/v1/files/{exported["id"]}/download'
        outcome = {'message': 'Exported 2 records', 'next': {'type': 'download', 'url': url, 'fileName': 'c.csv'}}
        cli.act('POST', f'/v1/jobs/{job["id"]}/complete', {'outcome': outcome}, 'job:completed')()

    cli.on_poll += [lambda: None, complete_latest]

    result = cli('export', sheet['id'], '-o', str(tmp_path / 'out.csv'))

    assert result.exit_code == 0, result.output
    assert (tmp_path / 'out.csv').read_bytes() == CSV
    assert 'Exported 2 records' in result.stdout and 'Saved' in result.stdout


def test_export_of_an_unknown_sheet_is_the_apis_404(cli, tmp_path):
    result = cli('export', 'us_sh_nothere00001', '-o', str(tmp_path / 'out.csv'))
    assert result.exit_code == 1
    assert result.stderr.startswith('error: Sheet us_sh_nothere00001 not found')
