"""`jobs list | get | create | ack | complete | fail | cancel | retry | delete | execute | ack-outcome`
and `jobs configure`: one API call each, a readable view, or the API's JSON with `--json`."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from jobs_cli import config
from jobs_cli.connection import ApiKey, ApiUrl, AsJson, ProfileName, api, data_json, err, fail, out, print_json
from jobs_cli.render import badge, job_name, job_view, jobs_table
from jobs_core.models.job import Job, JobStatus
from jobs_sdk.client import JobsClient

JobId = Annotated[str, typer.Argument(help='The job, e.g. us_jb_…', show_default=False)]
Info = Annotated[str | None, typer.Option('--info', help='Text for the job: what it is doing now')]
_DURATION = re.compile(r'^(\d+(?:\.\d+)?)([smhd])$')


def register(app: typer.Typer) -> None:
    commands = (list_jobs, get, create, execute, ack, complete, fail_job, cancel, retry, delete, ack_outcome)
    names = {'list_jobs': 'list', 'fail_job': 'fail', 'ack_outcome': 'ack-outcome'}
    for command in commands:
        app.command(name=names.get(command.__name__, command.__name__), rich_help_panel='Jobs')(command)


def register_setup(app: typer.Typer) -> None:
    app.command(name='configure', rich_help_panel='Setup')(configure)


def parse_json_object(value: str | None, option: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as error:
        fail(f'{option} is not JSON: {error}')
    if not isinstance(parsed, dict):
        fail(f'{option} must be a JSON object, e.g. {{"key": "value"}}')
    return parsed


def parse_when(value: str | None, option: str = '--eta') -> datetime | None:
    """An ISO-8601 time, or a duration from now: 90s, 5m, 2h, 1d."""
    if value is None:
        return None
    found = _DURATION.match(value.strip())
    if found:
        unit = {'s': 'seconds', 'm': 'minutes', 'h': 'hours', 'd': 'days'}[found[2]]
        return datetime.now(UTC) + timedelta(**{unit: float(found[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f'{option} {value!r} is neither an ISO-8601 time (2030-01-01T12:00:00Z) nor a duration (90s, 5m, 2h)')
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def show_job(job: Job, as_json: bool, headline: str | None = None) -> None:
    if as_json:
        print_json(data_json(job))
        return
    if headline:
        out.print(headline)
    out.print(job_view(job))


def one_line(verb: str, job: Job) -> str:
    progress = f' {job.progress}%' if job.status == 'executing' and job.progress is not None else ''
    info = f' — {escape(job.info)}' if job.info else ''
    return f'{verb} [bold]{job.id}[/] ({escape(job_name(job))}): now [bold]{job.status}[/]{progress}{info}'


# ---------------------------------------------------------------- reads
def list_jobs(
    *,
    status: Annotated[JobStatus | None, typer.Option(help='Only jobs with this status')] = None,
    space_id: Annotated[str | None, typer.Option('--space', '--space-id', help='Only jobs of this space')] = None,
    workbook_id: Annotated[str | None, typer.Option('--workbook', '--workbook-id', help='Jobs of a workbook')] = None,
    file_id: Annotated[str | None, typer.Option('--file', '--file-id', help='Jobs of a file')] = None,
    parent_id: Annotated[str | None, typer.Option('--parent', '--parent-id', help='The parts of a split job')] = None,
    source: Annotated[str | None, typer.Option(help='Only jobs with this source')] = None,
    exclude_child_jobs: Annotated[bool, typer.Option('--exclude-child-jobs', help='Only top-level jobs')] = False,
    sort: Annotated[Literal['asc', 'desc'], typer.Option('--sort', help='By creation time')] = 'desc',
    page_size: Annotated[int, typer.Option(min=1, max=100, help='Jobs per page')] = 20,
    page: Annotated[int | None, typer.Option(min=1, help='Page number')] = None,
    page_token: Annotated[str | None, typer.Option(help="The previous page's nextPageToken")] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """List the jobs of the environment, newest first, with the API's filters."""
    filters: dict[str, Any] = {
        'status': status,
        'space_id': space_id,
        'workbook_id': workbook_id,
        'file_id': file_id,
        'parent_id': parent_id,
        'source': source,
        'exclude_child_jobs': exclude_child_jobs or None,
        'sort_direction': sort,
        'page_size': page_size,
        'page_number': page,
        'page_token': page_token,
    }
    with api(api_url, api_key, profile, as_json) as client:
        listed = client.jobs.list(**{name: value for name, value in filters.items() if value is not None})
    if as_json:
        print_json(listed.model_dump(mode='json'))
        return
    if not listed.data:
        out.print('No jobs' + (' match these filters.' if any(v for v in filters.values() if v not in {sort}) else '.'))
        return
    out.print(jobs_table(listed.data))
    pagination = listed.pagination
    footer = f'{len(listed.data)} of {pagination.total_count} jobs'
    footer += f', page {pagination.current_page}/{pagination.page_count}'
    if pagination.next_page_token:
        footer += f'; next page: --page-token {pagination.next_page_token}'
    out.print(f'[dim]{escape(footer)}[/]')


