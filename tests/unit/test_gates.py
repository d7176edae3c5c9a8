"""The gates function: what it does with each event the gates rule routes to it."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs_core.models.event import Event, EventContext
from tests.builders import TENANT, load_entry


class Schedules:
    def __init__(self) -> None:
        self.created: list[tuple[str, int, datetime]] = []

    def release_at(self, tenant, job_id, attempt, when) -> None:
        self.created.append((job_id, attempt, when))


@pytest.fixture
def gates(dynamodb, monkeypatch):
    module = load_entry('GatesFunction')
    module.service.cache_clear()
    fake = Schedules()
    monkeypatch.setattr(module, 'schedules', lambda: fake)
    yield module, fake
    module.service.cache_clear()


def event(topic: str, job_id: str, status: str) -> dict:
    context = EventContext(account_id=TENANT.account_id, environment_id=TENANT.environment_id, job_id=job_id)
    detail = Event(
        id='us_evt_x',
        topic=topic,
        domain='job',
        context=context,
        payload={'status': status},
        created_at=datetime.now(UTC),
    )
    return {'detail-type': topic, 'detail': detail.model_dump(mode='json')}


def test_a_deleted_predecessor_fails_what_waits_for_it(api, create_job, gates):
    module, _ = gates
    predecessor = create_job(trigger='immediate')['id']
    waiting = create_job(trigger='immediate', predecessorIds=[predecessor])['id']
    api('DELETE', f'/v1/jobs/{predecessor}')
    module.handle(event('job:deleted', predecessor, 'ready'))
    failed = api('GET', f'/v1/jobs/{waiting}').data
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == f'Predecessor job {predecessor} deleted'


def test_a_scheduled_job_gets_a_one_time_schedule(create_job, gates):
    module, schedules = gates
    when = datetime.now(UTC) + timedelta(hours=2)
    job = create_job(trigger='immediate', scheduledAt=when.isoformat())
    module.handle(event('job:scheduled', job['id'], 'scheduled'))
    assert [(job_id, attempt) for job_id, attempt, _ in schedules.created] == [(job['id'], 1)]
    assert abs((schedules.created[0][2] - when).total_seconds()) < 0.001


def test_a_schedule_whose_time_passed_meanwhile_releases_at_once(api, create_job, gates, monkeypatch):
    module, schedules = gates
    job = create_job(trigger='immediate', scheduledAt=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    # WHEN the event arrives after the job's time
    monkeypatch.setattr(module, 'now', lambda: datetime.now(UTC) + timedelta(minutes=5))
    module.handle(event('job:scheduled', job['id'], 'scheduled'))
    # THEN no schedule is made: the job is released now
    assert schedules.created == []
    assert api('GET', f'/v1/jobs/{job["id"]}').data['status'] == 'ready'


def test_a_release_message_releases_a_scheduled_job(api, create_job, gates):
    module, _ = gates
    job = create_job(scheduledAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    message = {'release': {'accountId': TENANT.account_id, 'environmentId': TENANT.environment_id, 'jobId': job['id']}}
    module.handle(message)
    assert api('GET', f'/v1/jobs/{job["id"]}').data['status'] == 'created'
    module.handle(message)  # delivered twice: nothing more happens
    assert api('GET', f'/v1/jobs/{job["id"]}').data['version'] == job['version'] + 1
