"""The job lifecycle: every legal status transition, in one table.

The store enforces a transition with a single conditional UpdateItem whose condition is the
transition's `sources`; this module only decides what a request asks for. It never reads.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from jobs_core.errors import BadRequest, Conflict
from jobs_core.timestamps import format_timestamp

if TYPE_CHECKING:
    from jobs_core.models.job import Job, JobCreate, JobUpdate

ALL_STATUSES: Final = frozenset(
    {'created', 'planning', 'scheduled', 'waiting', 'ready', 'executing', 'complete', 'failed', 'canceled'}
)
TERMINAL: Final = frozenset({'complete', 'failed', 'canceled'})
ACTIVE: Final = ALL_STATUSES - TERMINAL
INITIAL: Final = frozenset({'created', 'planning', 'ready'})
# Jobs the platform plans before they run (Flatfile's automap flow): created in `planning`, the plan
# is computed asynchronously and announced by job:updated.
PLANNED_JOBS: Final = frozenset({'workbook:map'})


def planned(job_type: str, operation: str) -> bool:
    return f'{job_type}:{operation}' in PLANNED_JOBS


class Action(StrEnum):
    EXECUTE = 'execute'
    PLAN = 'plan'
    ACK = 'ack'
    COMPLETE = 'complete'
    FAIL = 'fail'
    CANCEL = 'cancel'
    RETRY = 'retry'
    ACKNOWLEDGE_OUTCOME = 'acknowledge the outcome of'
    RELEASE = 'release'
    SPLIT = 'split'
    UPDATE = 'update'
    CHANGE_PLAN = 'change the plan of'
    PLANNED = 'record the plan of'


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[str]
    target: str | None  # None: the status stays as it is
    # Statuses in which the action has already happened: the request succeeds and writes nothing.
    already_done: frozenset[str] = frozenset()


TRANSITIONS: Final[dict[Action, Transition]] = {
    Action.EXECUTE: Transition(frozenset({'created', 'planning'}), 'ready', already_done=frozenset({'ready'})),
    Action.PLAN: Transition(frozenset({'created'}), 'planning'),
    Action.ACK: Transition(frozenset({'ready', 'executing'}), 'executing'),
    Action.COMPLETE: Transition(frozenset({'ready', 'executing'}), 'complete'),
    Action.FAIL: Transition(ACTIVE, 'failed'),
    Action.CANCEL: Transition(ACTIVE, 'canceled'),
    Action.RETRY: Transition(frozenset({'failed', 'canceled'}), 'ready'),
    Action.ACKNOWLEDGE_OUTCOME: Transition(frozenset({'complete', 'failed'}), None),
    # A waiting job whose predecessors all completed, or a scheduled job whose time came, goes on
    # as its trigger says: to the status given by the caller (ready or created).
    Action.RELEASE: Transition(frozenset({'waiting', 'scheduled'}), None),
    Action.SPLIT: Transition(frozenset({'executing'}), None),
    # A map job's plan can change until the job runs; the platform's first plan lands while it plans.
    Action.CHANGE_PLAN: Transition(frozenset({'created', 'planning', 'ready'}), None),
    Action.PLANNED: Transition(frozenset({'planning'}), None),
}

# PATCH {status: X} takes the one action that leads to X, so it follows the same table.
ACTION_BY_TARGET: Final[dict[str, Action]] = {
    'ready': Action.EXECUTE,
    'planning': Action.PLAN,
    'executing': Action.ACK,
    'complete': Action.COMPLETE,
    'failed': Action.FAIL,
    'canceled': Action.CANCEL,
}


@dataclass(slots=True)
class Change:
    """One conditional write: what to set, under which statuses it is legal."""

    action: Action
    sources: frozenset[str]
    already_done: frozenset[str] = frozenset()
    assign: dict[str, object] = field(default_factory=dict)
    assign_if_absent: dict[str, object] = field(default_factory=dict)
    remove: set[str] = field(default_factory=set)
    increment: dict[str, int] = field(default_factory=dict)
    must_be_absent: set[str] = field(default_factory=set)
    # Attributes that must hold these values (e.g. the attempt a system job's execution runs).
    expect: dict[str, object] = field(default_factory=dict)


def initial_status(body: 'JobCreate') -> str:
    """The status a new job starts in, once nothing holds it back (no predecessors, no schedule)."""
    if body.status is not None:
        return body.status
    if body.trigger == 'immediate':
        return 'ready'
    # A managed job the platform plans starts planning; one a listener runs (managed false) waits.
    return 'planning' if planned(body.type, body.operation) and body.managed is not False else 'created'


def release(target: str, now: datetime) -> Change:
    change = transition(Action.RELEASE, now)
    change.assign['status'] = target
    return change


def touches_terminal(change: Change) -> bool:
    """The change moves a job into or out of a terminal status (what a split parent counts)."""
    return change.assign.get('status') in TERMINAL or change.action is Action.RETRY


def transition(action: Action, now: datetime, fields: dict[str, object] | None = None) -> Change:
    """The write for `action`, with the request's own fields (already in wire names) merged in."""
    rule = TRANSITIONS[action]
    change = Change(action=action, sources=rule.sources, already_done=rule.already_done)
    if rule.target is not None:
        change.assign['status'] = rule.target
    stamp = format_timestamp(now)
    match action:
        case Action.ACK:
            change.assign_if_absent['startedAt'] = stamp
        case Action.COMPLETE:
            change.assign['progress'] = 100
            change.assign['finishedAt'] = stamp
        case Action.FAIL | Action.CANCEL:
            change.assign['finishedAt'] = stamp
        case Action.RETRY:
            change.assign['progress'] = 0
            change.increment['attempt'] = 1
            change.remove |= {
                'outcome',
                'finishedAt',
                'startedAt',
                'outcomeAcknowledgedAt',
                'estimatedCompletionAt',
                'executionArn',
                'startToken',
            }
        case Action.ACKNOWLEDGE_OUTCOME:
            change.assign['outcomeAcknowledgedAt'] = stamp
            change.must_be_absent.add('outcomeAcknowledgedAt')
        case Action.RELEASE:
            change.must_be_absent.add('waitingOn')
        case _:
            pass
    change.assign.update(fields or {})
    return change


