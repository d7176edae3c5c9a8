"""The seed's error handling: whatever goes wrong while processing, the job fails with a message
the user must acknowledge, and is never left executing.

    jobs listen examples/error_handling.py

Try it with {"type": "sheet", "operation": "validate", "source": "us_sh_…", "trigger": "immediate",
"input": {"rows": [{"email": "ada@example.com"}, {"email": "bob"}]}}: it fails with
"Job failed: row 2: 'bob' is not an email address".
"""

from typing import Any

from jobs_sdk import Event, JobsClient, Listener

listener = Listener()


def process_job(job_input: dict[str, Any]) -> int:
    """Check every row's email; returns how many rows there were."""
    rows = job_input.get('rows')
    if not isinstance(rows, list) or not rows:
        raise ValueError('the job has no rows to validate')
    for number, row in enumerate(rows, start=1):
        email = row.get('email') if isinstance(row, dict) else None
        if not isinstance(email, str) or '@' not in email:
            raise ValueError(f'row {number}: {email!r} is not an email address')
    return len(rows)


@listener.on('job:ready', job='sheet:validate')
def validate(event: Event, api: JobsClient) -> None:
    job_id = event.context.job_id
    api.jobs.ack(job_id, info='Validating rows', progress=0)
    try:
        count = process_job(event.payload.get('input') or {})
    except Exception as error:
        api.jobs.fail(job_id, outcome={'message': f'Job failed: {error}', 'acknowledge': True})
        return
    api.jobs.complete(job_id, outcome={'message': f'All {count} rows are valid'})
