"""`jobs upload FILE --space S [--wait]` and `jobs export SHEET -o out.csv`.

Upload: a small file goes in one request to the API, a big one straight to storage through a
presigned upload, with a progress bar either way. `--wait` then follows the file's extract job
(`file:extract`, which the platform creates for an `import` upload) to the end; if none appears
within `--extract-timeout` seconds it says so and exits 3 rather than wait for nothing.

Export: creates the `sheet:export` job, watches it, and saves what its outcome's `next` offers (a
download, or files) to the output path. A failed export prints the job's message and exits 1.
"""

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Final, Literal

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

from jobs_cli.connection import ApiKey, ApiUrl, AsJson, ProfileName, api, data_json, err, fail, out, print_json
from jobs_cli.watch import EXIT_CODES, watch_job
from jobs_core.models.file import File
from jobs_core.models.job import Job
from jobs_sdk.client import JobsClient

NO_EXTRACT: Final = 3
EXTRACT: Final = ('file', 'extract')


def register(app: typer.Typer) -> None:
    app.command(name='upload', rich_help_panel='Files')(upload)
    app.command(name='export', rich_help_panel='Files')(export)


def _bytes(size: int) -> str:
    for unit in ('B', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{size:,} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024  # type: ignore[assignment]
    return f'{size} B'  # pragma: no cover


def _transfer(quiet: bool) -> Progress:
    return Progress(
        TextColumn('[bold]{task.description}'),
        BarColumn(bar_width=30),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )


def _reporter(progress: Progress, task: TaskID) -> Callable[[int], None]:
    def report(done: int) -> None:
        progress.update(task, completed=done)

    return report


# ---------------------------------------------------------------- upload
def upload(
    path: Annotated[
        Path, typer.Argument(help='The file to upload', exists=True, dir_okay=False, readable=True, show_default=False)
    ],
    *,
    space: Annotated[str, typer.Option('--space', '--space-id', '-s', help='The space it goes to', show_default=False)],
    mode: Annotated[Literal['import', 'export'], typer.Option(help='import: extract its data')] = 'import',
    name: Annotated[str | None, typer.Option(help='The name it gets [default: the file name]')] = None,
    wait: Annotated[bool, typer.Option('--wait', help='Then follow the extract job until it is done')] = False,
    extract_timeout: Annotated[
        float, typer.Option(min=0, help='With --wait: seconds to wait for the extract job to appear')
    ] = 15.0,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Upload a file to a space, with a progress bar; --wait follows its extract job.

    With --wait the exit status is the extract job's (0 complete, 1 failed, 2 canceled), or 3 when no
    extract job started."""
    size = path.stat().st_size
    with api(api_url, api_key, profile, as_json) as client:
        with _transfer(as_json) as progress:
            task = progress.add_task(escape(f'Uploading {name or path.name}'), total=size or 1)
            uploaded = client.files.upload(
                path, space_id=space, mode=mode, name=name, progress=_reporter(progress, task)
            )
            progress.update(task, completed=size or 1)
        if as_json:
            print_json(data_json(uploaded), compact=wait)
        else:
            out.print(
                f'Uploaded [bold]{escape(uploaded.name)}[/] ({_bytes(uploaded.size)}) as [bold]{uploaded.id}[/] '
                f'to space {uploaded.space_id} ({uploaded.mode})'
            )
        if not wait:
            return
        if mode != 'import':
            fail('--wait follows the extract job of an import upload; this one is an export file', code=NO_EXTRACT)
        job = find_extract_job(client, uploaded, extract_timeout, quiet=as_json)
        if job is None:
            message = (
                f'no extract job started for {uploaded.id} within {extract_timeout:g}s: this platform does not '
                'extract uploads (file:extract) yet. The file is uploaded; nothing else will happen to it.'
            )
            if as_json:
                print_json({'errors': [{'key': 'extract', 'message': message}]}, compact=True)
            fail(message, code=NO_EXTRACT)
        if not as_json:
            out.print(f'Extracting: job [bold]{job.id}[/]')
        code = watch_job(client, job.id, as_json=as_json)
    raise typer.Exit(code)


def find_extract_job(client: JobsClient, file: File, timeout: float, *, quiet: bool = False) -> Job | None:
    """The file's extract job, once it appears (or None after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    with nullcontext() if quiet else err.status('Waiting for the extract job…', spinner='dots'):
        while True:
            for job in client.jobs.list(file_id=file.id, page_size=100).data:
                if (job.type, job.operation) == EXTRACT:
                    return job
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)


# ---------------------------------------------------------------- export
def export(
    sheet: Annotated[str, typer.Argument(help='The sheet, e.g. us_sh_…', show_default=False)],
    *,
    output: Annotated[
        Path | None, typer.Option('--output', '-o', help='Where to save it [default: <sheet slug>.csv]', dir_okay=False)
    ] = None,
    filter_: Annotated[
        Literal['valid', 'error', 'all'] | None, typer.Option('--filter', help='Only valid, or only invalid, records')
    ] = None,
    timeout: Annotated[float | None, typer.Option(min=0, help='Stop waiting after this many seconds')] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Export a sheet: run its export job with a progress bar, then download the result.

    Exit 0 when saved, 1 when the export failed (its message is printed), 2 when it was canceled."""
    with api(api_url, api_key, profile, as_json) as client:
        found = client.request('GET', f'/v1/sheets/{sheet}')['data']
        target = output or Path(f'{found.get("slug") or sheet}.csv')
        body: dict[str, object] = {'type': 'sheet', 'operation': 'export', 'source': sheet, 'trigger': 'immediate'}
        if filter_:
            body['config'] = {'options': {'filter': filter_}}
        job = client.jobs.create(body)
        if not as_json:
            out.print(f'Exporting sheet [bold]{escape(str(found.get("name") or sheet))}[/]: job [bold]{job.id}[/]')
        code = watch_job(client, job.id, as_json=as_json, timeout=timeout)
        if code != 0:
            if code == EXIT_CODES['failed']:
                failed = client.jobs.get(job.id)
                message = (failed.outcome or {}).get('message') or failed.info or 'the export job failed'
                fail(f'the export failed: {message}')
            raise typer.Exit(code)
        finished = client.jobs.get(job.id)
        saved = download_outcome(client, finished, target, quiet=as_json, single=True)
        if not saved:
            fail(f'the export job {job.id} completed, but its outcome offers nothing to download')
        if not as_json:
            out.print(f'Saved [bold]{escape(str(saved[0]))}[/] ({_bytes(saved[0].stat().st_size)})')


# ---------------------------------------------------------------- downloads
def download_outcome(
    client: JobsClient, job: Job, destination: Path, *, quiet: bool = False, single: bool = False
) -> list[Path]:
    """Save what the job's outcome `next` offers (a download URL, files, a file id): into the folder
    `destination`, or with `single` as the file `destination`. The paths saved."""
    follow = (job.outcome or {}).get('next')
    if not isinstance(follow, dict):
        return []
    wanted: list[tuple[str, str]] = []  # (url or API path, file name)
    if follow.get('type') == 'download' and follow.get('url'):
        url = str(follow['url'])
        wanted.append((url, str(follow.get('fileName') or Path(url.split('?', maxsplit=1)[0]).name or 'download')))
    elif follow.get('type') == 'files':
        for item in follow.get('files') or []:
            file_id = str(item.get('fileId'))
            wanted.append((f'/v1/files/{file_id}/download', client.files.get(file_id).name))
    elif follow.get('type') == 'id' and str(follow.get('id', '')).startswith('us_fl_'):
        file_id = str(follow['id'])
        wanted.append((f'/v1/files/{file_id}/download', client.files.get(file_id).name))
    if single:
        wanted = wanted[:1]
    saved = []
    for url, name in wanted:
        path = destination if single else destination / Path(name).name
        path.parent.mkdir(parents=True, exist_ok=True)
        with _transfer(quiet) as progress, path.open('wb') as stream:
            task = progress.add_task(escape(f'Downloading {path.name}'), total=None)
            client.files.fetch(url, stream, progress=_reporter(progress, task))
        saved.append(path)
    return saved
