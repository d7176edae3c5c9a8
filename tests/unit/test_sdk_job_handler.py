"""The job-handler helper against the real API: ack, tick, complete with the returned outcome, fail
with acknowledge when the function raises, and skip jobs another listener has."""

import httpx
import pytest

from jobs_core.models.job import JobCompleteDetails, JobOutcome
from jobs_sdk import JobsApiError, Listener, job_handler
from tests.unit.sdk_fixtures import api_response, envelope, events_table_fixture, in_process_client, recorded_fixture  # noqa: F401 - fixtures

JOB = {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_sdk0000001', 'trigger': 'immediate'}


@pytest.fixture
def setup(recorded):
    client, recorder = recorded
    listener = Listener(client)
    return client, recorder, listener


def ready_event(job_id: str) -> dict:
    return envelope('job:ready', job='workbook:export', job_id=job_id)


def test_success_acks_ticks_and_completes_with_the_outcome(setup):
    client, recorder, listener = setup
    job = client.jobs.create(**JOB)

    @listener.job('workbook:export')
    def export(event, tick):
        assert event.context.job_id == job.id
        tick(50, 'Halfway')
        tick(75.4)
        return {'message': 'Exported 1,000 rows', 'next': {'type': 'url', 'url': 'https://example.com/x'}}

    assert listener.dispatch(ready_event(job.id)) == 1

    done = client.jobs.get(job.id)
    assert (done.status, done.progress) == ('complete', 100)
    assert done.outcome == {'message': 'Exported 1,000 rows', 'next': {'type': 'url', 'url': 'https://example.com/x'}}
    calls = [(path.rsplit('/', 1)[1], body) for method, path, body in recorder.calls() if method == 'POST'][1:]
    assert calls == [
        ('ack', {'info': 'Accepted', 'progress': 0}),
        ('ack', {'info': 'Halfway', 'progress': 50}),
        ('ack', {'progress': 75}),
        (
            'complete',
            {'outcome': {'message': 'Exported 1,000 rows', 'next': {'type': 'url', 'url': 'https://example.com/x'}}},
        ),
    ]


@pytest.mark.parametrize(
    ('returned', 'outcome', 'info'),
    [
        (None, {'message': 'Job complete'}, 'Accepted'),
        (JobOutcome(message='model', heading='Done'), {'message': 'model', 'heading': 'Done'}, 'Accepted'),
        ({'outcome': {'message': 'details'}, 'info': 'all rows'}, {'message': 'details'}, 'all rows'),
        (JobCompleteDetails(outcome=JobOutcome(message='typed details')), {'message': 'typed details'}, 'Accepted'),
        ({'button_text': 'Continue', 'acknowledge': True}, {'buttonText': 'Continue', 'acknowledge': True}, 'Accepted'),
    ],
)
def test_what_the_function_returns_is_the_outcome(setup, returned, outcome, info):
    client, _, listener = setup
    job = client.jobs.create(**JOB)
    listener.job('workbook:export')(lambda event, tick: returned)

    listener.dispatch(ready_event(job.id))

    done = client.jobs.get(job.id)
    assert (done.status, done.outcome, done.info) == ('complete', outcome, info)


@pytest.mark.parametrize(
    ('function', 'message'),
    [
        (lambda event, tick: 1 / 0, 'division by zero'),
        (lambda event, tick: {'bogus': 1}, 'bogus'),
        (lambda event, tick: 42, 'A job function returns a JobOutcome, a dict or None, not int'),
        (lambda event, tick: (_ for _ in ()).throw(RuntimeError()), 'RuntimeError'),
    ],
)
def test_a_function_that_raises_fails_the_job_with_acknowledge(setup, function, message):
    client, _, listener = setup
    job = client.jobs.create(**JOB)
    listener.job('workbook:export')(function)

    listener.dispatch(ready_event(job.id))  # handled: nothing for the runner to retry

    failed = client.jobs.get(job.id)
    assert failed.status == 'failed'
    assert failed.outcome['acknowledge'] is True
    assert message in failed.outcome['message']


def test_an_ack_refused_with_409_is_skipped_quietly(setup):
    client, _, listener = setup
    job = client.jobs.create(**JOB)
    client.jobs.complete(job.id)
    called = []
    listener.job('workbook:export')(lambda event, tick: called.append(1))

    assert listener.dispatch(ready_event(job.id)) == 1

    assert called == []
    assert client.jobs.get(job.id).status == 'complete'


def test_a_job_another_listener_started_is_skipped(setup):
    # GIVEN a job another listener acked (the API lets a second ack through: it is a tick)
    client, _, listener = setup
    job = client.jobs.create(**JOB)
    client.jobs.ack(job.id, info='mine', progress=5)
    called = []
    listener.job('workbook:export')(lambda event, tick: called.append(1))

    listener.dispatch(ready_event(job.id))

    # THEN the function never runs and the job is left to the other listener
    assert called == []
    assert client.jobs.get(job.id).status == 'executing'


def test_a_job_canceled_while_running_is_left_canceled(setup):
    client, _, listener = setup
    job = client.jobs.create(**JOB)
    listener.job('workbook:export')(lambda event, tick, api: api.jobs.cancel(event.context.job_id) and None)

    listener.dispatch(ready_event(job.id))

    assert client.jobs.get(job.id).status == 'canceled'


def test_the_plugin_form_and_filters(setup):
    client, _, listener = setup
    whole = client.jobs.create(**JOB)
    listener.use(job_handler('workbook:export', lambda event, tick: {'message': 'whole'}, isPart=False))
    part = envelope('job:ready', job='workbook:export', job_id=whole.id, isPart=True)

    assert listener.dispatch(part) == 0
    assert listener.dispatch(ready_event(whole.id)) == 1
    assert client.jobs.get(whole.id).outcome == {'message': 'whole'}


def test_an_async_function(setup):
    client, _, listener = setup
    job = client.jobs.create(**JOB)

    @listener.job(['sheet:export', 'workbook:export'])
    async def export(event, tick):
        return {'message': 'async'}

    listener.dispatch(ready_event(job.id))
    assert client.jobs.get(job.id).outcome == {'message': 'async'}


def test_when_the_api_cannot_complete_the_job_the_runner_is_told(api, events_table):
    # GIVEN an API that throttles the complete call past every retry
    def throttled(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith('/complete'):
            return httpx.Response(503, json={'errors': [{'key': 'service', 'message': 'busy'}]})
        return api_response(request)

    client, _ = in_process_client(throttled)
    listener = Listener(client)
    job = client.jobs.create(**JOB)
    listener.job('workbook:export')(lambda event, tick: None)

    # THEN the dispatch raises, so EventBridge (or the next poll) tries again
    with pytest.raises(JobsApiError) as failed:
        listener.dispatch(ready_event(job.id))
    assert failed.value.status == 503
