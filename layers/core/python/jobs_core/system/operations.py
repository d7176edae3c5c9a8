"""The contract every system operation fulfils, and which `type:operation`s are system jobs.

An operation works in steps the runtime drives: prepare once (count, snapshot, plan), then process
until done, each call doing as much as its time budget allows and returning a small cursor (never
data: it rides in the state machine's payload), then finalize into the job's outcome.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from jobs_core.models.job import Job
    from jobs_core.models.tenant import Tenant

# The system operations, by the job string listeners see ("<type>:<operation>").
SYSTEM_OPERATIONS: Final = frozenset(
    {
        'file:extract',
        'sheet:export',
        'workbook:export',
        'sheet:delete-records',
        'workbook:delete-records',
        'sheet:find-replace',
        'workbook:map',
        'sheet:mutate-records',
        'space:configure',
        'sheet:ai-assist',
        # The data plane's own (jobs_core.data_jobs): what a deleted resource held, snapshot restores.
        'space:delete',
        'workbook:delete',
        'sheet:delete',
        'sheet:restore-snapshot',
    }
)


def is_system(job_type: str, operation: str) -> bool:
    return f'{job_type}:{operation}' in SYSTEM_OPERATIONS


class Budget(Protocol):
    def left(self) -> float:
        """Seconds this invocation may still spend before handing over to the next one."""
        ...


@dataclass(frozen=True, slots=True)
class Plan:
    total: int | None  # units of work (rows, records, bytes); None when unknown up front
    unit: str  # what a unit is, for the job's info: "rows", "records"
    verb: str  # what is done to them: "Extracted", "Deleted"
    cursor: dict[str, Any] = field(default_factory=dict)
    estimated: bool = False  # the total is an upper bound or an estimate (e.g. records a search may match)


@dataclass(frozen=True, slots=True)
class Step:
    cursor: dict[str, Any]
    done_units: int  # units finished by this step (added to the job's count)
    finished: bool
    total: int | None = None  # set when the total is learnt on the way (e.g. rows of a file)
    estimated: bool = False  # the total is an estimate so far (rows of a file, from the bytes read)


@dataclass(frozen=True, slots=True)
class Completion:
    """What finalize may return instead of a bare outcome: the outcome, and job fields the platform
    sets with it (`config`, `result`), e.g. the header row an extract detected."""

    outcome: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    tenant: 'Tenant'
    job: 'Job'


class Operation(Protocol):
    def prepare(self, context: Context) -> Plan: ...

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step: ...

    def finalize(self, context: Context, cursor: dict[str, Any]) -> 'dict[str, Any] | Completion':
        """The job's outcome (a JobOutcome as a dict), or a Completion with job fields to set too."""
        ...


class OperationFailed(Exception):
    """The job cannot succeed; `message` is what the person who started it reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobStopped(Exception):
    """The job is no longer this execution's to run (canceled, retried, deleted). The state machine
    catches it by this name and ends without another write."""


OperationFactory = Callable[[], Operation]
