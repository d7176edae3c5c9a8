"""Which resources a job touches, read off its stored item (camelCase keys).

The store indexes jobs by them and the publisher puts them in each event's context, so both
agree on what "the jobs of workbook X" means.
"""

from typing import Any


def _prefixed(value: object, prefix: str) -> str | None:
    return value if isinstance(value, str) and value.startswith(prefix) else None


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def workbook_of(job: dict[str, Any]) -> str | None:
    """The workbook the job reads (its source), else the one it writes (its destination)."""
    return _prefixed(job.get('source'), 'us_wb_') or _prefixed(job.get('destination'), 'us_wb_')


def file_of(job: dict[str, Any]) -> str | None:
    return job.get('fileId') or _prefixed(job.get('source'), 'us_fl_')


def sheet_of(job: dict[str, Any]) -> str | None:
    """The sheet a job acts on: its source, or the sheet its config or subject names."""
    config = _mapping(job.get('config'))
    params = _mapping(_mapping(job.get('subject')).get('params'))
    for candidate in (job.get('source'), config.get('sheet'), config.get('sheetId'), params.get('sheetId')):
        if sheet := _prefixed(candidate, 'us_sh_'):
            return sheet
    return None
