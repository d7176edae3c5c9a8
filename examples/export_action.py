"""The seed's action job: a workbook action with operation "export" creates a `workbook:export` job,
and this listener runs it: ack with progress, the export itself, complete, or fail if anything raised.

    jobs listen examples/export_action.py          # anywhere, following the Events API
    jobs dev --listener examples/export_action.py  # inside the local stack

Try it with a job such as
    {"type": "workbook", "operation": "export", "source": "us_wb_…", "trigger": "immediate",
     "managed": false, "input": {"format": "csv", "rows": [{"name": "Ada", "email": "ada@example.com"}]}}

`workbook:export` is also a system operation, which the platform runs itself unless the caller says
it will (`managed: false`); the filter takes only those, so the two never race for one job.
The export is written under $JOBS_EXPORT_DIR (a temporary folder by default).
"""

import csv
import json
import logging
import os
import tempfile
from pathlib import Path

from jobs_sdk import Event, JobsClient, Listener

listener = Listener()
logger = logging.getLogger(__name__)

EXPORT_DIR = Path(os.environ.get('JOBS_EXPORT_DIR') or Path(tempfile.gettempdir()) / 'jobs-exports')


def write_export(job_id: str, job_input: dict) -> Path:
    """The export itself: the rows of the job's input, as CSV or JSON."""
    rows = job_input.get('rows', [])
    export_format = job_input.get('format', 'csv')
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    path = EXPORT_DIR / f'{job_id}.{export_format}'
    if export_format == 'json':
        path.write_text(json.dumps(rows))
    elif export_format == 'csv':
        with path.open('w', newline='') as output:
            writer = csv.DictWriter(output, fieldnames=sorted({key for row in rows for key in row}))
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f'Unsupported export format: {export_format}')
    return path


@listener.on('job:ready', job='workbook:export', managed=False)
def export(event: Event, api: JobsClient) -> None:
    job_id = event.context.job_id
    try:
        api.jobs.ack(job_id, info='Starting export...', progress=10)

        path = write_export(job_id, event.payload.get('input') or {})
        logger.info('Exported job %s to %s', job_id, path)

        api.jobs.complete(job_id, outcome={'message': 'Export completed successfully'})
    except Exception:
        logger.exception('Export of job %s failed', job_id)
        api.jobs.fail(job_id, outcome={'message': 'Export failed'})
