"""The seed's progress updates, both ways: `update` (PATCH) with progress, info and an estimated
completion time, and repeated acks (the job handler's `tick`). Every update is a `job:updated`
event that a UI (or another listener) can follow.

    jobs listen examples/progress.py

Try {"type": "workbook", "operation": "process", "source": "us_wb_…", "trigger": "immediate",
"input": {"batches": 4}} and {"type": "workbook", "operation": "reindex", "source": "us_wb_…",
"trigger": "immediate", "input": {"batches": 4}}.
"""

import time
from datetime import UTC, datetime, timedelta

from jobs_sdk import Event, Job, JobsClient, Listener, Tick

listener = Listener()


def process_batch(number: int) -> None:
    """One batch of the work (here, a short pause standing for it)."""
    time.sleep(0.05)


def update_progress(api: JobsClient, job_id: str, progress: int, eta: datetime) -> Job:
    return api.jobs.update(
        job_id, progress=progress, info=f'Processing: {progress}% complete', estimated_completion_at=eta
    )


@listener.on('job:ready', job='workbook:process')
def process(event: Event, api: JobsClient) -> None:
    job_id = event.context.job_id
    batches = int((event.payload.get('input') or {}).get('batches', 4))
    api.jobs.ack(job_id, info='Starting process...', progress=0)
    started = time.monotonic()
    for number in range(1, batches + 1):
        process_batch(number)
        if number < batches:
            per_batch = (time.monotonic() - started) / number
            eta = datetime.now(UTC) + timedelta(seconds=per_batch * (batches - number))
            update_progress(api, job_id, number * 100 // batches, eta)
    api.jobs.complete(job_id, outcome={'message': 'Process completed successfully', 'acknowledge': True})


@listener.job('workbook:reindex')
def reindex(event: Event, tick: Tick) -> dict[str, str]:
    batches = int((event.payload.get('input') or {}).get('batches', 4))
    for number in range(1, batches + 1):
        process_batch(number)
        if number < batches:
            tick(number * 100 / batches, f'Reindexed {number} of {batches} batches')
    return {'message': f'Reindexed {batches} batches'}
