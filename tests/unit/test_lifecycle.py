"""The transition table itself: what each action asks for, with no store involved."""

from datetime import UTC, datetime

import pytest

from jobs_core import lifecycle
from jobs_core.errors import BadRequest, Conflict
from jobs_core.lifecycle import ACTIVE, TERMINAL, Action
from jobs_core.models.job import JobCreate, JobUpdate

NOW = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
STAMP = '2024-01-02T03:04:05.678Z'


@pytest.mark.parametrize(
    ('trigger', 'status', 'expected'),
    [
        (None, None, 'created'),
        ('manual', None, 'created'),
        ('immediate', None, 'ready'),
        ('manual', 'ready', 'ready'),
        ('immediate', 'planning', 'planning'),
    ],
)
def test_initial_status_follows_trigger_unless_given(trigger, status, expected):
    # GIVEN a create body
    body = JobCreate(type='workbook', operation='export', source='us_wb_1', trigger=trigger, status=status)
    # WHEN / THEN
    assert lifecycle.initial_status(body) == expected


@pytest.mark.parametrize(
    ('action', 'sources', 'target'),
    [
        (Action.EXECUTE, {'created', 'planning'}, 'ready'),
        (Action.ACK, {'ready', 'executing'}, 'executing'),
        (Action.COMPLETE, {'ready', 'executing'}, 'complete'),
        (Action.FAIL, set(ACTIVE), 'failed'),
        (Action.CANCEL, set(ACTIVE), 'canceled'),
        (Action.RETRY, {'failed', 'canceled'}, 'ready'),
        (Action.ACKNOWLEDGE_OUTCOME, {'complete', 'failed'}, None),
    ],
)
def test_transition_table(action, sources, target):
    # WHEN the change for an action is planned
    change = lifecycle.transition(action, NOW)
    # THEN it is legal only from the table's sources and leads to its target
    assert change.sources == sources
    assert change.assign.get('status') == target


def test_terminal_statuses_allow_no_progress_changes():
    # GIVEN a progress update
    change = lifecycle.update(JobUpdate(progress=10), NOW)
    # THEN it is legal only while the job is active
    assert change.sources == ACTIVE
    assert not change.sources & TERMINAL


def test_complete_sets_progress_and_finish_and_keeps_the_callers_fields():
    change = lifecycle.transition(Action.COMPLETE, NOW, {'outcome': {'message': 'done'}, 'info': 'ok'})
    assert change.assign == {
        'status': 'complete',
        'progress': 100,
        'finishedAt': STAMP,
        'outcome': {'message': 'done'},
        'info': 'ok',
    }


def test_ack_sets_started_at_only_once():
    change = lifecycle.transition(Action.ACK, NOW, {'progress': 10})
    assert change.assign_if_absent == {'startedAt': STAMP}
    assert change.assign['progress'] == 10


def test_retry_starts_a_new_attempt():
    change = lifecycle.transition(Action.RETRY, NOW)
    assert change.increment == {'attempt': 1}
    assert change.assign['progress'] == 0
    assert {'outcome', 'finishedAt', 'startedAt', 'outcomeAcknowledgedAt'} <= change.remove


def test_outcome_is_acknowledged_once():
    change = lifecycle.transition(Action.ACKNOWLEDGE_OUTCOME, NOW)
    assert change.must_be_absent == {'outcomeAcknowledgedAt'}
    assert change.assign == {'outcomeAcknowledgedAt': STAMP}


def test_execute_on_a_ready_job_is_already_done():
    assert lifecycle.transition(Action.EXECUTE, NOW).already_done == {'ready'}


@pytest.mark.parametrize(('status', 'action'), list(lifecycle.ACTION_BY_TARGET.items()))
def test_patch_status_follows_the_same_table(status, action):
    # WHEN a PATCH sets a status
    change = lifecycle.update(JobUpdate(status=status), NOW)
    # THEN it is exactly the action that leads there
    assert change.sources == lifecycle.TRANSITIONS[action].sources
    assert change.assign['status'] == status


@pytest.mark.parametrize('status', ['created', 'scheduled', 'waiting'])
def test_patch_cannot_set_statuses_no_action_leads_to(status):
    with pytest.raises(Conflict):
        lifecycle.update(JobUpdate(status=status), NOW)


def test_empty_patch_is_a_bad_request():
    with pytest.raises(BadRequest):
        lifecycle.update(JobUpdate(), NOW)


def test_metadata_can_change_in_any_status():
    assert lifecycle.update(JobUpdate(metadata={'a': 1}), NOW).sources == lifecycle.ALL_STATUSES


def test_patch_outcome_acknowledged_at_needs_a_finished_job():
    change = lifecycle.update(JobUpdate(outcome_acknowledged_at=NOW), NOW)
    assert change.sources == {'complete', 'failed'}
    assert change.must_be_absent == {'outcomeAcknowledgedAt'}


def test_contradictory_patch_is_refused_before_writing():
    # GIVEN a PATCH that completes a job and acknowledges its outcome at once
    body = JobUpdate(status='executing', outcome_acknowledged_at=NOW)
    # THEN no status allows it
    with pytest.raises(Conflict):
        lifecycle.update(body, NOW)
