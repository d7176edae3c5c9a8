"""`JobsClient`: the Jobs API over HTTPS, typed with the project's models.

snake_case keyword arguments in Python, camelCase on the wire. Throttling (429, 503) and
connection failures are retried a bounded number of times with exponential backoff and jitter,
honouring `Retry-After`; any other error status raises `JobsApiError` at once.
"""

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from jobs_core.models.api import (
    ErrorItem,
    Errors,
    EventResponse,
    JobResponse,
    ListEventsResponse,
    ListJobsResponse,
    Pagination,
)
from jobs_core.models.event import Event
from jobs_core.models.job import (
    Job,
    JobAckDetails,
    JobCancelDetails,
    JobCompleteDetails,
    JobCreate,
    JobListQuery,
    JobOutcome,
    JobSplitDetails,
    JobUpdate,
)
from jobs_core.models.mutation import DiffRecord, DiffRecordsResponse
from jobs_core.models.plan import (
    JobExecutionPlan,
    JobExecutionPlanConfigRequest,
    JobExecutionPlanRequest,
    JobPlan,
    JobPlanResponse,
)
from jobs_core.timestamps import format_timestamp
from jobs_sdk.errors import JobsApiError
from jobs_sdk.files import FilesResource

logger = logging.getLogger('jobs_sdk')

DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_MAX_RETRIES: Final = 2  # as Flatfile's SDKs: three attempts in all
RETRY_STATUSES: Final = frozenset({429, 503})
# Methods safe to send again after the request may have reached the server (a read timeout).
_IDEMPOTENT: Final = frozenset({'GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'})
# Failures that mean the request never reached the server: safe to retry for every method.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

M = TypeVar('M', bound=BaseModel)
OutcomeInput = JobOutcome | Mapping[str, Any] | None
Parts = int | list[dict[str, Any]]  # a count, or one partData object per part


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times, and how long to wait before each retry."""

    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number `attempt` (0-based): the server's Retry-After when it gave
        one, else exponential backoff with jitter (between half and all of the ceiling)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header, as delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _api_error(response: httpx.Response) -> JobsApiError:
    try:
        errors = Errors.model_validate(response.json()).errors
    except (ValueError, ValidationError):
        text = response.text.strip()[:200]
        errors = [ErrorItem(message=f'HTTP {response.status_code} {response.reason_phrase}: {text}'.rstrip(': '))]
    return JobsApiError(response.status_code, errors)


def _model(cls: type[M], given: M | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> M:
    """A request model from a model instance, a mapping (snake_case or camelCase), and/or keywords."""
    if isinstance(given, cls) and not fields:
        return given
    base = given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else dict(given or {})
    return cls.model_validate({**base, **fields})


def _body(model: BaseModel | None) -> dict[str, Any] | None:
    """The wire form of a request model; None (no body at all) when it sets nothing."""
    if model is None:
        return None
    body = model.model_dump(by_alias=True, exclude_none=True, mode='json')
    return body or None


def _query(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the API reads them: booleans as true/false, times as ISO-8601."""
    params = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            params[name] = 'true' if value else 'false'
        elif isinstance(value, datetime):
            params[name] = format_timestamp(value)
        else:
            params[name] = str(value)
    return params


class _Page(Protocol):
    pagination: Pagination


P = TypeVar('P', bound=_Page)


def _pages(list_page: Callable[..., P], filters: dict[str, Any]) -> Iterator[P]:
    """Page after page of a list call, passing each page's cursor to the next call."""
    while True:
        page = list_page(**filters)
        yield page
        if not page.pagination.next_page_token:
            return
        filters = {**filters, 'page_token': page.pagination.next_page_token}


def _path(*segments: str) -> str:
    return '/v1/' + '/'.join(quote(segment, safe='') for segment in segments)


