"""The seed's custom job: a listener creates a job in reaction to an event, then handles it.

The seed creates it when a commit lands on the `contacts` sheet (`commit:created`). Commit events
come with the data plane's records; the handler for them is below and runs once they are
published. Meanwhile the same custom job is created when a `workbook:import` job completes, an
event this platform already emits.

    jobs listen examples/custom_job.py

Try it: create {"type": "workbook", "operation": "import", "source": "us_wb_…", "trigger": "immediate"},
ack and complete it; a `workbook:customOperation` job on the same workbook follows and completes.
"""

from jobs_sdk import Event, JobsClient, Listener

listener = Listener()


def create_custom_job(api: JobsClient, workbook_id: str | None) -> None:
    if workbook_id is None:
        return  # the event names no workbook to work on
    api.jobs.create(type='workbook', operation='customOperation', trigger='immediate', source=workbook_id)


# Create a custom job from an event: the seed's trigger, a commit on the contacts sheet...
@listener.on('commit:created', sheet='contacts')
def contacts_committed(event: Event, api: JobsClient) -> None:
    create_custom_job(api, event.context.workbook_id)


# ...and one that exists today: an import of the workbook completed.
@listener.on('job:completed', job='workbook:import')
def import_completed(event: Event, api: JobsClient) -> None:
    create_custom_job(api, event.context.workbook_id)


# Handle the custom job.
@listener.on('job:ready', job='workbook:customOperation')
def custom_operation(event: Event, api: JobsClient) -> None:
    job_id = event.context.job_id
    try:
        api.jobs.ack(job_id, info='Starting custom operation', progress=0)

        # The custom logic: here, a count of the jobs that ran on the workbook.
        jobs = list(api.jobs.list_all(workbook_id=event.context.workbook_id))
        finished = sum(job.status == 'complete' for job in jobs)

        api.jobs.complete(
            job_id,
            outcome={'message': 'Operation completed'},
            info=f'{finished} of {len(jobs)} jobs of the workbook are complete',
        )
    except Exception:
        api.jobs.fail(job_id)