def get(
    job_id: JobId,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Show a job: status, progress, info, ETA, times, outcome."""
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.get(job_id)
    show_job(job, as_json)


# ---------------------------------------------------------------- create
def create(
    *,
    job_type: Annotated[str | None, typer.Option('--type', help='file, workbook, sheet, space… or your own')] = None,
    operation: Annotated[str | None, typer.Option(help="What to do, e.g. 'export'")] = None,
    source: Annotated[str | None, typer.Option(help='The id of the file, workbook, sheet or space it acts on')] = None,
    trigger: Annotated[
        Literal['immediate', 'manual'] | None,
        typer.Option(help='immediate: ready at once (listeners start it); manual: created, until executed'),
    ] = None,
    destination: Annotated[str | None, typer.Option(help='Where the result goes')] = None,
    space_id: Annotated[str | None, typer.Option('--space', '--space-id', help='The space')] = None,
    file_id: Annotated[str | None, typer.Option('--file', '--file-id', help='The file')] = None,
    mode: Annotated[
        Literal['foreground', 'background', 'toolbarBlocking', 'hidden'] | None, typer.Option(help='How a UI shows it')
    ] = None,
    info: Info = None,
    config_json: Annotated[str | None, typer.Option('--config', help='config, as a JSON object')] = None,
    input_json: Annotated[str | None, typer.Option('--input', help='input, as a JSON object')] = None,
    metadata: Annotated[str | None, typer.Option(help='metadata, as a JSON object')] = None,
    body: Annotated[
        str | None, typer.Option('--body', help='The whole request body as JSON (the options above override it)')
    ] = None,
    watch: Annotated[bool, typer.Option('--watch', help='Then watch it until it is done (as `jobs watch`)')] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Create a job. `--trigger immediate` makes it ready at once; otherwise `jobs execute` readies it."""
    fields: dict[str, Any] = parse_json_object(body, '--body') or {}
    options = {
        'type': job_type,
        'operation': operation,
        'source': source,
        'trigger': trigger,
        'destination': destination,
        'spaceId': space_id,
        'fileId': file_id,
        'mode': mode,
        'info': info,
        'config': parse_json_object(config_json, '--config'),
        'input': parse_json_object(input_json, '--input'),
        'metadata': parse_json_object(metadata, '--metadata'),
    }
    fields.update({name: value for name, value in options.items() if value is not None})
    missing = [f'--{name}' for name in ('type', 'operation', 'source') if not fields.get(name)]
    if missing:
        fail(f'a job needs {", ".join(missing)} (or the same fields in --body)')
    with api(api_url, api_key, profile, as_json) as client:
        job = _create(client, fields)
        if not watch:
            show_job(job, as_json, one_line('Created', job))
            return
        if not as_json:
            out.print(one_line('Created', job))
        from jobs_cli.watch import watch_job  # noqa: PLC0415

        code = watch_job(client, job.id, as_json=as_json)
    raise typer.Exit(code)


def _create(client: JobsClient, fields: dict[str, Any]) -> Job:
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return client.jobs.create(fields)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = '.'.join(str(part) for part in first['loc'])
        fail(f'{where}: {first["msg"]}')


# ---------------------------------------------------------------- the lifecycle
def execute(
    job_id: JobId, api_url: ApiUrl = None, api_key: ApiKey = None, profile: ProfileName = None, as_json: AsJson = False
) -> None:
    """Make a created (or planning) job ready, for listeners to start it."""
    with api(api_url, api_key, profile, as_json) as client:
        client.jobs.execute(job_id)
        job = client.jobs.get(job_id)
    if as_json:
        print_json({'data': {'success': True}})
        return
    out.print(one_line('Executed', job))


def ack(
    job_id: JobId,
    *,
    info: Info = None,
    progress: Annotated[int | None, typer.Option(min=0, max=100, help='Progress, 0-100')] = None,
    eta: Annotated[
        str | None, typer.Option('--eta', help='Estimated completion: an ISO-8601 time or a duration (90s, 5m)')
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Start a ready job (ready → executing), or report progress on an executing one."""
    when = parse_when(eta)
    with api(api_url, api_key, profile, as_json) as client:
        job, started = client.jobs.claim(job_id, info=info, progress=progress, estimated_completion_at=when)
    show_job(job, as_json) if as_json else out.print(one_line('Started' if started else 'Updated', job))


def _outcome(
    message: str | None, heading: str | None, outcome_json: str | None, next_url: str | None, acknowledge: bool
) -> dict[str, Any] | None:
    outcome = parse_json_object(outcome_json, '--outcome') or {}
    for name, value in (('message', message), ('heading', heading)):
        if value is not None:
            outcome[name] = value
    if next_url:
        outcome['next'] = {'type': 'url', 'url': next_url}
    if acknowledge:
        outcome['acknowledge'] = True
    return outcome or None


Message = Annotated[str | None, typer.Option('--message', '-m', help="The outcome's message")]
Heading = Annotated[str | None, typer.Option(help="The outcome's heading")]
OutcomeJson = Annotated[
    str | None, typer.Option('--outcome', help='The whole outcome as JSON, e.g. {"next": {"type": "url", …}}')
]
NextUrl = Annotated[str | None, typer.Option('--next-url', help='Offer a link to open next')]
Acknowledge = Annotated[
    bool, typer.Option('--acknowledge', help='The user must acknowledge the outcome (a dialog in a UI)')
]


def complete(
    job_id: JobId,
    *,
    message: Message = None,
    heading: Heading = None,
    outcome: OutcomeJson = None,
    next_url: NextUrl = None,
    acknowledge: Acknowledge = False,
    info: Info = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Complete a job (progress 100), with an outcome for the user."""
    body = _outcome(message, heading, outcome, next_url, acknowledge)
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.complete(job_id, outcome=body, info=info)
    show_job(job, as_json) if as_json else out.print(one_line('Completed', job))


def fail_job(
    job_id: JobId,
    *,
    message: Message = None,
    heading: Heading = None,
    outcome: OutcomeJson = None,
    next_url: NextUrl = None,
    acknowledge: Acknowledge = False,
    info: Info = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Fail a job, with an outcome saying why."""
    body = _outcome(message, heading, outcome, next_url, acknowledge)
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.fail(job_id, outcome=body, info=info)
    show_job(job, as_json) if as_json else out.print(one_line('Failed', job))


def cancel(
    job_id: JobId,
    *,
    info: Info = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a job that has not finished (a running system job is stopped)."""
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.cancel(job_id, info=info)
    show_job(job, as_json) if as_json else out.print(one_line('Canceled', job))


def retry(
    job_id: JobId, api_url: ApiUrl = None, api_key: ApiKey = None, profile: ProfileName = None, as_json: AsJson = False
) -> None:
    """Run a failed or canceled job again, as a new attempt."""
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.retry(job_id)
    show_job(job, as_json) if as_json else out.print(one_line(f'Retrying (attempt {job.attempt})', job))


def delete(
    job_id: JobId, api_url: ApiUrl = None, api_key: ApiKey = None, profile: ProfileName = None, as_json: AsJson = False
) -> None:
    """Delete a job."""
    with api(api_url, api_key, profile, as_json) as client:
        client.jobs.delete(job_id)
    if as_json:
        print_json({'data': {'success': True}})
    else:
        out.print(f'Deleted [bold]{job_id}[/]')


def ack_outcome(
    job_id: JobId, api_url: ApiUrl = None, api_key: ApiKey = None, profile: ProfileName = None, as_json: AsJson = False
) -> None:
    """Acknowledge the outcome of a complete or failed job (the user has seen it)."""
    with api(api_url, api_key, profile, as_json) as client:
        job = client.jobs.ack_outcome(job_id)
    if as_json:
        print_json(data_json(job))
    else:
        out.print(f'Acknowledged the outcome of [bold]{job.id}[/] ', badge(job.status))


# ---------------------------------------------------------------- configure
def configure(
    profile: Annotated[str, typer.Option('--profile', help='The profile to save')] = config.DEFAULT_PROFILE,
    api_url: Annotated[str | None, typer.Option('--api-url', help='The Jobs API')] = None,
    api_key: Annotated[str | None, typer.Option('--api-key', help='The API key (asked for when left out)')] = None,
    check: Annotated[bool, typer.Option(help='Check the key against the API before saving')] = True,
    as_json: AsJson = False,
) -> None:
    """Save the API URL and key as a profile (in your config directory, readable only by you)."""
    try:
        config.check_profile_name(profile)
        saved = config.load_profiles().get(profile, config.Profile())
    except config.ConfigError as error:
        fail(str(error))
    url = api_url or typer.prompt('API URL', default=saved.api_url or config.DEFAULT_LOCAL_URL, err=True)
    key = api_key or typer.prompt(
        'API key' + (' (Enter keeps the saved one)' if saved.api_key else ''),
        default=saved.api_key or '',
        show_default=False,
        hide_input=True,
        err=True,
    )
    if not key:
        fail('an API key is required (`jobs dev` prints one; `jobs keys create` makes one)')
    url = url.rstrip('/')
    if check:
        with api(url, key, None, as_json) as client:
            client.jobs.list(page_size=1)
    try:
        path = config.save_profile(profile, config.Profile(url, key))
    except (config.ConfigError, OSError) as error:
        fail(f'cannot save the profile: {error}')
    if as_json:
        print_json({'profile': profile, 'apiUrl': url, 'path': str(path)})
        return
    err.print(f'Saved profile [bold]{escape(profile)}[/] ({escape(url)}) to {escape(str(path))}')
    if profile != config.DEFAULT_PROFILE:
        err.print(f'Use it with --profile {escape(profile)} or JOBS_PROFILE={escape(profile)}')