class JobsClient:
    """The Jobs API. `base_url` and `api_key` default to $JOBS_API_URL and $JOBS_API_KEY.

    `base_url` is the API's root, e.g. http://127.0.0.1:3000 or a deployed stage URL (a trailing
    /v1 is accepted too). Use it as a context manager, or call `close()`, to release connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url = base_url or os.environ.get('JOBS_API_URL')
        api_key = api_key or os.environ.get('JOBS_API_KEY')
        if not base_url:
            raise ValueError('No API URL: pass base_url or set JOBS_API_URL (e.g. http://127.0.0.1:3000)')
        if not api_key:
            raise ValueError('No API key: pass api_key or set JOBS_API_KEY')
        root = base_url.rstrip('/').removesuffix('/v1')
        self.base_url = root
        self.retry_policy = retry or RetryPolicy(max_retries=max_retries)
        self.timeout = timeout
        self.transport = transport
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=root,
            headers={'Authorization': f'Bearer {api_key}', 'Accept': 'application/json', 'User-Agent': 'jobs-sdk'},
            timeout=timeout,
            transport=transport,
        )
        self.jobs = JobsResource(self)
        self.events = EventsResource(self)
        self.files = FilesResource(self)

    def __enter__(self) -> 'JobsClient':
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.files.close()
        self._http.close()

    def __repr__(self) -> str:
        return f'JobsClient({self.base_url!r})'

    def request(
        self,
        method: Literal['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One API call, retried as the policy allows; returns the parsed JSON body."""
        response = self.send(method, path, body=body, params=params)
        return response.json() if response.content else None

    def send(
        self,
        method: Literal['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One API call, retried as the policy allows; the successful response (errors raise). `files`
        and `data` send a multipart/form-data body instead of JSON."""
        policy = self.retry_policy
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, json=body, params=params, files=files, data=data)
            except httpx.TransportError as error:
                retryable = isinstance(error, _NOT_SENT) or method in _IDEMPOTENT
                if not retryable or attempt >= policy.max_retries:
                    raise
                wait = policy.delay(attempt)
                logger.warning('%s %s failed (%s); retry %d in %.2fs', method, path, error, attempt + 1, wait)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= policy.max_retries:
                    if response.is_error:
                        raise _api_error(response)
                    return response
                wait = policy.delay(attempt, retry_after_seconds(response.headers.get('Retry-After')))
                logger.warning(
                    '%s %s answered %d; retry %d in %.2fs', method, path, response.status_code, attempt + 1, wait
                )
            self._sleep(wait)
            attempt += 1


class JobsResource:
    """`client.jobs`: every job endpoint of the API."""

    def __init__(self, client: JobsClient) -> None:
        self._client = client

    def _job(self, method: Literal['GET', 'POST', 'PATCH'], *path: str, body: BaseModel | None = None) -> Job:
        return JobResponse.model_validate(self._client.request(method, _path('jobs', *path), body=_body(body))).data

    def list(self, **filters: Any) -> ListJobsResponse:
        """One page of jobs. Filters are JobListQuery's fields in snake_case: space_id, workbook_id,
        file_id, parent_id, source, status, exclude_child_jobs, sort_direction, page_size,
        page_number, page_token (the previous page's `pagination.next_page_token`)."""
        query = JobListQuery.model_validate(filters)
        params = _query(query.model_dump(by_alias=True, exclude_unset=True))
        return ListJobsResponse.model_validate(self._client.request('GET', _path('jobs'), params=params))

    def list_all(self, **filters: Any) -> Iterator[Job]:
        """Every job that matches, page after page, following the cursor."""
        for page in _pages(self.list, filters):
            yield from page.data

    def create(self, job: JobCreate | Mapping[str, Any] | None = None, /, **fields: Any) -> Job:
        """Create a job: `create(type='workbook', operation='export', source=..., trigger='immediate')`."""
        body = _model(JobCreate, job, fields)
        return JobResponse.model_validate(self._client.request('POST', _path('jobs'), body=_body(body))).data

    def get(self, job_id: str) -> Job:
        return self._job('GET', job_id)

    def update(self, job_id: str, update: JobUpdate | Mapping[str, Any] | None = None, /, **fields: Any) -> Job:
        """PATCH a job: `update(job_id, progress=50, info='Halfway', estimated_completion_at=...)`."""
        return self._job('PATCH', job_id, body=_model(JobUpdate, update, fields))

    def delete(self, job_id: str) -> None:
        self._client.request('DELETE', _path('jobs', job_id))

    def execute(self, job_id: str) -> None:
        """created/planning → ready. The API answers success, not the job."""
        self._client.request('POST', _path('jobs', job_id, 'execute'))

    def ack(
        self,
        job_id: str,
        *,
        info: str | None = None,
        progress: int | None = None,
        estimated_completion_at: datetime | None = None,
    ) -> Job:
        """ready → executing; on an executing job, a progress tick. No body when nothing is given."""
        details = JobAckDetails(info=info, progress=progress, estimated_completion_at=estimated_completion_at)
        return self._job('POST', job_id, 'ack', body=details)

    def claim(
        self,
        job_id: str,
        *,
        info: str | None = None,
        progress: int | None = None,
        estimated_completion_at: datetime | None = None,
    ) -> tuple[Job, bool]:
        """Ack, and learn whether this call started the job (the API's `Job-Started` header): of
        several listeners acking one ready job, exactly one gets True."""
        details = JobAckDetails(info=info, progress=progress, estimated_completion_at=estimated_completion_at)
        response = self._client.send('POST', _path('jobs', job_id, 'ack'), body=_body(details))
        return JobResponse.model_validate(response.json()).data, response.headers.get('Job-Started') == 'true'

    def ack_outcome(self, job_id: str) -> Job:
        """The user has seen the outcome of a complete or failed job."""
        return self._job('POST', job_id, 'outcome', 'ack')

    def complete(self, job_id: str, *, outcome: OutcomeInput = None, info: str | None = None) -> Job:
        """Complete a job; `outcome` is a JobOutcome or its dict (`{'message': ..., 'next': {...}}`)."""
        return self._job('POST', job_id, 'complete', body=_finish(outcome, info))

    def fail(self, job_id: str, *, outcome: OutcomeInput = None, info: str | None = None) -> Job:
        return self._job('POST', job_id, 'fail', body=_finish(outcome, info))

    def cancel(self, job_id: str, *, info: str | None = None) -> Job:
        return self._job('POST', job_id, 'cancel', body=JobCancelDetails(info=info))

    def retry(self, job_id: str) -> Job:
        """failed/canceled → ready, as a new attempt."""
        return self._job('POST', job_id, 'retry')

    def split(self, job_id: str, parts: Parts, *, run_in_parallel: bool = False) -> Job:
        """Split an executing job into `parts` (a count, or one partData dict per part)."""
        details = JobSplitDetails(parts=parts, run_in_parallel=run_in_parallel)
        return self._job('POST', job_id, 'split', body=details)

    # ---------------------------------------------------------------- a map job's plan
    def get_plan(self, job_id: str) -> JobPlan:
        """A map job's plan with the job (`409` while the platform still computes it)."""
        return JobPlanResponse.model_validate(self._client.request('GET', _path('jobs', job_id, 'plan'))).data

    def replace_plan(
        self, job_id: str, plan: JobExecutionPlan | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> JobPlan:
        """PUT the whole plan: `replace_plan(job_id, field_mapping=[...])` (unmapped fields worked out again)."""
        body = _model(JobExecutionPlanRequest, plan, {'job_id': job_id, **fields})
        reply = self._client.request('PUT', _path('jobs', job_id, 'plan'), body=_body(body))
        return JobPlanResponse.model_validate(reply).data

    def update_plan(self, job_id: str, **fields: Any) -> JobPlan:
        """PATCH the plan: the parts given replace the plan's (`field_mapping` is the whole list of edges)."""
        body = _model(JobExecutionPlanConfigRequest, None, {'job_id': job_id, **fields})
        reply = self._client.request('PATCH', _path('jobs', job_id, 'plan'), body=_body(body))
        return JobPlanResponse.model_validate(reply).data

    def preview_mutation(self, config: Mapping[str, Any] | None = None, /, **fields: Any) -> Sequence[DiffRecord]:
        """What a `sheet:mutate-records` config would change (first 100 records); writes nothing.
        `preview_mutation(sheet_id=..., mutate_record='{"name": $uppercase(name)}')`."""
        body = {to_camel(name): value for name, value in {**(config or {}), **fields}.items()}
        reply = self._client.request('POST', _path('jobs', 'preview-mutation'), body=body)
        return DiffRecordsResponse.model_validate(reply).data

    # Flatfile's SDK names for the same calls.
    get_execution_plan = get_plan
    update_execution_plan = replace_plan
    update_execution_plan_fields = update_plan


def _finish(outcome: OutcomeInput, info: str | None) -> JobCompleteDetails:
    return JobCompleteDetails(
        outcome=_model(JobOutcome, outcome, {}) if outcome is not None else None,
        info=info,
    )


class EventsResource:
    """`client.events`: the Events API, the lifecycle events of the caller's environment."""

    def __init__(self, client: JobsClient) -> None:
        self._client = client

    def list(
        self,
        *,
        topic: str | None = None,
        job_id: str | None = None,
        domain: str | None = None,
        since: datetime | None = None,
        sort_direction: Literal['asc', 'desc'] | None = None,
        page_size: int | None = None,
        page_number: int | None = None,
        page_token: str | None = None,
    ) -> ListEventsResponse:
        """One page of events, oldest first unless sort_direction='desc'; `since` is inclusive."""
        params = _query(
            {
                'topic': topic,
                'jobId': job_id,
                'domain': domain,
                'since': since,
                'sortDirection': sort_direction,
                'pageSize': page_size,
                'pageNumber': page_number,
                'pageToken': page_token,
            }
        )
        return ListEventsResponse.model_validate(self._client.request('GET', _path('events'), params=params))

    def list_all(self, **filters: Any) -> Iterator[Event]:
        """Every event that matches (the filters of `list`), page after page, following the cursor."""
        for page in _pages(self.list, filters):
            yield from page.data

    def get(self, event_id: str) -> Event:
        return EventResponse.model_validate(self._client.request('GET', _path('events', event_id))).data

    def ack(self, event_id: str) -> Event:
        """Mark the event acknowledged by this API key (the first acknowledgement is kept)."""
        return EventResponse.model_validate(self._client.request('POST', _path('events', event_id, 'ack'))).data
