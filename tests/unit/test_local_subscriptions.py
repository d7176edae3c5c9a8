"""Listener subscriptions of the local stack: EventBridge's asynchronous Lambda invocation, with fakes."""

import json
from pathlib import Path
from typing import Any

import pytest

from jobs_local.errors import StackError
from jobs_local.listeners import load_listeners, subscribe_listeners
from jobs_local.stack import LocalStack
from jobs_local.subscriptions import Subscription, SubscriptionConfig

ENVELOPE = {
    'version': '0',
    'id': 'evt-1',
    'detail-type': 'job:ready',
    'source': 'jobs',
    'time': '2026-01-01T00:00:00Z',
    'region': 'us-east-1',
    'resources': [],
    'detail': {'topic': 'job:ready'},
}


def message(envelope: dict[str, Any] | None = None, number: int = 1) -> dict[str, Any]:
    return {'MessageId': f'm{number}', 'ReceiptHandle': f'r{number}', 'Body': json.dumps(envelope or ENVELOPE)}


class FakeQueue:
    def __init__(self, *messages: dict[str, Any]) -> None:
        self.waiting = list(messages)
        self.deleted: list[str] = []
        self.asked: list[int] = []

    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]:
        self.asked.append(max_messages)
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def delete(self, receipt_handles: list[str]) -> None:
        self.deleted += receipt_handles


class Handler:
    def __init__(self, failures: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures = failures

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if len(self.events) <= self.failures:
            raise ValueError(f'attempt {len(self.events)} failed')


class Harness:
    def __init__(self, handler: Handler, *messages: dict[str, Any], dead_letter_fails: bool = False) -> None:
        self.queue = FakeQueue(*messages)
        self.handler = handler
        self.dead_letters: list[tuple[str, dict[str, Any]]] = []
        self.waits: list[float] = []
        self.dead_letter_fails = dead_letter_fails
        self.subscription = Subscription(
            SubscriptionConfig(name='e2e.listener', account_id='123456789012', retry_seconds=0.2, concurrency=2),
            self.queue,
            handler,
            self.dead_letter,
            wait=self.wait,
            spawn=lambda work: work(),
        )

    def dead_letter(self, body: str, attributes: dict[str, Any]) -> None:
        if self.dead_letter_fails:
            raise ConnectionError('dlq unreachable')
        self.dead_letters.append((body, attributes))

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


def test_the_handler_gets_the_whole_eventbridge_envelope_with_its_account():
    harness = Harness(Handler(), message())
    harness.subscription.poll_once()
    (event,) = harness.handler.events
    assert event == {**ENVELOPE, 'account': '123456789012'}
    assert harness.queue.deleted == ['r1']


def test_a_handler_that_fails_twice_succeeds_on_the_last_retry():
    harness = Harness(Handler(failures=2), message())
    harness.subscription.poll_once()
    assert len(harness.handler.events) == 3
    assert harness.waits == [0.2, 0.2]
    assert harness.dead_letters == []
    assert harness.queue.deleted == ['r1']


def test_a_handler_that_always_fails_is_tried_three_times_then_dead_lettered_with_one_line(caplog):
    # GIVEN a handler that always raises
    harness = Harness(Handler(failures=99), message())

    # WHEN the event is delivered
    harness.subscription.poll_once()

    # THEN it was tried three times, went to the dead-letter queue as it came, and one line says so
    assert len(harness.handler.events) == 3
    ((body, attributes),) = harness.dead_letters
    assert json.loads(body) == ENVELOPE
    assert attributes['ErrorMessage']['StringValue'] == 'ValueError: attempt 3 failed'
    assert harness.queue.deleted == ['r1']
    errors = [record for record in caplog.records if record.levelname == 'ERROR']
    assert len(errors) == 1
    assert 'evt-1 (job:ready) failed 3 times' in errors[0].getMessage()


def test_an_event_that_cannot_be_dead_lettered_stays_on_the_queue():
    harness = Harness(Handler(failures=99), message(), dead_letter_fails=True)
    harness.subscription.poll_once()
    assert harness.queue.deleted == []


def test_each_handler_call_gets_its_own_copy_of_the_event():
    def mutating(event: dict[str, Any]) -> None:
        event['detail'] = 'changed'
        raise RuntimeError('again')

    harness = Harness(Handler(), message())
    seen = []
    harness.subscription._handler = lambda event: (seen.append(json.dumps(event)), mutating(event))
    harness.subscription.poll_once()
    assert all('"topic"' in text for text in seen)


def test_no_more_messages_are_taken_than_there_are_free_workers():
    harness = Harness(Handler(), *(message(number=n) for n in range(5)))
    harness.subscription.poll_once()
    assert harness.queue.asked == [2]


# ---------------------------------------------------------------- jobs dev --listener
LISTENER_FILE = """
from sibling import PATTERN


class Listener:
    def event_patterns(self):
        return [PATTERN]

    def lambda_handler(self, event, context):
        return context.function_name


listener = Listener()
alias = listener
"""


@pytest.fixture
def listener_file(tmp_path: Path) -> Path:
    (tmp_path / 'sibling.py').write_text("PATTERN = {'source': ['jobs']}\n")
    path = tmp_path / 'my_listener.py'
    path.write_text(LISTENER_FILE)
    return path


def test_a_listener_file_gives_its_listener_objects_once_and_not_their_class(listener_file):
    found = load_listeners(listener_file)
    assert [name for name, _ in found] == ['listener']


class FakeStack:
    def __init__(self) -> None:
        self.subscribed: list[tuple[str, list[dict[str, Any]], Any]] = []

    def subscribe(self, name: str, patterns: list[dict[str, Any]], handler: Any) -> None:
        self.subscribed.append((name, patterns, handler))


def test_subscribing_a_file_calls_the_listeners_lambda_handler_with_a_context(listener_file):
    stack = FakeStack()
    assert subscribe_listeners(stack, [listener_file]) == ['my_listener.listener']
    ((name, patterns, handler),) = stack.subscribed
    assert name == 'my_listener.listener'
    assert patterns == [{'source': ['jobs']}]
    assert handler(ENVELOPE) == 'jobs-local-listener-my_listener.listener'


@pytest.mark.parametrize(
    ('content', 'message'),
    [
        ('VALUE = 1\n', 'no listener'),
        ('raise ImportError("missing thing")\n', 'ImportError: missing thing'),
        ('def broken(:\n', 'SyntaxError'),
    ],
)
def test_a_file_without_usable_listeners_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / 'bad.py'
    path.write_text(content)
    with pytest.raises(StackError, match=message):
        load_listeners(path)


def test_a_missing_listener_file_is_one_clear_error(tmp_path):
    with pytest.raises(StackError, match='no such file'):
        load_listeners(tmp_path / 'absent.py')


def test_a_stack_refuses_a_bad_pattern_and_keeps_good_subscriptions_until_it_starts():
    stack = LocalStack(port=0)
    with pytest.raises(StackError, match='unknown operator'):
        stack.subscribe('bad', [{'source': [{'regex': 'x'}]}], print)
    with pytest.raises(StackError, match='no event patterns'):
        stack.subscribe('empty', [], print)
    stack.subscribe('good', [{'source': ['jobs']}], print)
    assert [name for name, _, _ in stack._pending] == ['good']
