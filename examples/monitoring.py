"""The seed's job monitoring: middleware that sees every event the listener receives and logs the
job events, then lets the event go on to the handlers (`call_next()`).

    jobs listen examples/monitoring.py

Every job event of the environment prints a line such as "Job us_jb_…: job:ready".
"""

from collections.abc import Callable

from jobs_sdk import Event, Listener

listener = Listener()


def monitor(event: Event, call_next: Callable[[], None]) -> None:
    if event.topic.startswith('job:'):
        print(f'Job {event.context.job_id}: {event.topic}', flush=True)  # the seed logs with console.log
    call_next()


listener.use(monitor)
