"""Which events a change of a job item means, and the events themselves."""

from datetime import UTC, datetime

import pytest

from jobs_core.lifecycle_events import StreamChange, event_id, job_events
from jobs_core.topics import job_topics

BASE = {
    'id': 'us_jb_1',
    'type': 'workbook',
    'operation': 'export',
    'source': 'us_wb_1',
    'status': 'created',
    'progress': 0,
    'version': 1,
    'accountId': 'us_acc_1',
    'environmentId': 'us_env_1',
    'createdBy': 'us_key_1',
    'updatedAt': '2024-01-01T00:00:00.000Z',
}


def moved(**changes):
    return {**BASE, 'version': 2, 'updatedAt': '2024-01-01T00:00:01.000Z', **changes}


@pytest.mark.parametrize(
    ('status', 'topics'),
    [
        ('created', ['job:created']),
        ('planning', ['job:created']),
        ('ready', ['job:created', 'job:ready']),
        ('scheduled', ['job:created', 'job:scheduled']),
        ('waiting', ['job:created']),
    ],
)
def test_insert(status, topics):
    assert job_topics('INSERT', None, {**BASE, 'status': status}) == topics


@pytest.mark.parametrize(
    ('old', 'new', 'topics'),
    [
        ('created', 'ready', ['job:ready']),
        ('failed', 'ready', ['job:ready']),
        ('waiting', 'ready', ['job:ready']),
        ('ready', 'executing', ['job:updated']),
        ('executing', 'complete', ['job:completed']),
        ('executing', 'failed', ['job:failed']),
        ('executing', 'canceled', ['job:updated']),
        ('created', 'planning', ['job:updated']),
        ('created', 'scheduled', ['job:scheduled']),
    ],
)
def test_status_changes(old, new, topics):
    assert job_topics('MODIFY', {**BASE, 'status': old}, moved(status=new)) == topics


@pytest.mark.parametrize('field', [{'progress': 50}, {'info': 'half'}, {'estimatedCompletionAt': 'x'}, {'config': {}}])
def test_progress_and_other_changes_are_updates(field):
    assert job_topics('MODIFY', BASE, moved(**field)) == ['job:updated']


def test_a_write_that_changes_only_bookkeeping_emits_nothing():
    assert job_topics('MODIFY', BASE, moved(updatedBy='us_key_2')) == []


def test_outcome_acknowledged_once():
    done = {**BASE, 'status': 'complete'}
    acknowledged = moved(status='complete', outcomeAcknowledgedAt='2024-01-02T00:00:00.000Z')
    assert job_topics('MODIFY', done, acknowledged) == ['job:outcome-acknowledged']
    assert job_topics('MODIFY', acknowledged, {**acknowledged, 'version': 3}) == []


def test_parts_completed_fires_when_the_last_part_finishes():
    parent = {**BASE, 'status': 'executing', 'partsTotal': 3, 'partsCompleted': 1, 'partsFailed': 1}
    assert job_topics('MODIFY', parent, moved(**{**parent, 'partsCompleted': 1, 'partsFailed': 1})) == []
    last = moved(**{**parent, 'partsCanceled': 1})
    assert job_topics('MODIFY', parent, last) == ['job:parts-completed']
    assert job_topics('MODIFY', last, {**last, 'info': 'x'}) == ['job:updated']


def test_remove_is_deleted():
    assert job_topics('REMOVE', BASE, None) == ['job:deleted']


def change(event_name='MODIFY', old=None, new=None, record_id='rec-1'):
    return StreamChange(record_id, event_name, old, new, datetime(2024, 1, 3, tzinfo=UTC))


def test_event_envelope():
    # GIVEN a sheet job becoming ready, with its relations
    job = moved(
        status='ready',
        source='us_sh_1',
        spaceId='us_sp_1',
        input={'a': 1},
        managed=False,
        parentId='us_jb_p',
        updatedBy='us_key_2',
        fileId='us_fl_1',
    )
    # WHEN its events are built
    [event] = job_events(change(old=BASE, new=job))
    # THEN it is the Flatfile envelope with the job's version
    assert event.model_dump(mode='json') == {
        'id': event_id('rec-1', 'job:ready'),
        'topic': 'job:ready',
        'domain': 'job',
        'context': {
            'accountId': 'us_acc_1',
            'environmentId': 'us_env_1',
            'spaceId': 'us_sp_1',
            'sheetId': 'us_sh_1',
            'fileId': 'us_fl_1',
            'jobId': 'us_jb_1',
            'actorId': 'us_key_2',
        },
        'payload': {
            'domain': 'workbook',
            'operation': 'export',
            'job': 'workbook:export',
            'status': 'ready',
            'isPart': True,
            'input': {'a': 1},
            'progress': 0,
            'managed': False,
        },
        'createdAt': '2024-01-01T00:00:01.000Z',
        'version': 2,
    }


def test_ids_are_stable_per_record_and_topic():
    first = job_events(change('INSERT', None, {**BASE, 'status': 'ready'}))
    again = job_events(change('INSERT', None, {**BASE, 'status': 'ready'}))
    other = job_events(change('INSERT', None, {**BASE, 'status': 'ready'}, record_id='rec-2'))
    assert [event.id for event in first] == [event.id for event in again]
    assert len({event.id for event in first + other}) == 4


def test_parts_completed_payload_counts():
    parent = {**BASE, 'status': 'executing', 'partsTotal': 2, 'partsCompleted': 1}
    [event] = job_events(change(old=parent, new=moved(**{**parent, 'partsFailed': 1})))
    assert event.payload['parts'] == {'total': 2, 'completed': 1, 'failed': 1, 'canceled': 0}


def test_a_huge_input_is_left_out_of_the_event():
    [event, _] = job_events(change('INSERT', None, {**BASE, 'status': 'ready', 'input': {'x': 'y' * 300_000}}))
    assert 'input' not in event.payload
    assert event.payload['inputOmitted'] is True


def test_deleted_event_uses_the_old_image():
    [event] = job_events(change('REMOVE', BASE, None))
    assert (event.topic, event.context.job_id, event.created_at.year) == ('job:deleted', 'us_jb_1', 2024)
