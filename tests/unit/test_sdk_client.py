"""JobsClient against the real API handler in process (no sockets): every endpoint, typed models,
camelCase on the wire, error mapping, and the retry policy."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from jobs_core.models.event import Event
from jobs_core.models.job import Job, JobCreate, JobOutcome, NextUrl
from jobs_sdk import JobsApiError, JobsClient, RetryPolicy
from jobs_sdk.client import retry_after_seconds
from tests.unit.sdk_fixtures import (  # noqa: F401 - fixtures
    api_response,
    envelope,
    events_table_fixture,
    in_process_client,
    recorded_fixture,
    sdk_fixture,
)

EXPORT = {'type': 'workbook', 'operation': 'report', 'source': 'us_wb_sdk0000001'}


# ---------------------------------------------------------------- configuration
def test_url_and_key_come_from_the_environment(monkeypatch):
    monkeypatch.setenv('JOBS_API_URL', 'http://127.0.0.1:9/v1/')
    monkeypatch.setenv('JOBS_API_KEY', 'sk_env')
    with JobsClient() as client:
        assert client.base_url == 'http://127.0.0.1:9'
        assert client.retry_policy.max_retries == 2


@pytest.mark.parametrize('missing', ['JOBS_API_URL', 'JOBS_API_KEY'])
def test_a_missing_url_or_key_is_a_clear_error(monkeypatch, missing):
    monkeypatch.setenv('JOBS_API_URL', 'http://127.0.0.1:9')
    monkeypatch.setenv('JOBS_API_KEY', 'sk_env')
    monkeypatch.delenv(missing)
    with pytest.raises(ValueError, match=missing):
        JobsClient()


# ---------------------------------------------------------------- jobs
def test_create_get_update_and_delete_speak_camel_case_on_the_wire(recorded):
    client, recorder = recorded
    # WHEN a job is created and updated with snake_case keywords
    job = client.jobs.create(**EXPORT, trigger='immediate', file_id='us_fl_sdk0000001', metadata={'a': 1})
    eta = datetime(2030, 1, 1, tzinfo=UTC)
    updated = client.jobs.update(job.id, progress=40, info='rows 400', estimated_completion_at=eta)

    # THEN typed jobs come back, and the wire carried camelCase
    assert isinstance(job, Job)
    assert (job.status, job.file_id, job.metadata) == ('ready', 'us_fl_sdk0000001', {'a': 1})
    assert (updated.progress, updated.info, updated.estimated_completion_at) == (40, 'rows 400', eta)
    assert client.jobs.get(job.id) == updated
    (_, path, created_body), (_, _, update_body) = recorder.calls()[:2]
    assert path == '/v1/jobs'
    assert created_body['fileId'] == 'us_fl_sdk0000001'
    assert update_body == {'progress': 40, 'info': 'rows 400', 'estimatedCompletionAt': '2030-01-01T00:00:00.000Z'}

    # WHEN it is deleted, THEN it is gone
    assert client.jobs.delete(job.id) is None
    with pytest.raises(JobsApiError) as gone:
        client.jobs.get(job.id)
    assert gone.value.status == 404


def test_create_takes_a_model_or_a_dict(sdk):
    assert sdk.jobs.create(JobCreate(**EXPORT)).status == 'created'
    assert sdk.jobs.create({**EXPORT, 'trigger': 'immediate'}).status == 'ready'
    assert sdk.jobs.create({'type': 'workbook', 'source': 'us_wb_1'}, operation='x').operation == 'x'


def test_the_lifecycle_with_empty_bodies_when_nothing_is_given(recorded):
    client, recorder = recorded
    job = client.jobs.create(**EXPORT)

    # WHEN it is executed, acked, completed and its outcome acknowledged without details
    assert client.jobs.execute(job.id) is None
    acked = client.jobs.ack(job.id)
    completed = client.jobs.complete(job.id)
    seen = client.jobs.ack_outcome(job.id)

    # THEN each transition happened, and no body was sent where nothing was given
    assert (acked.status, completed.status, completed.progress) == ('executing', 'complete', 100)
    assert seen.outcome_acknowledged_at is not None
    posts = [request for request in recorder.requests if request.method == 'POST'][1:]
    assert [request.url.path.rsplit(job.id, 1)[1] for request in posts] == [
        '/execute',
        '/ack',
        '/complete',
        '/outcome/ack',
    ]
    assert all(request.content == b'' for request in posts)


def test_fail_cancel_and_retry(sdk):
    failing = sdk.jobs.create(**EXPORT, trigger='immediate')
    failed = sdk.jobs.fail(failing.id, outcome={'message': 'Export failed', 'acknowledge': True}, info='boom')
    assert (failed.status, failed.outcome, failed.info) == (
        'failed',
        {'message': 'Export failed', 'acknowledge': True},
        'boom',
    )
    retried = sdk.jobs.retry(failing.id)
    assert (retried.status, retried.attempt) == ('ready', 2)
    assert sdk.jobs.cancel(failing.id, info='not needed').status == 'canceled'
    assert sdk.jobs.fail(sdk.jobs.create(**EXPORT).id).status == 'failed'


def test_complete_with_an_outcome_model_or_dict(sdk):
    first = sdk.jobs.create(**EXPORT, trigger='immediate')
    outcome = JobOutcome(message='Done', next=NextUrl(type='url', url='https://example.com', label='View'))
    assert sdk.jobs.complete(first.id, outcome=outcome).outcome == {
        'message': 'Done',
        'next': {'type': 'url', 'url': 'https://example.com', 'label': 'View'},
    }
    second = sdk.jobs.create(**EXPORT, trigger='immediate')
    download = {'type': 'download', 'url': 'https://example.com/f.csv', 'file_name': 'f.csv'}
    done = sdk.jobs.complete(second.id, outcome={'message': 'Files ready', 'next': download})
    assert done.outcome['next'] == {'type': 'download', 'url': 'https://example.com/f.csv', 'fileName': 'f.csv'}


def test_list_pages_and_the_iterator_follows_the_cursor(sdk):
    ids = {sdk.jobs.create(**EXPORT).id for _ in range(5)}

    page = sdk.jobs.list(page_size=2, sort_direction='asc')
    assert len(page.data) == 2
    assert page.pagination.total_count == 5
    assert page.pagination.next_page_token

    everything = list(sdk.jobs.list_all(page_size=2))
    assert {job.id for job in everything} == ids
    assert len(everything) == 5


def test_list_filters_are_validated_before_sending(sdk):
    with pytest.raises(ValueError, match='page_sise'):
        sdk.jobs.list(page_sise=2)


def test_split_makes_parts_listed_by_parent(sdk):
    parent = sdk.jobs.create(**EXPORT, trigger='immediate')
    sdk.jobs.ack(parent.id, progress=1)

    split = sdk.jobs.split(parent.id, [{'rows': [0, 100]}, {'rows': [100, 200]}], run_in_parallel=True)

    assert split.parts_total == 2
    parts = list(sdk.jobs.list_all(parent_id=parent.id, sort_direction='asc'))
    assert [(part.part, part.part_data, part.status) for part in parts] == [
        (0, {'rows': [0, 100]}, 'ready'),
        (1, {'rows': [100, 200]}, 'ready'),
    ]
    assert all(job.parent_id is None for job in sdk.jobs.list_all(exclude_child_jobs=True))


# ---------------------------------------------------------------- errors
def test_an_illegal_transition_raises_with_the_api_message(sdk):
    job = sdk.jobs.create(**EXPORT)
    with pytest.raises(JobsApiError) as refused:
        sdk.jobs.complete(job.id)
    assert refused.value.status == 409
    assert str(refused.value).startswith(f'Cannot complete job {job.id}: it is created')
    assert refused.value.key == 'status'


def test_an_invalid_request_raises_400_with_the_key(sdk):
    with pytest.raises(JobsApiError) as refused:
        sdk.jobs.create(**EXPORT, environment_id='us_env_someone_else')
    assert (refused.value.status, refused.value.key) == (400, 'environmentId')
    assert "environmentId must be the API key's environment" in str(refused.value)


def test_a_body_that_is_not_the_error_shape_still_raises():
    client, _ = in_process_client(lambda request: httpx.Response(502, text='<html>Bad gateway</html>'))
    with pytest.raises(JobsApiError) as refused:
        client.jobs.get('us_jb_1')
    assert refused.value.status == 502
    assert 'Bad gateway' in str(refused.value)


# ---------------------------------------------------------------- retries
class Flaky:
    """Answers with `failures` first (a status, or an exception to raise), then with the API."""

    def __init__(self, *failures: int | Exception, retry_after: str | None = None) -> None:
        self.failures = list(failures)
        self.retry_after = retry_after
        self.attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            headers = {'Retry-After': self.retry_after} if self.retry_after else {}
            return httpx.Response(
                failure, json={'errors': [{'key': 'service', 'message': 'slow down'}]}, headers=headers
            )
        return api_response(request)


def test_throttling_is_retried_honouring_retry_after(api, events_table):
    flaky = Flaky(503, 429, retry_after='2')
    waits: list[float] = []
    client, _ = in_process_client(flaky, sleep=waits.append)

    job = client.jobs.create(**EXPORT)

    assert job.status == 'created'
    assert flaky.attempts == 3
    assert waits == [2.0, 2.0]


def test_throttling_without_retry_after_backs_off_exponentially_with_jitter(api, events_table):
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=3.0)
    client, _ = in_process_client(Flaky(429, 429, 429), sleep=waits.append, retry=policy)

    client.jobs.list()

    assert len(waits) == 3
    for wait, ceiling in zip(waits, [1.0, 2.0, 3.0], strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_retries_are_bounded_then_the_error_is_raised(api, events_table):
    flaky = Flaky(503, 503, 503, 503)
    client, _ = in_process_client(flaky, max_retries=2)
    with pytest.raises(JobsApiError) as refused:
        client.jobs.list()
    assert (refused.value.status, str(refused.value)) == (503, 'slow down')
    assert flaky.attempts == 3


@pytest.mark.parametrize('status', [400, 401, 403, 404, 409, 413, 500])
def test_other_errors_are_never_retried(status):
    flaky = Flaky(status, status)
    client, _ = in_process_client(flaky)
    with pytest.raises(JobsApiError) as refused:
        client.jobs.get('us_jb_1')
    assert refused.value.status == status
    assert flaky.attempts == 1


def test_a_connection_error_is_retried_for_any_method(api, events_table):
    flaky = Flaky(httpx.ConnectError('refused'), httpx.ConnectTimeout('slow'))
    client, _ = in_process_client(flaky)
    assert client.jobs.create(**EXPORT).status == 'created'
    assert flaky.attempts == 3


def test_a_read_timeout_is_retried_only_where_sending_twice_is_safe(api, events_table):
    # GIVEN a timeout after the request may have reached the server
    reads = Flaky(httpx.ReadTimeout('read'))
    client, _ = in_process_client(reads)
    # THEN a GET is sent again
    assert client.jobs.list().data == []
    assert reads.attempts == 2

    # BUT a POST is not: it may have created a job already
    posts = Flaky(httpx.ReadTimeout('read'))
    client, _ = in_process_client(posts)
    with pytest.raises(httpx.ReadTimeout):
        client.jobs.create(**EXPORT)
    assert posts.attempts == 1


def test_connection_errors_are_raised_once_retries_run_out():
    flaky = Flaky(*(httpx.ConnectError('refused') for _ in range(5)))
    client, _ = in_process_client(flaky, max_retries=1)
    with pytest.raises(httpx.ConnectError):
        client.jobs.get('us_jb_1')
    assert flaky.attempts == 2


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert retry_after_seconds('3') == 3.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert retry_after_seconds('soon') is None
    assert retry_after_seconds(None) is None
    assert RetryPolicy(max_retry_after=10).delay(0, retry_after=120) == 10


# ---------------------------------------------------------------- events
def test_events_list_get_and_ack(sdk, events_table):
    start = datetime.now(UTC) - timedelta(minutes=1)
    stored = [
        Event.model_validate(envelope(topic, job_id=job_id, created_at=start + timedelta(seconds=index)))
        for index, (topic, job_id) in enumerate(
            [('job:created', 'us_jb_a'), ('job:ready', 'us_jb_a'), ('job:created', 'us_jb_b'), ('job:ready', 'us_jb_b')]
        )
    ]
    for event in stored:
        assert events_table.put(event)

    # THEN the filters of the Events API are keyword arguments
    assert [event.id for event in sdk.events.list().data] == [event.id for event in stored]
    assert [event.id for event in sdk.events.list(topic='job:ready').data] == [stored[1].id, stored[3].id]
    assert [event.context.job_id for event in sdk.events.list(job_id='us_jb_b').data] == ['us_jb_b', 'us_jb_b']
    assert [event.id for event in sdk.events.list(since=stored[2].created_at).data] == [stored[2].id, stored[3].id]
    assert sdk.events.list(sort_direction='desc').data[0].id == stored[3].id
    assert [event.id for event in sdk.events.list_all(page_size=1)] == [event.id for event in stored]

    # AND one event is read and acknowledged
    assert sdk.events.get(stored[0].id) == stored[0]
    acked = sdk.events.ack(stored[0].id)
    assert acked.acknowledged_at is not None
    assert acked.acknowledged_by is not None
    with pytest.raises(JobsApiError) as missing:
        sdk.events.get('us_evt_nope')
    assert (missing.value.status, missing.value.key) == (404, 'eventId')
