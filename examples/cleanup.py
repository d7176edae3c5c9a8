"""The seed's resource cleanup: a job leaves temporary files behind while it runs, and a listener
on `job:completed` removes them, then records on the job how many it removed.

    jobs listen examples/cleanup.py

Try {"type": "workbook", "operation": "render", "source": "us_wb_…", "trigger": "immediate"}.
Temporary files live under $JOBS_SCRATCH_DIR (a temporary folder by default).
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jobs_sdk import Event, JobsClient, Listener, Tick

listener = Listener()

SCRATCH_DIR = Path(os.environ.get('JOBS_SCRATCH_DIR') or Path(tempfile.gettempdir()) / 'jobs-scratch')


def scratch_of(job_id: str) -> Path:
    return SCRATCH_DIR / job_id


def cleanup_temporary_resources(job_id: str) -> int:
    """Remove the job's temporary files; returns how many there were."""
    scratch = scratch_of(job_id)
    if not scratch.is_dir():
        return 0
    count = sum(1 for path in scratch.rglob('*') if path.is_file())
    shutil.rmtree(scratch)
    return count


@listener.job('workbook:render')
def render(event: Event, tick: Tick) -> dict[str, Any]:
    """A job that works in temporary files: one per page it renders."""
    scratch = scratch_of(event.context.job_id)
    scratch.mkdir(parents=True, exist_ok=True)
    for page in range(1, 4):
        (scratch / f'page-{page}.tmp').write_text(f'page {page} of job {event.context.job_id}')
        tick(page * 30, f'Rendered page {page}')
    return {'message': 'Rendered 3 pages'}


@listener.on('job:completed')
def cleanup(event: Event, api: JobsClient) -> None:
    job_id = event.context.job_id
    removed = cleanup_temporary_resources(job_id)
    if removed:
        metadata = api.jobs.get(job_id).metadata or {}
        api.jobs.update(job_id, metadata={**metadata, 'temporaryFilesRemoved': removed})
