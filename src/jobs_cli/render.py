"""How jobs, outcomes and events read in a terminal: status badges, progress bars, tables."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from jobs_core.models.event import Event
from jobs_core.models.job import Job
from jobs_core.timestamps import now

TERMINAL: Final = frozenset({'complete', 'failed', 'canceled'})
STATUS_STYLE: Final = {
    'created': 'bold white on grey37',
    'planning': 'bold white on dark_cyan',
    'scheduled': 'bold white on medium_purple3',
    'waiting': 'bold black on yellow3',
    'ready': 'bold black on cyan',
    'executing': 'bold white on dodger_blue2',
    'complete': 'bold white on green4',
    'failed': 'bold white on red3',
    'canceled': 'bold white on grey30',
}
TOPIC_STYLE: Final = {
    'job:created': 'cyan',
    'job:ready': 'bright_cyan',
    'job:scheduled': 'magenta',
    'job:updated': 'blue',
    'job:completed': 'green',
    'job:failed': 'red',
    'job:outcome-acknowledged': 'green',
    'job:parts-completed': 'green',
    'job:deleted': 'bright_black',
}


def badge(status: str) -> Text:
    return Text(f' {status} ', style=STATUS_STYLE.get(status, 'reverse'))


def job_name(job: Job) -> str:
    return f'{job.type}:{job.operation}'


def bar(progress: int | None, status: str, width: int = 20) -> RenderableType:
    style = {'complete': 'green4', 'failed': 'red3', 'canceled': 'grey50'}.get(status, 'dodger_blue2')
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        ProgressBar(total=100, completed=progress or 0, width=width, complete_style=style, finished_style=style),
        Text(f'{progress or 0:>3}%'),
    )
    return grid


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ''
    seconds = (now() - moment).total_seconds()
    if seconds < 0:
        return 'in ' + duration(-seconds)
    return duration(seconds) + ' ago'


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f'{seconds}s'
    if seconds < 3600:
        return f'{seconds // 60}m {seconds % 60:02d}s'
    if seconds < 86400:
        return f'{seconds // 3600}h {seconds % 3600 // 60:02d}m'
    return f'{seconds // 86400}d {seconds % 86400 // 3600}h'


def eta(job: Job) -> str:
    """'in 12s' from estimatedCompletionAt while the job runs; empty when unknown or done."""
    if job.estimated_completion_at is None or job.status in TERMINAL:
        return ''
    left = (job.estimated_completion_at - now()).total_seconds()
    return f'in {duration(left)}' if left > 0 else 'any moment'


def stamp(moment: datetime | None) -> str:
    return moment.astimezone().strftime('%Y-%m-%d %H:%M:%S') if moment else ''


# ---------------------------------------------------------------- tables
def jobs_table(jobs: Iterable[Job]) -> Table:
    jobs = list(jobs)
    table = Table(header_style='bold', box=None, pad_edge=False, padding=(0, 2, 0, 0))
    # Every column but INFO keeps its full width; INFO takes what is left, cut with an ellipsis.
    widths = {
        'ID': max(len(job.id) for job in jobs),
        'JOB': max(len(job_name(job)) for job in jobs),
        'STATUS': max(len(job.status) + 2 for job in jobs),
        'PROGRESS': 17,
    }
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=max(width, len(column)))
    table.add_column('INFO', no_wrap=True, overflow='ellipsis', ratio=1, min_width=12)
    table.add_column('CREATED', no_wrap=True, justify='right', min_width=10)
    for job in jobs:
        table.add_row(
            job.id,
            escape(job_name(job)),
            badge(job.status),
            bar(job.progress, job.status, width=12),
            Text(job.info or ''),
            ago(job.created_at),
        )
    return table


def job_view(job: Job) -> RenderableType:
    """Everything a person wants to know about one job."""
    title = Text.assemble((job.id, 'bold'), '  ', (job_name(job), 'bold cyan'), '  ', badge(job.status))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style='dim', justify='right')
    grid.add_column()
    grid.add_row('progress', bar(job.progress, job.status, width=30))
    rows: list[tuple[str, str | None]] = [
        ('info', job.info),
        ('eta', f'{eta(job)} ({stamp(job.estimated_completion_at)})' if eta(job) else None),
        ('source', job.source),
        ('destination', job.destination),
        ('space', job.space_id),
        ('file', job.file_id),
        ('parent', job.parent_id),
        ('mode', job.mode),
        ('trigger', job.trigger),
        ('managed', 'yes' if job.managed else None),
        ('attempt', str(job.attempt) if job.attempt > 1 else None),
        ('created', f'{stamp(job.created_at)} ({ago(job.created_at)})'),
        ('started', stamp(job.started_at) or None),
        ('finished', stamp(job.finished_at) or None),
        ('scheduled', stamp(job.scheduled_at) or None),
        ('waiting on', ', '.join(job.waiting_on) if job.waiting_on else None),
        ('parts', _parts(job)),
    ]
    for label, value in rows:
        if value:
            grid.add_row(label, escape(value))
    for label, value in (('config', job.config), ('input', job.input), ('metadata', job.metadata)):
        if value:
            grid.add_row(label, escape(json.dumps(value, indent=2)))
    parts: list[RenderableType] = [title, grid]
    if job.outcome:
        parts += [Text(), outcome_view(job)]
    return Group(*parts)


def _parts(job: Job) -> str | None:
    if not job.parts_total:
        return None
    return (
        f'{job.parts_completed or 0} complete, {job.parts_failed or 0} failed, '
        f'{job.parts_canceled or 0} canceled of {job.parts_total}'
    )


# ---------------------------------------------------------------- outcomes
def outcome_lines(job: Job, api_url: str = '') -> list[tuple[str, str]]:
    """(label, text) lines for a job's outcome: heading, message, and what `next` offers."""
    outcome = job.outcome or {}
    lines: list[tuple[str, str]] = []
    if outcome.get('heading'):
        lines.append(('heading', str(outcome['heading'])))
    if outcome.get('message'):
        lines.append(('message', str(outcome['message'])))
    follow = outcome.get('next')
    if isinstance(follow, dict):
        lines += next_lines(job, follow, api_url)
    if outcome.get('acknowledge') and job.status in {'complete', 'failed'}:
        if job.outcome_acknowledged_at:
            lines.append(('acknowledged', stamp(job.outcome_acknowledged_at)))
        else:
            lines.append(('acknowledge', f'jobs ack-outcome {job.id}'))
    return lines