# Fields a PATCH may change only while the job is still running.
_ACTIVE_ONLY_FIELDS: Final = frozenset({'config', 'progress', 'info', 'estimatedCompletionAt'})


def update(body: 'JobUpdate', now: datetime) -> Change:
    """PATCH /jobs/{id}: plain fields, plus `status` along the transition table."""
    fields = body.model_dump(by_alias=True, exclude_none=True, mode='json')
    if not fields:
        raise BadRequest('The update is empty: give at least one field to change', key='body')
    status = fields.pop('status', None)
    if status is None:
        change = Change(action=Action.UPDATE, sources=ALL_STATUSES)
    elif status in ACTION_BY_TARGET:
        change = transition(ACTION_BY_TARGET[status], now)
    else:
        raise Conflict(f"A job's status cannot be set to {status} by an update", key='status')

    if _ACTIVE_ONLY_FIELDS & fields.keys():
        change.sources &= ACTIVE
    if 'outcomeAcknowledgedAt' in fields:
        change.sources &= TRANSITIONS[Action.ACKNOWLEDGE_OUTCOME].sources
        change.must_be_absent.add('outcomeAcknowledgedAt')
    change.assign.update(fields)
    if not change.sources:
        raise Conflict('These fields cannot be changed together: no job status allows it', key='status')
    return change


def explain_conflict(change: Change, job: 'Job') -> str:
    """The 409 message: what was asked, and why the job's current state forbids it."""
    if job.status in change.sources and job.outcome_acknowledged_at is not None:
        return f'Cannot {change.action} job {job.id}: its outcome was already acknowledged'
    if job.status in change.sources and 'version' in change.expect:
        return f'Cannot {change.action} job {job.id}: it changed meanwhile (now version {job.version}); read it again'
    allowed = ', '.join(sorted(change.sources))
    return f'Cannot {change.action} job {job.id}: it is {job.status} (allowed only when {allowed})'
