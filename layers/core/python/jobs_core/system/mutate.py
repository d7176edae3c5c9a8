"""`sheet:mutate-records`: a JSONata expression (jobs_core.system.mutation) applied to the records a
MutateJobConfig selects, and its preview (POST /v1/jobs/preview-mutation), which writes nothing.

The job is a record edit (record_edits): pages of records, the new values validated like any write,
each transaction conditioned on the versions read and on the job still running this attempt.

- At most once per record: every record the job changes names the job's own commit id (derived from
  the job id) in the same conditional transaction that writes it. A step that runs again after a
  failure (or a retry of the job) skips the records that name it, so `{"n": n + 1}` never adds twice.
- A record the expression fails on is left exactly as it is (its values, validity and metadata are
  the caller's data, not a place for the job's errors): the job's outcome counts the records changed,
  unchanged and failed, and `result.failures` lists the first few with why. When it fails on every
  record it evaluated, the job fails with the first error.
- Bounded: each record's evaluation stops after mutation.TIMEOUT_MS; the job fails once the
  expression has run out of time on MAX_TIMEOUTS records (it is too slow for a sheet), and a step
  hands over at a page boundary once its budget is spent (even short of its floor of records) and
  stops short of the worker's timeout however slow the expression is.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.errors import BadRequest
from jobs_core.models.mutation import DiffRecord, DiffValue
from jobs_core.models.record import ValidationMessage
from jobs_core.records import CHUNK
from jobs_core.system.configs import MutateJobConfig
from jobs_core.system.guards import Running
from jobs_core.system.mutation import TIMEOUT_MS, Evaluated, Mutation
from jobs_core.system.operations import Budget, Completion, Context, OperationFailed, Step
from jobs_core.system.record_edits import MIN_RECORDS_PER_STEP, _RecordEdit
from jobs_core.system.selection import Chosen, chosen, read_page
from jobs_core.validation import validate

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant
    from jobs_core.records import RecordService, Stored, Written
    from jobs_core.sheets import SheetState
    from jobs_core.snapshots import SnapshotService

# Smaller pages than other edits (a page's evaluation is what a step cannot interrupt): one transaction's.
PAGE_SIZE: Final = CHUNK
MAX_TIMEOUTS: Final = 5
FAILURES_LISTED: Final = 3
FAILURE_CHARS: Final = 150  # of each listed failure's message: the cursor carries them between steps
# Past its budget, a step hands over at the next page boundary after this many seconds (even short of
# its floor of records), and fails the job if one page is still evaluating after HARD_OVERTIME: both
# well inside the worker's safety margin before its Lambda timeout.
SOFT_OVERTIME_SECONDS: Final = 15.0
HARD_OVERTIME_SECONDS: Final = 40.0
PREVIEW_RECORDS: Final = 100
PREVIEW_SECONDS: Final = 10.0  # every preview answers well within API Gateway's 29 s
MUTATION_SOURCE: Final = 'mutation'


class MutateRecords(_RecordEdit):
    """`sheet:mutate-records` (MutateJobConfig): see the module's docstring."""

    verb = 'Evaluated'
    kind = 'update'

    def __init__(
        self,
        records: 'RecordService',
        snapshots: 'SnapshotService',
        jobs: 'JobService',
        *,
        page_size: int = PAGE_SIZE,
        min_records: int = MIN_RECORDS_PER_STEP,
        timeout_ms: int = TIMEOUT_MS,
        max_timeouts: int = MAX_TIMEOUTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(records, snapshots, jobs, page_size=page_size, min_records=min_records)
        self._timeout_ms = timeout_ms
        self._max_timeouts = max_timeouts
        self._clock = clock
        self._soft_stop = self._hard_stop = 0.0
        self._timeouts = 0
        self._page: dict[str, Evaluated | None] = {}
        self._result: dict[str, Any] = {}

    # ------------------------------------------------------------ the record edit's parts
    def _config(self, context: Context) -> MutateJobConfig:
        config: MutateJobConfig = self._parsed(MutateJobConfig, context)
        return config

    def _sheet_id(self, context: Context, config: MutateJobConfig) -> str:
        if config.sheet_id != context.job.source:
            raise OperationFailed(f'config.sheetId {config.sheet_id} is not the job source {context.job.source}')
        return config.sheet_id

    def _selected(self, config: MutateJobConfig, sheet: 'SheetState') -> Chosen:
        return chosen(config, config.ids)

    def _commit_id(self, context: Context) -> str:
        return ids.derived_id(ids.COMMIT, context.job.id, 'mutate-records')

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        now = self._clock()
        self._soft_stop = now + budget.left() + SOFT_OVERTIME_SECONDS
        self._hard_stop = now + budget.left() + HARD_OVERTIME_SECONDS
        self._timeouts = int(cursor.get('timeouts', 0))
        return super().process(context, cursor, budget)

    def _enough(self, done: int, budget: Budget) -> bool:
        return budget.left() <= 0 and (done >= self._min_records or self._clock() >= self._soft_stop)

    def _apply(self, context: Context, sheet: 'SheetState', page: list['Stored'], config: MutateJobConfig) -> 'Written':
        mutation = Mutation(config.mutate_record)
        marker = self._commit_id(context)
        self._page = {}

        def edit(record: 'Stored') -> dict[str, Any] | None:
            if record.get('commitId') == marker:
                self._page[record['id']] = None  # changed by this job already (a step that runs again)
                return None
            evaluated = self._evaluate(mutation, record, sheet)
            self._page[record['id']] = evaluated
            return evaluated.values

        guard = Running(self._jobs, context).transactional()
        return self._records.edit_found(
            context.tenant,
            sheet,
            {record['id']: record for record in page},
            edit,
            kind=self.kind,
            job_id=context.job.id,
            guard=guard,
            commit_id=marker,
        )

    def _counted(self, cursor: dict[str, Any], written: 'Written') -> None:
        changed = {record['id'] for record in written.records}
        failures: list[list[str]] = cursor.setdefault('failures', [])
        for record_id, evaluated in self._page.items():
            if evaluated is None or record_id in changed:
                cursor['changed'] += 1
            elif evaluated.error is not None:
                cursor['failed'] = cursor.get('failed', 0) + 1
                if len(failures) < FAILURES_LISTED:
                    message = evaluated.error
                    if len(message) > FAILURE_CHARS:
                        message = message[: FAILURE_CHARS - 1] + '…'
                    failures.append([record_id, message])
            else:
                cursor['unchanged'] = cursor.get('unchanged', 0) + 1
        cursor['timeouts'] = self._timeouts

    def finalize(self, context: Context, cursor: dict[str, Any]) -> Completion:
        changed, unchanged, failed = (int(cursor.get(key, 0)) for key in ('changed', 'unchanged', 'failed'))
        failures = [{'recordId': record_id, 'message': message} for record_id, message in cursor.get('failures', [])]
        if failed and not changed and not unchanged:
            first = failures[0]
            raise OperationFailed(
                f'The expression failed on all {failed:,} records it was evaluated on; '
                f'the first, {first["recordId"]}: {first["message"]}'
            )
        self._result = {'changed': changed, 'unchanged': unchanged, 'failed': failed, 'failures': failures}
        fields: dict[str, Any] = {'result': self._result}
        if cursor.get('snapshotId'):
            fields['config'] = {**(context.job.config or {}), 'snapshotId': cursor['snapshotId']}
        return Completion(outcome=self._outcome(context, cursor), fields=fields)

    def _message(self, sheet: 'SheetState', changed: int, config: MutateJobConfig) -> str:
        counts = self._result
        message = (
            f'Mutated records of sheet {sheet.slug}: {counts["changed"]:,} changed, '
            f'{counts["unchanged"]:,} unchanged, {counts["failed"]:,} failed'
        )
        if counts['failures']:
            first = counts['failures'][0]
            message += f' (first failure, {first["recordId"]}: {first["message"]})'
        return message

    # ------------------------------------------------------------ helpers
    def _evaluate(self, mutation: Mutation, record: 'Stored', sheet: 'SheetState') -> Evaluated:
        left_ms = int((self._hard_stop - self._clock()) * 1000)
        if left_ms <= 0:
            raise OperationFailed(_too_slow(f'a step ran {HARD_OVERTIME_SECONDS:.0f} s past its time'))
        timeout_ms = min(self._timeout_ms, left_ms)
        evaluated = mutation.evaluate(record, sheet, timeout_ms=timeout_ms)
        if evaluated.timed_out:
            if timeout_ms < self._timeout_ms:
                raise OperationFailed(_too_slow(f'a step ran {HARD_OVERTIME_SECONDS:.0f} s past its time'))
            self._timeouts += 1
            if self._timeouts >= self._max_timeouts:
                raise OperationFailed(
                    _too_slow(f'it ran out of its {self._timeout_ms:,} ms on {self._timeouts} records ({record["id"]})')
                )
        return evaluated


def _too_slow(why: str) -> str:
    return f'The expression is too slow to run over a sheet: {why}. Records changed so far keep their new values.'


# ---------------------------------------------------------------- preview
def preview_mutation(
    records: 'RecordService',
    tenant: 'Tenant',
    config: MutateJobConfig,
    *,
    limit: int = PREVIEW_RECORDS,
    seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[DiffRecord]:
    """The first `limit` records the config selects as the mutation would leave them, each value
    validated (not judged for uniqueness: that needs a write), with the value it holds now. Writes
    nothing. A record the expression fails on keeps its values and says why; so do the records left
    when the preview has spent its `seconds`."""
    sheet = records.sheet(tenant, config.sheet_id)
    for name, key in (('filterField', config.filter_field), ('searchField', config.search_field)):
        if key is not None and key not in sheet.fields:
            raise BadRequest(f'{key!r} is not a field of sheet {sheet.slug}', key=name)
    page, _, _ = read_page(records, tenant, sheet, chosen(config, config.ids), None, page_size=limit)
    mutation = Mutation(config.mutate_record)
    seconds = PREVIEW_SECONDS if seconds is None else seconds
    deadline = clock() + seconds
    diffs: list[DiffRecord] = []
    for record in page:
        left_ms = int((deadline - clock()) * 1000)
        if left_ms <= 0:
            evaluated = Evaluated(error=f'Not previewed: the preview spent its {seconds:g} s on the records before')
        else:
            evaluated = mutation.evaluate(record, sheet, timeout_ms=min(TIMEOUT_MS, left_ms))
        diffs.append(_diff(record, evaluated, sheet))
    return diffs


def _diff(record: 'Stored', evaluated: Evaluated, sheet: 'SheetState') -> DiffRecord:
    held: dict[str, Any] = record.get('values') or {}
    errors: dict[str, list[dict[str, Any]]] = record.get('errors') or {}
    cells: dict[str, dict[str, Any]] = {
        key: {'value': held.get(key), 'valid': key not in errors, 'messages': errors.get(key, [])}
        for key in [*held, *(key for key in errors if key not in held)]
    }
    for key, raw in (evaluated.values or {}).items():
        cells[key] = dict(validate(sheet.fields[key], raw))
    messages = []
    if evaluated.error is not None:
        messages = [ValidationMessage(type='error', message=evaluated.error, source=MUTATION_SOURCE)]
    return DiffRecord(
        id=record['id'],
        values={
            key: DiffValue(
                value=cell['value'],
                valid=cell['valid'],
                messages=[ValidationMessage.model_validate(message) for message in cell['messages']],
                snapshot_value=held.get(key),
            )
            for key, cell in cells.items()
        },
        valid=all(cell['valid'] for cell in cells.values()),
        messages=messages,
        metadata=record.get('metadata') or {},
        commit_id=record.get('commitId'),
    )