def next_lines(job: Job, follow: dict[str, Any], api_url: str) -> list[tuple[str, str]]:  # noqa: PLR0911 - one per kind
    label = str(follow.get('label') or '')
    kind = follow.get('type')
    with_label = f' ({label})' if label else ''
    match kind:
        case 'url':
            return [('open', f'{follow.get("url")}{with_label}')]
        case 'download':
            name = follow.get('fileName')
            return [('download', f'{follow.get("url")}{with_label}' + (f' as {name}' if name else ''))]
        case 'files':
            return [
                ('file', f'{item.get("fileId")} → {api_url}/v1/files/{item.get("fileId")}/download')
                for item in follow.get('files') or []
                if isinstance(item, dict)
            ] or [('files', 'none')]
        case 'id':
            where = ' '.join(str(part) for part in (follow.get('path'), follow.get('query')) if part)
            return [('go to', f'{follow.get("id")}{" " + where if where else ""}{with_label}')]
        case 'snapshot':
            return [('snapshot', f'{follow.get("snapshotId")} of sheet {follow.get("sheetId")}{with_label}')]
        case 'retry':
            return [('retry', f'jobs retry {job.id}{with_label}')]
        case 'view':
            hidden = ', '.join(follow.get('hiddenColumns') or [])
            return [('view', f'sheet {follow.get("sheetId")}' + (f', hiding {hidden}' if hidden else '') + with_label)]
        case 'wait':
            return [('next', 'wait')]
        case 'clearFilters':
            sheets = ', '.join(follow.get('sheetIds') or []) or 'every sheet'
            return [('next', f'clear the filters of {sheets}{with_label}')]
        case _:
            return [('next', json.dumps(follow))]


def outcome_view(job: Job, api_url: str = '') -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style='dim', justify='right')
    grid.add_column()
    for label, text in outcome_lines(job, api_url):
        grid.add_row(label, Text(text, style='bold' if label in {'heading', 'message'} else ''))
    heading = {'complete': ('✔ complete', 'bold green'), 'failed': ('✘ failed', 'bold red')}.get(
        job.status, (f'● {job.status}', 'bold')
    )
    return Group(Text('outcome  ' + heading[0], style=heading[1]), grid)


# ---------------------------------------------------------------- events
def event_line(event: Event) -> Text:
    payload = event.payload
    status = payload.get('status')
    progress = payload.get('progress')
    parts: list[str | tuple[str, str] | Text] = [
        (event.created_at.astimezone().strftime('%H:%M:%S.%f')[:-3], 'dim'),
        '  ',
        (f'{event.topic:<26}', TOPIC_STYLE.get(event.topic, 'white')),
        (event.context.job_id or event.context.commit_id or '', 'bold'),
        '  ',
        str(payload.get('job') or event.domain),
    ]
    if isinstance(status, str):
        parts += ['  ', badge(status)]
    if isinstance(progress, int) and status not in {None, 'created', 'ready'}:
        parts.append(f' {progress}%')
    if payload.get('info'):
        parts += ['  ', (str(payload['info']), 'italic')]
    return Text.assemble(*parts)
