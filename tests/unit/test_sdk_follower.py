"""The Events API follower behind `jobs listen`, against the real API and event store in process:
each new event once, in order, acknowledged; late arrivals inside the overlap; bounded retries."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jobs_core.models.event import Event
from jobs_sdk import JobsApiError
from jobs_sdk.follower import EventFollower
from tests.builders import TENANT
from tests.unit.sdk_fixtures import (  # noqa: F401 - fixtures
    api_response,
    envelope,
    events_table_fixture,
    in_process_client,
    recorded_fixture,
    sdk_fixture,
)

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def stored(store, seconds: float, topic: str = 'job:ready', job_id: str = 'us_jb_f1') -> Event:
    """An event created `seconds` after START, put in the event store."""
    event = Event.model_validate(envelope(topic, job_id=job_id, created_at=START + timedelta(seconds=seconds)))
    assert store.put(event)
    return event


def acknowledged(store, event: Event) -> datetime | None:
    found = store.get(TENANT, event.id)
    assert found is not None
    return found.acknowledged_at


class Target:
    def __init__(self, failures: int = 0) -> None:
        self.received: list[str] = []
        self.failures = failures

    def __call__(self, item: dict) -> None:
        self.received.append(item['id'])
        if self.failures:
            self.failures -= 1
            raise RuntimeError('not yet')


def test_new_events_are_delivered_once_in_order_and_acknowledged(sdk, events_table):
    # GIVEN one event before the start and three after it, stored out of creation order
    stored(events_table, -1)
    late, first, second = stored(events_table, 3), stored(events_table, 1), stored(events_table, 2)
    target = Target()
    follower = EventFollower(sdk, [target], since=START)

    # WHEN it polls twice
    report = follower.poll()
    again = follower.poll()

    # THEN each event after the start arrived once, oldest first, and was acknowledged
    assert target.received == [first.id, second.id, late.id]
    assert (report.delivered, again.delivered) == (3, 0)
    assert all(acknowledged(events_table, event) for event in (first, second, late))


def test_an_event_stored_late_within_the_overlap_is_delivered(sdk, events_table):
    target = Target()
    follower = EventFollower(sdk, [target], since=START, overlap=5)
    newest = stored(events_table, 10)
    follower.poll()

    # WHEN an event created 3 s before the newest one seen is stored only now
    straggler = stored(events_table, 7)
    follower.poll()

    assert target.received == [newest.id, straggler.id]


def test_a_failing_target_gets_the_event_again_a_bounded_number_of_times(sdk, events_table):
    bad = stored(events_table, 1)
    good = stored(events_table, 2, job_id='us_jb_f2')
    failing = Target(failures=10)
    follower = EventFollower(sdk, [failing], since=START, max_attempts=3)

    reports = [follower.poll() for _ in range(5)]

    assert failing.received == [bad.id, good.id, bad.id, good.id, bad.id, good.id]
    assert [(r.failed, r.abandoned) for r in reports] == [(2, 0), (2, 0), (0, 2), (0, 0), (0, 0)]
    assert acknowledged(events_table, bad) is None  # given up: left unacknowledged


def test_only_the_failing_target_is_retried(sdk, events_table):
    event = stored(events_table, 1)
    steady, flaky = Target(), Target(failures=1)
    follower = EventFollower(sdk, [steady, flaky], since=START)

    follower.poll()
    assert acknowledged(events_table, event) is None
    follower.poll()

    assert (steady.received, flaky.received) == ([event.id], [event.id, event.id])
    assert acknowledged(events_table, event) is not None


def test_every_page_is_read(sdk, events_table):
    events = [stored(events_table, index / 10, job_id=f'us_jb_{index:03d}') for index in range(130)]
    target = Target()
    EventFollower(sdk, [target], since=START).poll()
    assert target.received == [event.id for event in events]


def test_an_unreachable_api_is_tried_again_next_poll(api, events_table):
    down = True

    def flaky(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError('refused')
        return api_response(request)

    client, _ = in_process_client(flaky, max_retries=0)
    event = stored(events_table, 1)
    target = Target()
    follower = EventFollower(client, [target], since=START)

    assert follower.poll().delivered == 0
    down = False
    assert follower.poll().delivered == 1
    assert target.received == [event.id]


def test_a_refused_key_stops_the_follower():
    client, _ = in_process_client(
        lambda request: httpx.Response(401, json={'errors': [{'key': 'authorization', 'message': 'Unauthorized'}]})
    )
    with pytest.raises(JobsApiError) as refused:
        EventFollower(client, [Target()], since=START).poll()
    assert refused.value.status == 401


def test_stop_is_honoured_between_events(sdk, events_table):
    first, _ = stored(events_table, 1), stored(events_table, 2)
    received = []

    def stop_after_one(item):
        received.append(item['id'])
        follower.stop()

    follower = EventFollower(sdk, [stop_after_one], since=START)
    follower.run(poll_interval=0)

    assert received == [first.id]
