"""The Jobs listener SDK: `JobsClient` for the API, `Listener` for lifecycle events.

```python
from jobs_sdk import JobsClient, Listener

listener = Listener()

@listener.on('job:ready', job='workbook:export')
def export(event, api: JobsClient):
    api.jobs.ack(event.context.job_id, info='Starting export...', progress=10)
    ...
    api.jobs.complete(event.context.job_id, outcome={'message': 'Export completed successfully'})
```
"""

from jobs_core.models.event import Event, EventContext
from jobs_core.models.job import Job, JobOutcome
from jobs_sdk.client import JobsClient, RetryPolicy
from jobs_sdk.errors import JobsApiError
from jobs_sdk.job_handler import Tick, job_handler
from jobs_sdk.listener import Listener, ListenerNode

__all__ = [
    'Event',
    'EventContext',
    'Job',
    'JobOutcome',
    'JobsApiError',
    'JobsClient',
    'Listener',
    'ListenerNode',
    'RetryPolicy',
    'Tick',
    'job_handler',
]
