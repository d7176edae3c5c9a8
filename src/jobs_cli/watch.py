"""`jobs watch JOB_ID`: a live progress bar until the job is done, then its outcome.

`JobFollower` follows the job through the Events API (its events, `jobId=`, `since=`): a new event
means the job changed, so it is read again at once. Events can reach the store late, so the job is
also read every `refresh` seconds whatever the events say; and if the Events API is not there, the
job is simply polled. Exit status: 0 complete, 1 failed, 2 canceled (and 1 for an error).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
)
from rich.text import Text

from jobs_cli.connection import ApiKey, ApiUrl, AsJson, ProfileName, api, data_json, err, out, print_json
from jobs_cli.render import TERMINAL, badge, duration, eta, job_name, outcome_view
from jobs_core.models.job import Job
from jobs_core.timestamps import now
from jobs_sdk.client import JobsClient
from jobs_sdk.errors import JobsApiError

EXIT_CODES: Final = {'complete': 0, 'failed': 1, 'canceled': 2}
TIMED_OUT: Final = 124  # as timeout(1)
EVENT_OVERLAP: Final = timedelta(seconds=5)


class JobFollower:
    """The job, each time it changes, until it is complete, failed or canceled (TimeoutError, with
    the last status, once `timeout` seconds have passed)."""

    def __init__(
        self,
        client: JobsClient,
        job_id: str,
        *,
        interval: float = 0.5,
        refresh: float = 2.0,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._job_id = job_id
        self._interval = interval
        self._refresh = refresh
        self._clock = clock
        self._sleep = sleep
        self._deadline = None if timeout is None else clock() + timeout
        self._seen: set[str] = set()
        self._since: datetime | None = None
        self.events_available = True

    def changes(self) -> Iterator[Job]:
        job = self._client.jobs.get(self._job_id)
        yield job
        self._since = job.updated_at - EVENT_OVERLAP
        self._new_events()  # what already happened is not news
        last_read = self._clock()
        while job.status not in TERMINAL:
            if self._deadline is not None and self._clock() >= self._deadline:
                raise TimeoutError(job.status)
            self._sleep(self._interval)
            if self._new_events() or self._clock() - last_read >= self._refresh:
                latest = self._client.jobs.get(self._job_id)
                last_read = self._clock()
                if latest.version != job.version:
                    job = latest
                    yield job

    def _new_events(self) -> bool:
        """Whether the Events API has events of the job not seen before."""
        if not self.events_available or self._since is None:
            return False
        try:
            page = self._client.events.list(job_id=self._job_id, since=self._since, page_size=100)
        except JobsApiError as error:
            if error.status in {401, 403}:
                raise
            self.events_available = False  # no Events API here: the job is polled instead
            return False
        fresh = [event for event in page.data if event.id not in self._seen]
        self._seen.update(event.id for event in fresh)
        if page.data:
            self._since = max(event.created_at for event in page.data) - EVENT_OVERLAP
        return bool(fresh)


# ---------------------------------------------------------------- the display
class _Elapsed(ProgressColumn):
    """Time since the job started (or was created)."""

    def render(self, task: Task) -> Text:
        job: Job | None = task.fields.get('job')
        if job is None:
            return Text('')
        start = job.started_at or job.created_at
        end = job.finished_at if job.status in TERMINAL and job.finished_at else now()
        return Text(f'⏱ {duration((end - start).total_seconds())}', style='yellow')


class _Eta(ProgressColumn):
    """Until estimatedCompletionAt, as the job last said."""

    def render(self, task: Task) -> Text:
        job: Job | None = task.fields.get('job')
        left = eta(job) if job else ''
        return Text(f'ETA {left}' if left else 'ETA -', style='cyan' if left else 'dim')


class _Status(ProgressColumn):
    def render(self, task: Task) -> Text:
        job: Job | None = task.fields.get('job')
        return badge(job.status) if job else Text('')


def progress_display(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(finished_text='•'),
        TextColumn('[bold]{task.description}'),
        _Status(),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        _Elapsed(),
        _Eta(),
        TextColumn('[italic]{task.fields[info]}'),
        console=console,
        transient=False,
        refresh_per_second=8,
    )


def line(job: Job) -> Text:
    """A line per change when the output is no terminal (a log, a pipe)."""
    left = eta(job)
    return Text.assemble(
        (datetime.now().strftime('%H:%M:%S'), 'dim'),
        '  ',
        badge(job.status),
        f' {job.progress or 0:>3}%',
        ('  ' + job.info if job.info else '', 'italic'),
        (f'  (ETA {left})' if left else '', 'cyan'),
    )


def follow(
    client: JobsClient,
    job_id: str,
    *,
    as_json: bool = False,
    interval: float = 0.5,
    timeout: float | None = None,
    console: Console = out,
) -> Job | None:
    """Show the job until it is done; the last job seen, or None on timeout (said on stderr)."""
    follower = JobFollower(client, job_id, interval=interval, timeout=timeout)
    live = console.is_terminal and not as_json
    job: Job | None = None
    with progress_display(console) if live else nullcontext() as display:
        task = None
        try:
            for job in follower.changes():
                if display is not None:
                    if task is None:
                        task = display.add_task(escape(f'{job_name(job)} {job.id}'), total=100, info='', job=job)
                    display.update(task, completed=job.progress or 0, info=escape(job.info or ''), job=job)
                elif not as_json:
                    console.print(line(job))
        except TimeoutError as timed_out:
            err.print(f'still {timed_out} after {timeout:g}s; stopped watching (the job goes on)')
            return None
    return job


def watch_job(
    client: JobsClient,
    job_id: str,
    *,
    as_json: bool = False,
    interval: float = 0.5,
    timeout: float | None = None,
    download: Path | None = None,
) -> int:
    """Watch, print the outcome (and download what it offers into `download`); the exit status."""
    try:
        job = follow(client, job_id, as_json=as_json, interval=interval, timeout=timeout)
    except KeyboardInterrupt:
        err.print('Stopped watching; the job goes on.')
        return 130
    if job is None:
        return TIMED_OUT
    if as_json:
        print_json(data_json(job))
    else:
        out.print(summary(job))
        if job.outcome:
            out.print(outcome_view(job, client.base_url))
    if download is not None and job.status == 'complete':
        from jobs_cli.files_commands import download_outcome  # noqa: PLC0415

        for saved in download_outcome(client, job, download, quiet=as_json):
            if not as_json:
                out.print(f'Saved [bold]{escape(str(saved))}[/]')
    return EXIT_CODES.get(job.status, 1)


def summary(job: Job) -> Text:
    start = job.started_at or job.created_at
    took = f' in {duration(((job.finished_at or now()) - start).total_seconds())}' if job.finished_at else ''
    symbol, style = {'complete': ('✔', 'green'), 'failed': ('✘', 'red'), 'canceled': ('■', 'grey50')}.get(
        job.status, ('●', 'white')
    )
    return Text.assemble(
        (f'{symbol} ', f'bold {style}'), (job.id, 'bold'), f' ({job_name(job)}) ', (job.status, f'bold {style}'), took
    )


def register(app: typer.Typer) -> None:
    app.command(name='watch', rich_help_panel='Jobs')(watch)


def watch(
    job_id: Annotated[str, typer.Argument(help='The job, e.g. us_jb_…', show_default=False)],
    *,
    download: Annotated[
        Path | None,
        typer.Option(
            '--download', help='A folder to save the files the outcome offers (a download, files)', file_okay=False
        ),
    ] = None,
    interval: Annotated[float, typer.Option(min=0.05, help='Seconds between polls of the Events API')] = 0.5,
    timeout: Annotated[float | None, typer.Option(min=0, help='Give up after this many seconds (exit 124)')] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Watch a job live until it is done, then show its outcome.

    Exit 0 complete, 1 failed, 2 canceled."""
    with api(api_url, api_key, profile, as_json) as client:
        code = watch_job(client, job_id, as_json=as_json, interval=interval, timeout=timeout, download=download)
    raise typer.Exit(code)
