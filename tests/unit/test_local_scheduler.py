"""The local stack's firing of EventBridge Scheduler one-time schedules, with a fake schedule store and target."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs_local.scheduler import Scheduler, due_at

QUEUE = 'arn:aws:sqs:us-east-1:123456789012:jobs-local-GatesQueue'
DLQ = 'arn:aws:sqs:us-east-1:123456789012:jobs-local-GatesDeadLetterQueue'
NOON = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def schedule(name: str = 'us_jb_1-1', at: str = '2026-06-01T12:00:00', **fields: Any) -> dict[str, Any]:
    return {
        'Name': name,
        'GroupName': 'default',
        'ScheduleExpression': f'at({at})',
        'ScheduleExpressionTimezone': 'UTC',
        'State': 'ENABLED',
        'ActionAfterCompletion': 'DELETE',
        'Target': {'Arn': QUEUE, 'Input': '{"release": 1}', 'RetryPolicy': {'MaximumRetryAttempts': 2}},
        **fields,
    }


class FakeStore:
    def __init__(self, *schedules: dict[str, Any]) -> None:
        self.schedules = {(item['GroupName'], item['Name']): item for item in schedules}
        self.gets = 0

    def names(self) -> list[tuple[str, str, str]]:
        return [(group, name, 'v1') for group, name in self.schedules]

    def get(self, group: str, name: str) -> dict[str, Any]:
        self.gets += 1
        return self.schedules[(group, name)]

    def delete(self, group: str, name: str) -> None:
        del self.schedules[(group, name)]


class Harness:
    def __init__(self, *schedules: dict[str, Any], failures: int = 0) -> None:
        self.store = FakeStore(*schedules)
        self.sent: list[tuple[str, str]] = []
        self.failures = failures
        self.now = NOON - timedelta(seconds=1)
        self.scheduler = Scheduler(self.store, self.send, clock=lambda: self.now)

    def send(self, arn: str, body: str, target: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError('unreachable')
        self.sent.append((arn, body))


def test_a_one_time_schedule_fires_once_at_its_time_then_deletes_itself():
    # GIVEN a schedule for noon
    harness = Harness(schedule())

    # WHEN it is polled before noon, nothing happens
    harness.scheduler.poll_once()
    assert harness.sent == []

    # WHEN it is polled at noon, its Input goes to its target and it is deleted
    harness.now = NOON
    harness.scheduler.poll_once()
    harness.scheduler.poll_once()
    assert harness.sent == [(QUEUE, '{"release": 1}')]
    assert harness.store.schedules == {}


def test_a_schedule_kept_after_completion_fires_only_once():
    harness = Harness(schedule(ActionAfterCompletion='NONE'))
    harness.now = NOON
    harness.scheduler.poll_once()
    harness.scheduler.poll_once()
    assert len(harness.sent) == 1
    assert len(harness.store.schedules) == 1
    assert harness.store.gets == 1  # read once, not on every poll


def test_a_disabled_schedule_does_not_fire():
    harness = Harness(schedule(State='DISABLED'))
    harness.now = NOON
    harness.scheduler.poll_once()
    assert harness.sent == []


def test_recurring_schedules_are_not_fired_locally_and_say_so(caplog):
    harness = Harness(schedule(ScheduleExpression='rate(5 minutes)'))
    harness.now = NOON
    harness.scheduler.poll_once()
    harness.scheduler.poll_once()
    assert harness.sent == []
    assert caplog.text.count('is not fired locally') == 1


def test_a_target_that_cannot_be_reached_is_retried_on_the_next_polls():
    harness = Harness(schedule(), failures=2)
    harness.now = NOON
    for _ in range(3):
        harness.scheduler.poll_once()
    assert harness.sent == [(QUEUE, '{"release": 1}')]


def test_after_its_retries_the_input_goes_to_the_dead_letter_queue():
    harness = Harness(
        schedule(
            Target={
                'Arn': QUEUE,
                'Input': 'x',
                'RetryPolicy': {'MaximumRetryAttempts': 1},
                'DeadLetterConfig': {'Arn': DLQ},
            }
        ),
        failures=2,
    )
    harness.now = NOON
    for _ in range(3):
        harness.scheduler.poll_once()
    assert harness.sent == [(DLQ, 'x')]
    assert harness.store.schedules == {}


def test_a_target_that_is_not_emulated_is_not_invoked(caplog):
    lambda_target = {'Arn': 'arn:aws:lambda:us-east-1:123456789012:function:f', 'Input': '{}'}
    harness = Harness(schedule(Target=lambda_target))
    harness.now = NOON
    harness.scheduler.poll_once()
    assert harness.sent == []
    assert 'is not invoked locally' in caplog.text


@pytest.mark.parametrize(
    ('expression', 'zone', 'expected'),
    [
        ('at(2026-06-01T12:00:00)', 'UTC', NOON),
        ('at(2026-06-01T14:00:00)', 'Europe/Paris', NOON),
        ('at(2026-06-01T12:00:00)', None, NOON),
        ('rate(1 hour)', 'UTC', None),
        ('cron(0 12 * * ? *)', 'UTC', None),
    ],
)
def test_due_at(expression, zone, expected):
    assert due_at({'ScheduleExpression': expression, 'ScheduleExpressionTimezone': zone}) == expected
