"""`sheet:delete-records`, `workbook:delete-records` and `sheet:find-replace`: changing the records a
config selects, a page at a time, with a snapshot first when `snapshotLabel` asks for one.

Each page's changes are written by the record service in transactions conditioned on the versions
read (counts stay exact, a record changed meanwhile is read again) that also carry a condition on
the job still executing this attempt: once the job is canceled no transaction of it applies. Both
are idempotent per record (a record deleted or replaced already is left as it is), so a step that
runs again changes nothing twice. One commit records the job's changes when it finishes.
"""

from typing import TYPE_CHECKING, Any, Final

from jobs_core.errors import NotFound
from jobs_core.records_store import JobMoved
from jobs_core.system.configs import DeleteRecordsJobConfig, FindAndReplaceJobConfig, RecordSelection, parse_config
from jobs_core.system.guards import Running
from jobs_core.system.operations import Budget, Completion, Context, JobStopped, OperationFailed, Plan, Step
from jobs_core.system.selection import PAGE_SIZE, Chosen, check_fields, chosen, read_page
from jobs_core.validation import is_empty, text_of

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.records import RecordService, Stored, Written
    from jobs_core.sheets import SheetState
    from jobs_core.snapshots import SnapshotService

# A step goes through at least this many records (unless none are left) before it yields to its budget.
MIN_RECORDS_PER_STEP: Final = 20_000
_TEXT_TYPES: Final = frozenset({'string', 'enum', 'date', 'reference'})


