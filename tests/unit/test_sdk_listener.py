"""Listener: registration forms, dispatch, handler failures, middleware, plugins, child nodes and
the Lambda entry point."""

import logging

import pytest

from jobs_core.models.event import Event
from jobs_sdk import JobsClient, Listener
from jobs_sdk.loading import eventbridge_event
from tests.unit.sdk_fixtures import envelope

READY = envelope('job:ready', job='workbook:export', context={'workbook_id': 'us_wb_1'})
COMPLETED = envelope('job:completed', job='workbook:export', status='complete')
SHEET_READY = envelope('job:ready', job='sheet:export')
PART_READY = envelope('job:ready', job='workbook:export', isPart=True)


@pytest.fixture
def client() -> JobsClient:
    return JobsClient('http://jobs.test', 'sk_test')


@pytest.fixture
def listener(client) -> Listener:
    return Listener(client)


# ---------------------------------------------------------------- registration and dispatch
def test_the_issue_example(listener, client):
    calls = []

    @listener.on('job:ready', job='workbook:export')
    def export(event, api: JobsClient):
        calls.append((event.context.job_id, event.payload['job'], api))

    assert listener.dispatch(READY) == 1
    assert listener.dispatch(SHEET_READY) == 0
    assert listener.dispatch(COMPLETED) == 0
    assert calls == [('us_jb_test00000001', 'workbook:export', client)]


def test_every_registration_form(listener):
    seen: list[str] = []
    listener.on('job:ready', lambda event: seen.append('handler only'))
    listener.on(
        'job:ready', {'job': ['sheet:export', 'workbook:export']}, lambda event: seen.append('dict and handler')
    )
    listener.on('job:ready', {'context.workbookId': 'us_wb_1'})(lambda event: seen.append('dict decorator'))
    listener.on(['job:completed', 'job:ready'], job='workbook:*', isPart=False)(lambda event: seen.append('keywords'))
    listener.on('job:ready', {'job': 'sheet:export'}, isPart=False)(lambda event: seen.append('dict and keywords'))

    listener.dispatch(READY)

    assert seen == ['handler only', 'dict and handler', 'dict decorator', 'keywords']


def test_handlers_get_a_typed_event_and_the_client_when_they_ask_for_it(listener, client):
    received = {}

    @listener.on('job:*')
    def one(event):
        received['one'] = event

    @listener.on('job:*')
    def two(event, api):
        received['two'] = (event, api)

    listener.dispatch(READY)
    other = JobsClient('http://other.test', 'sk_other')
    listener.dispatch(COMPLETED, api=other)

    assert isinstance(received['one'], Event)
    assert received['one'].topic == 'job:completed'
    assert received['two'][1] is other
    assert received['one'].context.workbook_id is None


def test_the_client_is_made_from_the_environment_on_first_use(monkeypatch):
    monkeypatch.setenv('JOBS_API_URL', 'http://env.test')
    monkeypatch.setenv('JOBS_API_KEY', 'sk_env')
    listener = Listener()
    urls = []
    listener.on('job:ready', lambda event, api: urls.append(api.base_url))
    listener.dispatch(READY)
    assert urls == ['http://env.test']


def test_a_handler_without_the_client_needs_no_environment(monkeypatch):
    monkeypatch.delenv('JOBS_API_URL', raising=False)
    monkeypatch.delenv('JOBS_API_KEY', raising=False)
    listener = Listener()
    seen = []
    listener.on('job:ready', seen.append)
    listener.dispatch(READY)
    assert len(seen) == 1


def test_async_handlers_are_run_to_completion(listener):
    seen = []

    @listener.on('job:ready')
    async def handle(event):
        seen.append(event.id)

    listener.dispatch(READY)
    assert seen == [READY['id']]


def test_bad_registrations_are_refused(listener):
    with pytest.raises(ValueError, match='topic'):
        listener.on('', lambda event: None)
    with pytest.raises(ValueError, match='topic'):
        listener.on([], lambda event: None)
    with pytest.raises(TypeError):
        listener.on('job:ready', 'workbook:export', lambda event: None)


# ---------------------------------------------------------------- failures
def test_a_failing_handler_does_not_stop_the_others_and_the_dispatch_raises(listener, caplog):
    seen = []

    @listener.on('job:ready')
    def broken(event):
        raise RuntimeError('boom')

    listener.on('job:ready', lambda event: seen.append('after'))

    with caplog.at_level(logging.ERROR, logger='jobs_sdk'), pytest.raises(RuntimeError, match='boom'):
        listener.dispatch(READY)
    assert seen == ['after']
    assert 'broken failed on job:ready' in caplog.text


