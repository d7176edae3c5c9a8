"""`workbook:map`: the records of the source sheet, moved by the job's plan into the destination sheet.

- prepare: checks the plan against both sheets as they are now (a field gone since → the job fails
  naming it); a job that skipped planning (trigger immediate) has its plan proposed and stored here.
- process: reads the source a page at a time from the cursor (a record id), moves each record's
  values by the plan (jobs_core.mapping.Mapper: enum values mapped, lists split) and writes them
  through the record service, so values are converted to the fields' types and validated there.
- finalize: one commit of the destination's new records; the outcome leads to its workbook.

Idempotent as extract is: a new record's id derives from the job and the source record's position,
and each batch is counted once by the job's high-water mark on the destination sheet.
"""

from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.errors import BadRequest, NotFound
from jobs_core.mapping import Mapper
from jobs_core.plans import MapSheets, checked
from jobs_core.system.extract import commit_id_of, high_water_mark
from jobs_core.system.guards import Running
from jobs_core.system.operations import Budget, Completion, Context, OperationFailed, Plan, Step

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.plan import JobExecutionPlan
    from jobs_core.plans import PlanService, PlanStore
    from jobs_core.records import RecordService
    from jobs_core.sheets import SheetState

BATCH_RECORDS: Final = 250
# A step moves at least this many records (unless none are left) before it yields to its budget.
MIN_RECORDS_PER_STEP: Final = 5_000
_PART: Final = 0  # one destination sheet: the import bookkeeping's part 0


class Map:
    def __init__(
        self,
        plans: 'PlanService',
        plan_store: 'PlanStore',
        records: 'RecordService',
        jobs: 'JobService',
        *,
        batch_records: int = BATCH_RECORDS,
        min_records: int = MIN_RECORDS_PER_STEP,
    ) -> None:
        self._plans = plans
        self._plan_store = plan_store
        self._records = records
        self._jobs = jobs
        self._batch_records = batch_records
        self._min_records = min_records

    def prepare(self, context: Context) -> Plan:
        sheets = self._sheets(context)
        plan = self._plan_store.get(context.tenant, context.job.id)
        if plan is None:
            plan = self._plans.propose(context.tenant, sheets)
            self._plan_store.put_if_absent(context.tenant, context.job.id, plan)
        self._fitting(plan, sheets)  # fails the job now, before a record is written, if it no longer fits
        cursor = {
            'sourceSheetId': sheets.source.id,
            'destinationSheetId': sheets.destination.id,
            'after': None,
            'index': 0,
            'valid': 0,
            'error': 0,
        }
        return Plan(total=sheets.source.counts.total, unit='records', verb='Mapped', cursor=cursor)

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        source = self._sheet(context, cursor['sourceSheetId'])
        sheets = MapSheets(source, self._sheet(context, cursor['destinationSheetId']))
        destination = sheets.destination
        mapper = Mapper(self._plan(context, sheets), destination.fields)
        mark = high_water_mark(context.job.id, _PART)
        counted = int(destination.item.get(mark, 0))
        stamp = int(context.job.created_at.timestamp() * 1000)
        salt = ids.salt_of(context.job.id, 'map')
        running = Running(self._jobs, context)
        cursor = dict(cursor)
        done = 0
        for page, after in self._records.scan(
            context.tenant, sheets.source, after=cursor['after'], page_size=self._batch_records
        ):
            if page:
                batch = [
                    (ids.record_id_at(stamp, cursor['index'] + position, salt), mapper(record['values']))
                    for position, record in enumerate(page)
                ]
                try:
                    valid, error = self._records.import_batch_once(
                        context.tenant,
                        destination,
                        batch,
                        start=cursor['index'],
                        counted=counted,
                        commit_id=commit_id_of(context.job.id, _PART),
                        mark=mark,
                        guard=running,
                    )
                except NotFound as gone:
                    raise OperationFailed(f'Sheet {destination.id} was deleted meanwhile') from gone
                cursor.update(index=cursor['index'] + len(batch), valid=cursor['valid'] + valid)
                cursor['error'] += error
                done += len(batch)
            cursor['after'] = after
            if after is None:
                return Step(cursor=cursor, done_units=done, finished=True)
            if done >= self._min_records and budget.left() <= 0:
                return Step(cursor=cursor, done_units=done, finished=False)
        return Step(cursor=cursor, done_units=done, finished=True)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> Completion:
        tenant, job = context.tenant, context.job
        source = self._sheet(context, cursor['sourceSheetId'])
        destination = self._sheet(context, cursor['destinationSheetId'])
        moved = int(cursor['index'])
        if moved:
            commit_id = commit_id_of(job.id, _PART)
            self._records.record_commit(tenant, destination, 'insert', moved, job_id=job.id, commit_id=commit_id)
        self._records.finish_import(tenant, destination.id, high_water_mark(job.id, _PART))
        message = f'Mapped {moved:,} records from sheet {source.slug} into sheet {destination.slug}'
        if cursor['error']:
            message += f'; {cursor["error"]:,} have values to fix'
        outcome = {
            'message': message,
            'next': {'type': 'id', 'id': destination.workbook_id, 'label': 'Open the workbook'},
        }
        result = {
            'sourceSheetId': source.id,
            'destinationSheetId': destination.id,
            'records': moved,
            'valid': cursor['valid'],
            'error': cursor['error'],
        }
        return Completion(outcome=outcome, fields={'result': result})

    # ------------------------------------------------------------ helpers
    def _sheets(self, context: Context) -> MapSheets:
        try:
            return self._plans.sheets(context.tenant, context.job)
        except BadRequest as unusable:
            raise OperationFailed(unusable.message) from unusable

    def _sheet(self, context: Context, sheet_id: str) -> 'SheetState':
        try:
            return self._records.sheet(context.tenant, sheet_id)
        except NotFound as missing:
            raise OperationFailed(f'Sheet {sheet_id} was deleted meanwhile') from missing

    def _plan(self, context: Context, sheets: MapSheets) -> 'JobExecutionPlan':
        plan = self._plan_store.get(context.tenant, context.job.id)
        if plan is None:
            raise OperationFailed(f'Job {context.job.id} has no plan')
        return self._fitting(plan, sheets)

    @staticmethod
    def _fitting(plan: 'JobExecutionPlan', sheets: MapSheets) -> 'JobExecutionPlan':
        try:
            return checked(plan, sheets)
        except BadRequest as stale:
            raise OperationFailed(f'The plan no longer fits the sheets: {stale.message}') from stale