class _RecordEdit:
    """What deleting and replacing share: the sheet, the selection, the snapshot, the page loop."""

    unit: Final = 'records'
    verb = 'Processed'
    kind = 'update'

    def __init__(
        self,
        records: 'RecordService',
        snapshots: 'SnapshotService',
        jobs: 'JobService',
        *,
        page_size: int = PAGE_SIZE,
        min_records: int = MIN_RECORDS_PER_STEP,
    ) -> None:
        self._records = records
        self._snapshots = snapshots
        self._jobs = jobs
        self._page_size = page_size
        self._min_records = min_records

    # ------------------------------------------------------------ to be given by each operation
    def _config(self, context: Context) -> RecordSelection:
        raise NotImplementedError

    def _selected(self, config: Any, sheet: 'SheetState') -> Chosen:
        raise NotImplementedError

    def _sheet_id(self, context: Context, config: Any) -> str:
        return context.job.source

    def _check(self, sheet: 'SheetState', config: Any) -> None:
        check_fields(sheet, config.filter_field, config.search_field)

    def _apply(self, context: Context, sheet: 'SheetState', page: list['Stored'], config: Any) -> 'Written':
        raise NotImplementedError

    def _counted(self, cursor: dict[str, Any], written: 'Written') -> None:
        cursor['changed'] += written.count

    def _enough(self, done: int, budget: Budget) -> bool:
        """Whether this step hands over to the next: its floor of records done and its budget spent."""
        return done >= self._min_records and budget.left() <= 0

    def _commit_id(self, context: Context) -> str | None:
        """The id of the commit the job's records name, when the operation writes them under one."""
        return None

    # ------------------------------------------------------------ the operation
    def prepare(self, context: Context) -> Plan:
        config = self._config(context)
        sheet = self._sheet(context, self._sheet_id(context, config))
        self._check(sheet, config)
        snapshot_id = None
        label = getattr(config, 'snapshot_label', None)
        if label:
            snapshot_id = self._snapshots.take(context.tenant, sheet, label=label).id
        total, estimated = self._selected(config, sheet).estimate(sheet)
        cursor = {'sheetId': sheet.id, 'after': None, 'changed': 0, 'snapshotId': snapshot_id}
        return Plan(total=total, unit=self.unit, verb=self.verb, cursor=cursor, estimated=estimated)

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        config = self._config(context)
        sheet = self._sheet(context, cursor['sheetId'])
        selected = self._selected(config, sheet)
        cursor = dict(cursor)
        done = 0
        while True:  # at least one page a call, however small the budget: the job always moves on
            page, after, last = read_page(
                self._records, context.tenant, sheet, selected, cursor['after'], page_size=self._page_size
            )
            if page:
                try:
                    written = self._apply(context, sheet, page, config)
                except JobMoved as moved:
                    raise JobStopped(f'Job {moved} is no longer running this attempt; this step stops') from moved
                except NotFound as gone:
                    raise OperationFailed(f'Sheet {sheet.id} was deleted meanwhile') from gone
                self._counted(cursor, written)
            done += len(page)
            cursor['after'] = after
            if last:
                return Step(cursor=cursor, done_units=done, finished=True)
            if self._enough(done, budget):
                return Step(cursor=cursor, done_units=done, finished=False)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> 'dict[str, Any] | Completion':
        return self._outcome(context, cursor)

    def _outcome(self, context: Context, cursor: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(context, cursor['sheetId'])
        changed = int(cursor['changed'])
        if changed:
            self._records.record_commit(
                context.tenant, sheet, self.kind, changed, job_id=context.job.id, commit_id=self._commit_id(context)
            )
        outcome: dict[str, Any] = {'message': self._message(sheet, changed, self._config(context))}
        if cursor.get('snapshotId'):
            outcome['next'] = {
                'type': 'snapshot',
                'snapshotId': cursor['snapshotId'],
                'sheetId': sheet.id,
                'label': 'Snapshot taken before',
            }
        return outcome

    def _message(self, sheet: 'SheetState', changed: int, config: Any) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    def _sheet(self, context: Context, sheet_id: str) -> 'SheetState':
        try:
            return self._records.sheet(context.tenant, sheet_id)
        except NotFound as missing:
            raise OperationFailed(f'Sheet {sheet_id} not found') from missing

    def _parsed(self, model: Any, context: Context) -> Any:
        try:
            return parse_config(model, context.job.config)
        except ValueError as invalid:
            raise OperationFailed(f'The job config cannot be used: {invalid}') from invalid


class DeleteRecords(_RecordEdit):
    """`sheet:delete-records`, `workbook:delete-records` (DeleteRecordsJobConfig): the records the
    filter and search select but the `exceptions`, or with filter none only the `exceptions`."""

    verb = 'Deleted'
    kind = 'delete'

    def _config(self, context: Context) -> DeleteRecordsJobConfig:
        config: DeleteRecordsJobConfig = self._parsed(DeleteRecordsJobConfig, context)
        return config

    def _selected(self, config: DeleteRecordsJobConfig, sheet: 'SheetState') -> Chosen:
        return chosen(config, config.exceptions, include_when_unfiltered=False, filter_none_includes=True)

    def _sheet_id(self, context: Context, config: DeleteRecordsJobConfig) -> str:
        if context.job.type == 'sheet':
            if config.sheet is not None and config.sheet != context.job.source:
                raise OperationFailed(f'config.sheet {config.sheet} is not the job source {context.job.source}')
            return context.job.source
        if config.sheet is None:
            raise OperationFailed('config.sheet (the sheet whose records to delete) is required')
        sheet = self._sheet(context, config.sheet)
        if sheet.workbook_id != context.job.source:
            raise OperationFailed(f'Sheet {config.sheet} is not in workbook {context.job.source}')
        return config.sheet

    def _apply(
        self, context: Context, sheet: 'SheetState', page: list['Stored'], config: DeleteRecordsJobConfig
    ) -> 'Written':
        found = {record['id']: record for record in page}
        guard = Running(self._jobs, context).transactional()
        return self._records.delete_found(
            context.tenant, sheet, found, kind='delete', job_id=context.job.id, guard=guard
        )

    def _message(self, sheet: 'SheetState', changed: int, config: DeleteRecordsJobConfig) -> str:
        return f'Deleted {changed:,} records from sheet {sheet.slug}'


class FindReplace(_RecordEdit):
    """`sheet:find-replace` (FindAndReplaceJobConfig): in field `fieldKey` of the selected records,
    `find` becomes `replace`. A "quoted" find matches the whole value; text otherwise replaces each
    occurrence; a number or boolean matches the value; none (or "") matches empty cells. The new
    values are validated like any other write."""

    verb = 'Searched'
    kind = 'update'

    def _config(self, context: Context) -> FindAndReplaceJobConfig:
        config: FindAndReplaceJobConfig = self._parsed(FindAndReplaceJobConfig, context)
        return config

    def _selected(self, config: FindAndReplaceJobConfig, sheet: 'SheetState') -> Chosen:
        selected = chosen(config, config.ids)
        field = sheet.fields.get(config.field_key)
        search = _pushed_search(config, field.type if field is not None else None)
        if search is None or selected.include is not None or config.search_value is not None:
            return selected
        # Nothing else searches: let the store filter by what is found, so only candidates are read.
        query = selected.query.model_copy(update={'search_field': config.field_key, 'search_value': search})
        return Chosen(query, include=selected.include, exclude=selected.exclude)

    def _check(self, sheet: 'SheetState', config: FindAndReplaceJobConfig) -> None:
        check_fields(sheet, config.field_key, config.filter_field, config.search_field)

    def _apply(
        self, context: Context, sheet: 'SheetState', page: list['Stored'], config: FindAndReplaceJobConfig
    ) -> 'Written':
        found = {record['id']: record for record in page if _replaced(record, config) is not None}
        if not found:
            from jobs_core.records import Written  # noqa: PLC0415 - the type is only built here

            return Written([], None, 0)

        def edit(record: 'Stored') -> dict[str, Any] | None:
            new = _replaced(record, config)
            return None if new is None else {config.field_key: new[0]}

        guard = Running(self._jobs, context).transactional()
        return self._records.edit_found(
            context.tenant, sheet, found, edit, kind='update', job_id=context.job.id, guard=guard
        )

    def _message(self, sheet: 'SheetState', changed: int, config: FindAndReplaceJobConfig) -> str:
        return f'Replaced values in {changed:,} records of sheet {sheet.slug}, field {config.field_key}'


def _exact(find: Any) -> Any:
    """The whole value a "quoted" text asks for (None when the text is not quoted)."""
    if isinstance(find, str) and len(find) >= 2 and find.startswith('"') and find.endswith('"'):
        return find[1:-1]
    return None


def _pushed_search(config: FindAndReplaceJobConfig, field_type: str | None) -> str | None:
    """The searchValue that selects the records `find` can match (None: every record is a candidate).
    A quoted find is an exact search (in every type the field may store it as); plain text a
    `contains` search, which only text values can satisfy."""
    find = config.find
    if find is None or find in ('', '""'):
        return '""'
    if isinstance(find, str) and (_exact(find) is not None or field_type in _TEXT_TYPES):
        return find
    return None


def _replaced(record: 'Stored', config: FindAndReplaceJobConfig) -> tuple[Any] | None:
    """(new value,) when `find` matches the record's value, else None."""
    value = record['values'].get(config.field_key)
    find, replace = config.find, config.replace
    if find is None or find in ('', '""'):
        return (replace,) if is_empty(value) and not is_empty(replace) else None
    exact = _exact(find)
    if exact is not None:
        return (replace,) if not is_empty(value) and text_of(value) == exact and value != replace else None
    if not isinstance(find, str):
        same_kind = isinstance(value, bool) == isinstance(find, bool)
        return (replace,) if same_kind and value == find and value != replace else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = text_of(value)
    if find not in text:
        return None
    new = text.replace(find, '' if replace is None else text_of(replace))
    return (new,) if new != text else None