def test_several_failures_raise_them_all(listener):
    listener.on('job:ready', lambda event: 1 / 0)
    listener.on('job:ready', lambda event: {}['missing'])
    with pytest.raises(ExceptionGroup) as failed:
        listener.dispatch(READY)
    assert [type(error) for error in failed.value.exceptions] == [ZeroDivisionError, KeyError]


# ---------------------------------------------------------------- middleware and plugins
def test_the_seed_monitoring_middleware_sees_every_event(listener):
    lines = []

    def monitor(event, call_next):
        if event.topic.startswith('job:'):
            lines.append(f'Job {event.context.job_id}: {event.topic}')
        call_next()

    listener.use(monitor)
    handled = []
    listener.on('job:ready', job='workbook:export')(handled.append)

    listener.dispatch(READY)
    listener.dispatch(COMPLETED)  # no handler: the middleware still sees it

    assert lines == ['Job us_jb_test00000001: job:ready', 'Job us_jb_test00000001: job:completed']
    assert len(handled) == 1


def test_middleware_wraps_handlers_outermost_first(listener):
    order = []

    def outer(event, call_next):
        order.append('outer in')
        call_next()
        order.append('outer out')

    def inner(event, call_next):
        order.append('inner in')
        call_next()
        call_next()  # a second call does not run the handlers again
        order.append('inner out')

    listener.use(outer).use(inner)
    listener.on('job:ready', lambda event: order.append('handler'))

    listener.dispatch(READY)

    assert order == ['outer in', 'inner in', 'handler', 'inner out', 'outer out']


def test_middleware_that_does_not_call_next_stops_the_event(listener):
    handled = []
    listener.use(lambda event, call_next: None if event.payload['isPart'] else call_next())
    listener.on('job:ready', handled.append)

    listener.dispatch(PART_READY)
    listener.dispatch(READY)

    assert [event.id for event in handled] == [READY['id']]


def test_a_failing_middleware_fails_the_dispatch(listener):
    listener.use(lambda event, call_next: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        listener.dispatch(READY)


def test_use_with_one_argument_installs_a_plugin(listener):
    handled = []

    def plugin(node):
        node.on('job:completed', handled.append)

    assert listener.use(plugin) is listener
    listener.dispatch(COMPLETED)
    assert len(handled) == 1


# ---------------------------------------------------------------- child nodes
def test_a_child_node_sees_only_events_that_pass_its_filter(listener):
    seen = []
    workbooks = listener.filter({'domain': 'workbook'})
    workbooks.on('job:ready', lambda event: seen.append(('workbooks', event.payload['job'])))
    top_level = workbooks.filter({'isPart': False})
    top_level.on('job:*', lambda event: seen.append(('top level', event.payload['job'])))
    listener.filter({'job': 'sheet:*'}, lambda node: node.on('job:ready', lambda event: seen.append(('sheets', 1))))

    for event in (READY, SHEET_READY, PART_READY):
        listener.dispatch(event)

    assert seen == [
        ('workbooks', 'workbook:export'),
        ('top level', 'workbook:export'),
        ('sheets', 1),
        ('workbooks', 'workbook:export'),
    ]


def test_middleware_on_a_child_node_runs_only_for_its_events(listener):
    seen = []
    listener.filter({'job': 'sheet:*'}).use(lambda event, call_next: (seen.append(event.payload['job']), call_next()))
    listener.dispatch(READY)
    listener.dispatch(SHEET_READY)
    assert seen == ['sheet:export']


def test_a_listener_with_a_filter_of_its_own(client):
    listener = Listener(client, event_filter={'isPart': True})
    seen = []
    listener.on('job:ready', seen.append)
    listener.dispatch(READY)
    listener.dispatch(PART_READY)
    assert [event.id for event in seen] == [PART_READY['id']]


# ---------------------------------------------------------------- Lambda
def test_lambda_handler_takes_the_eventbridge_event(listener):
    seen = []
    listener.on('job:ready', job='workbook:export')(seen.append)

    result = listener.lambda_handler(eventbridge_event(READY), None)

    assert result == {'eventId': READY['id'], 'topic': 'job:ready', 'handlers': 1}
    assert seen[0].model_dump(mode='json') == READY
    assert listener.lambda_handler(READY, None)['handlers'] == 1  # a bare envelope too


def test_lambda_handler_raises_so_lambda_retries(listener):
    listener.on('job:ready', lambda event: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        listener.lambda_handler(eventbridge_event(READY), None)
