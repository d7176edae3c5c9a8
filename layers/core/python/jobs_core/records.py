"""Records: validated on every write, counted exactly, each write recorded as a commit.

- insert: every value validated against its field, then written in batches; counted and committed
  once all are written; all or nothing.
- update, delete (and restore): the records are read, the change decided, then written in
  transactions of up to 98 records, each conditioned on the version read, together with the
  count deltas they imply. A record that moved meanwhile is read again and the change decided again,
  so concurrent writers never make a count drift.
- unique fields: a counter per value in the sheet's partition; the first record to hold a value
  keeps it valid, any other is marked invalid (Flatfile marks both; this needs no read of the others).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.dynamo import TRANSACTION_LIMIT
from jobs_core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from jobs_core.models.record import Cell, Record, RecordQuery, RecordsData, RecordUpdate, ValidationMessage
from jobs_core.observability import logger
from jobs_core.records_store import (
    TRANSACTION_BYTES,
    Change,
    CountDelta,
    JobGuard,
    RecordsChanged,
    RecordStore,
    Selection,
    SheetGone,
    item_size,
)
from jobs_core.sheets import SheetState, load_sheet, not_found
from jobs_core.timestamps import format_timestamp, now
from jobs_core.validation import mark_duplicate, record_valid, unique_value, validate, validate_record

if TYPE_CHECKING:
    from jobs_core.data_store import DataStore
    from jobs_core.models.tenant import Tenant
    from jobs_core.models.workbook import RecordCounts, SheetField

CHUNK: Final = TRANSACTION_LIMIT - 2  # the sheet's counts and the commit ride in the same transaction
SORT_LIMIT: Final = 10_000
_ATTEMPTS: Final = 5
_SEARCHED_FIELDS: Final = 50

Stored = dict[str, Any]  # a record as stored: id, values, errors, valid, metadata, version, commitId, updatedAt


@dataclass(frozen=True, slots=True)
class Written:
    records: list[Stored]
    commit_id: str | None
    count: int


@dataclass(frozen=True, slots=True)
class _Unique:
    field_key: str
    value: str
    delta: int


def record_model(stored: Stored, include_messages: bool = True) -> Record:
    errors: dict[str, list[dict[str, Any]]] = stored.get('errors') or {}
    keys = list(stored.get('values', {})) + [key for key in errors if key not in stored.get('values', {})]
    cells = {
        key: Cell(
            value=stored.get('values', {}).get(key),
            valid=key not in errors,
            messages=[ValidationMessage.model_validate(item) for item in errors.get(key, [])]
            if include_messages
            else [],
        )
        for key in keys
    }
    return Record(
        id=stored['id'],
        values=cells,
        valid=not errors,
        metadata=stored.get('metadata') or {},
        commit_id=stored.get('commitId'),
    )


def _stored(record_id: str, cells: dict[str, dict[str, Any]], metadata: dict[str, Any], version: int) -> Stored:
    errors = {key: cell['messages'] for key, cell in cells.items() if not cell['valid']}
    return {
        'id': record_id,
        'values': {key: cell['value'] for key, cell in cells.items()},
        'errors': errors,
        'valid': not errors,
        'metadata': metadata,
        'version': version,
    }


def _cells(stored: Stored) -> dict[str, dict[str, Any]]:
    errors = stored.get('errors') or {}
    return {
        key: {'value': value, 'valid': key not in errors, 'messages': errors.get(key, [])}
        for key, value in stored.get('values', {}).items()
    }


class RecordService:
    def __init__(
        self,
        catalog: 'DataStore',
        store: RecordStore,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._clock = clock

    def sheet(self, tenant: 'Tenant', sheet_id: str) -> SheetState:
        return load_sheet(self._catalog, tenant, sheet_id)

    # ------------------------------------------------------------ insert
    def insert(
        self,
        tenant: 'Tenant',
        sheet_id: str,
        rows: list[dict[str, Any]],
        *,
        kind: str = 'insert',
        job_id: str | None = None,
    ) -> Written:
        """Insert rows of raw values ({field key: value}); all are written, counted and committed, or none."""
        sheet = self.sheet(tenant, sheet_id)
        _refuse_unknown_keys(sheet, (key for row in rows for key in row))
        if not rows:
            return Written([], None, 0)
        stamp = self._clock()
        record_ids = ids.new_record_ids(len(rows), int(stamp.timestamp() * 1000))
        commit = self._commit(tenant, sheet, kind=kind, count=len(rows), stamp=stamp, job_id=job_id)
        records = []
        for record_id, row in zip(record_ids, rows, strict=True):
            record = _stored(record_id, validate_record(sheet.fields, row), {}, 1)
            records.append({**record, 'commitId': commit['id'], 'updatedAt': commit['createdAt']})
        reserved = self._reserve_inserted(tenant, sheet, records)
        delta = CountDelta()
        for record in records:
            delta.add(None, record)
        try:
            self._store.insert(tenant.environment_id, sheet.id, records, delta, commit)
        except SheetGone as gone:
            self._release(tenant, sheet, reserved)
            raise not_found(sheet.id) from gone
        except BaseException:
            self._release(tenant, sheet, reserved)
            raise
        return Written(records, commit['id'], len(records))

    def _reserve_inserted(self, tenant: 'Tenant', sheet: SheetState, records: list[Stored]) -> list[_Unique]:
        """Count the unique values of new records; every holder after the first is marked invalid."""
        unique_fields = [field for field in sheet.fields.values() if field.has_constraint('unique')]
        reserved = []
        for field in unique_fields:
            holders: dict[str, list[Stored]] = {}
            for record in records:
                value = unique_value(field, record['values'].get(field.key))
                if value is not None:
                    holders.setdefault(value, []).append(record)
            for value, group in holders.items():
                after = self._store.count_unique(tenant.environment_id, sheet.id, field.key, value, len(group))
                reserved.append(_Unique(field.key, value, len(group)))
                for position, record in enumerate(group):
                    if after - len(group) + position > 0:
                        _flag_duplicate(record, field)
        return reserved

    def _release(self, tenant: 'Tenant', sheet: SheetState, reserved: Iterable[_Unique]) -> None:
        for unique in reserved:
            try:
                self._store.count_unique(tenant.environment_id, sheet.id, unique.field_key, unique.value, -unique.delta)
            except Exception:
                logger.exception('A unique value count could not be given back', field=unique.field_key)

    # ------------------------------------------------------------ a system job's batches
    def import_batch(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        rows: list[tuple[str, dict[str, Any]]],
        *,
        commit_id: str,
        mark: str,
        end: int,
        check_existing: bool,
        guard: Callable[[], None],
    ) -> CountDelta:
        """Write a batch of new records whose ids the job decided (the same ids when a step runs again),
        then count the batch once (see RecordStore.count_batch). What each record holds is validated as
        on insert; the commit (`commit_id`) is recorded by the job when it ends.

        `check_existing` reads the batch's ids first and keeps the records already there as they are:
        the batch a step was writing when it failed. `guard` runs once the batch is written and raises
        when the job may no longer write: the batch is then taken back (deleted, uncounted) before the
        error propagates, so no record of it outlives the job's cancel. Returns the batch's counts."""
        existing = (
            self._store.get_many(tenant.environment_id, sheet.id, [record_id for record_id, _ in rows])
            if check_existing
            else {}
        )
        updated_at = format_timestamp(self._clock())
        records = []
        for record_id, values in rows:
            if record_id not in existing:
                record = _stored(record_id, validate_record(sheet.fields, values), {}, 1)
                records.append({**record, 'commitId': commit_id, 'updatedAt': updated_at})
        reserved = self._reserve_inserted(tenant, sheet, records)
        try:
            self._store.put_records(tenant.environment_id, sheet.id, records)
            guard()
        except BaseException:
            self._take_back(tenant, sheet, records, reserved)
            raise
        delta = CountDelta()
        for record in [*records, *existing.values()]:
            delta.add(None, record)
        try:
            counted = self._store.count_batch(tenant.environment_id, sheet.id, delta, mark, end)
        except SheetGone as gone:
            raise not_found(sheet.id) from gone
        if not counted:  # a twin of this step counted it first; its reservations stand, not ours
            self._release(tenant, sheet, reserved)
        return delta

    def _take_back(self, tenant: 'Tenant', sheet: SheetState, records: list[Stored], reserved: list[_Unique]) -> None:
        try:
            self._store.remove_records(tenant.environment_id, sheet.id, [record['id'] for record in records])
        except Exception:
            # Left in place, the records keep their unique values: a step that runs again finds both.
            logger.exception('Records of a batch that could not be kept were not removed', count=len(records))
            return
        self._release(tenant, sheet, reserved)

    def import_batch_once(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        rows: list[tuple[str, dict[str, Any]]],
        *,
        start: int,
        counted: int,
        commit_id: str,
        mark: str,
        guard: Callable[[], None],
    ) -> tuple[int, int]:
        """import_batch for the batch of a job's rows that begins at row `start`, when `counted` rows of
        the job are written and counted already (the mark as the step began): a batch an earlier run
        of the step counted is only tallied again; the batch right after the mark is the one a failed
        run may have been writing, so its records already there are kept as they are (with their
        unique values). Returns (valid, error) for the batch."""
        end = start + len(rows)
        if end <= counted:
            valid = sum(1 for _, values in rows if record_valid(validate_record(sheet.fields, values)))
            return valid, len(rows) - valid
        delta = self.import_batch(
            tenant, sheet, rows, commit_id=commit_id, mark=mark, end=end, check_existing=start == counted, guard=guard
        )
        return delta.valid, delta.error

    def finish_import(self, tenant: 'Tenant', sheet_id: str, mark: str) -> None:
        self._store.clear_mark(tenant.environment_id, sheet_id, mark)

    def delete_found(
        self, tenant: 'Tenant', sheet: SheetState, found: dict[str, Stored], *, kind: str, job_id: str, guard: JobGuard
    ) -> Written:
        """Delete records a job read (conditioned on the versions read, re-read when they moved), counts
        exact, each transaction guarded by the job still running (JobMoved); the job records the commit."""

        def plan(record_id: str, old: Stored | None) -> Change | None:
            return Change(record_id, old, None) if old is not None else None

        return self._write(tenant, sheet, list(found), found, plan, kind=kind, job_id=job_id, commit=False, guard=guard)

    def edit_found(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        found: dict[str, Stored],
        edit: Callable[[Stored], dict[str, Any] | None],
        *,
        kind: str,
        job_id: str,
        guard: JobGuard,
        metadata: Callable[[Stored], dict[str, Any]] | None = None,
        commit_id: str | None = None,
    ) -> Written:
        """Change records a job read: `edit` gives the raw values to set ({field key: value}, each
        validated again) or None to leave the record be; `metadata`, when given, the new metadata of a
        record `edit` changes. Values that validate to what the record holds (with its metadata as it
        is) write nothing. Conditioned and guarded as delete_found; the records written name
        `commit_id` when given (a job's own, so that it can tell the records it changed already)."""

        def plan(record_id: str, old: Stored | None) -> Change | None:
            if old is None:
                return None
            values = edit(old)
            if not values:
                return None
            cells = _cells(old)
            for key, raw in values.items():
                cells[key] = validate(sheet.fields[key], raw)
            kept = metadata(old) if metadata is not None else old.get('metadata') or {}
            held = old.get('values', {})
            if kept == (old.get('metadata') or {}) and all(cells[key]['value'] == held.get(key) for key in values):
                return None
            return Change(record_id, old, _stored(record_id, cells, kept, int(old['version']) + 1))

        return self._write(
            tenant,
            sheet,
            list(found),
            found,
            plan,
            kind=kind,
            job_id=job_id,
            commit=False,
            guard=guard,
            commit_id=commit_id,
        )

    # ------------------------------------------------------------ update, delete
    def update(
        self,
        tenant: 'Tenant',
        sheet_id: str,
        updates: list[RecordUpdate],
        *,
        kind: str = 'update',
        job_id: str | None = None,
    ) -> Written:
        """Replace the given cells (and metadata) of existing records; 404 naming the unknown ids, and
        nothing written, when some do not exist."""
        sheet = self.sheet(tenant, sheet_id)
        _refuse_unknown_keys(sheet, (key for update in updates for key in update.values))
        wanted = [update.id for update in updates]
        if len(set(wanted)) != len(wanted):
            raise BadRequest('A record id appears twice in the request', key='id')
        by_id = {update.id: update for update in updates}
        current = self._store.get_many(tenant.environment_id, sheet.id, wanted)
        missing = [record_id for record_id in wanted if record_id not in current]
        if missing:
            raise NotFound(f'Records not found in sheet {sheet.id}: {", ".join(missing[:10])}', key='id')

        def plan(record_id: str, old: Stored | None) -> Change | None:
            if old is None:
                return None  # deleted meanwhile by someone else: nothing to update
            update = by_id[record_id]
            cells = _cells(old)
            for key, cell in update.values.items():
                cells[key] = validate(sheet.fields[key], cell.value)
            metadata = update.metadata if update.metadata is not None else old.get('metadata') or {}
            new = _stored(record_id, cells, metadata, int(old['version']) + 1)
            return Change(record_id, old, new)

        return self._write(tenant, sheet, wanted, current, plan, kind=kind, job_id=job_id)

    def delete(
        self, tenant: 'Tenant', sheet_id: str, record_ids: list[str], *, kind: str = 'delete', job_id: str | None = None
    ) -> Written:
        """Delete records by id; ids that do not exist (any more) are skipped."""
        sheet = self.sheet(tenant, sheet_id)
        current = self._store.get_many(tenant.environment_id, sheet.id, record_ids)

        def plan(record_id: str, old: Stored | None) -> Change | None:
            return Change(record_id, old, None) if old is not None else None

        return self._write(tenant, sheet, list(dict.fromkeys(record_ids)), current, plan, kind=kind, job_id=job_id)

    def replace(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        targets: dict[str, Stored | None],
        *,
        kind: str,
        job_id: str | None = None,
        commit: bool = True,
    ) -> Written:
        """Make each record what `targets` says (None: absent), skipping those already so. For restores:
        the stored cells are kept as they are, not validated again."""
        current = self._store.get_many(tenant.environment_id, sheet.id, list(targets))

        def plan(record_id: str, old: Stored | None) -> Change | None:
            target = targets[record_id]
            if target is None:
                return Change(record_id, old, None) if old is not None else None
            if old is not None and _same(old, target):
                return None
            version = int(old['version']) + 1 if old is not None else 1
            return Change(record_id, old, {**_content(target), 'version': version})

        return self._write(tenant, sheet, list(targets), current, plan, kind=kind, job_id=job_id, commit=commit)

    def _write(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        record_ids: list[str],
        current: dict[str, Stored],
        plan: Callable[[str, Stored | None], Change | None],
        *,
        kind: str,
        job_id: str | None,
        commit: bool = True,
        guard: JobGuard | None = None,
        commit_id: str | None = None,
    ) -> Written:
        stamp = self._clock()
        commit_id = commit_id or ids.new_id(ids.COMMIT)
        limit = CHUNK - 1 if commit and guard is not None else CHUNK
        chunks = _chunks(record_ids, lambda record_id: item_size(current.get(record_id) or {}) * 2, limit)
        written: list[Stored] = []
        count = 0
        for index, chunk in enumerate(chunks):
            reads = {record_id: current[record_id] for record_id in chunk if record_id in current}
            last = index == len(chunks) - 1
            for _ in range(_ATTEMPTS):
                changes = [change for record_id in chunk if (change := plan(record_id, reads.get(record_id)))]
                changes = [_stamped(change, commit_id, stamp) for change in changes]
                total = count + len(changes)
                entry = (
                    self._commit(tenant, sheet, kind=kind, count=total, stamp=stamp, job_id=job_id, commit_id=commit_id)
                    if commit and last and total
                    else None
                )
                if not changes and entry is None:
                    break
                reserved, released = self._judge_unique(tenant, sheet, changes)
                try:
                    self._store.write(tenant.environment_id, sheet.id, changes, entry, guard)
                except RecordsChanged as moved:
                    self._release(tenant, sheet, reserved)
                    fresh = self._store.get_many(tenant.environment_id, sheet.id, moved.record_ids)
                    for record_id in moved.record_ids:
                        if record_id in fresh:
                            reads[record_id] = fresh[record_id]
                        else:
                            reads.pop(record_id, None)
                    continue
                except SheetGone as gone:
                    self._release(tenant, sheet, reserved)
                    raise not_found(sheet.id) from gone
                except BaseException:
                    self._release(tenant, sheet, reserved)
                    raise
                self._release(tenant, sheet, released)
                count = total
                written += [change.new for change in changes if change.new is not None]
                break
            else:
                raise Conflict(f'Records of sheet {sheet.id} keep changing; read them and try again', key='id')
        return Written(written, commit_id if commit and count else None, count)

    def _judge_unique(
        self, tenant: 'Tenant', sheet: SheetState, changes: list[Change]
    ) -> tuple[list[_Unique], list[_Unique]]:
        """Count the unique values the changes bring (marking duplicates), and list those they give up
        (released once the write is done)."""
        reserved: list[_Unique] = []
        released: list[_Unique] = []
        for field in sheet.fields.values():
            if not field.has_constraint('unique'):
                continue
            for change in changes:
                before = (
                    unique_value(field, (change.old or {}).get('values', {}).get(field.key)) if change.old else None
                )
                after = unique_value(field, change.new['values'].get(field.key)) if change.new else None
                if before == after:
                    if before is not None and change.new is not None and _was_duplicate(change.old or {}, field):
                        # A duplicate written again is judged again: is it now the value's only holder?
                        holders = self._store.count_unique(tenant.environment_id, sheet.id, field.key, before, 0)
                        if holders > 1:
                            _flag_duplicate(change.new, field)
                        else:
                            _clear_duplicate(change.new, field)
                    continue
                if after is not None and change.new is not None:
                    holders = self._store.count_unique(tenant.environment_id, sheet.id, field.key, after, 1)
                    reserved.append(_Unique(field.key, after, 1))
                    if holders > 1:
                        _flag_duplicate(change.new, field)
                if before is not None:
                    released.append(_Unique(field.key, before, 1))
        return reserved, released

    def _commit(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        *,
        kind: str,
        count: int,
        stamp: datetime,
        job_id: str | None,
        commit_id: str | None = None,
    ) -> dict[str, Any]:
        commit: dict[str, Any] = {
            'id': commit_id or ids.new_id(ids.COMMIT),
            'accountId': tenant.account_id,
            'environmentId': tenant.environment_id,
            'spaceId': sheet.space_id,
            'workbookId': sheet.workbook_id,
            'sheetId': sheet.id,
            'sheetSlug': sheet.slug,
            'kind': kind,
            'count': count,
            'createdBy': tenant.actor_id,
            'createdAt': format_timestamp(stamp),
        }
        if job_id:
            commit['jobId'] = job_id
        return commit

    def record_commit(
        self,
        tenant: 'Tenant',
        sheet: SheetState,
        kind: str,
        count: int,
        *,
        job_id: str | None = None,
        commit_id: str | None = None,
    ) -> str:
        """A commit for a write made of many steps (a restore, a system job's chunks), put once at its
        end (under `commit_id` when the records written already name it: putting it again is harmless)."""
        commit = self._commit(
            tenant, sheet, kind=kind, count=count, stamp=self._clock(), job_id=job_id, commit_id=commit_id
        )
        self._store.put_commit(commit)
        return str(commit['id'])

    # ------------------------------------------------------------ reads
    def counts(self, tenant: 'Tenant', sheet_id: str) -> 'RecordCounts':
        return self.sheet(tenant, sheet_id).counts

    def page(self, tenant: 'Tenant', sheet_id: str, query: RecordQuery, max_bytes: int | None = None) -> RecordsData:
        """A page of records; with `max_bytes`, cut short (its cursor then resumes after the last one
        kept) when the whole page would not fit in a response of that size."""
        sheet = self.sheet(tenant, sheet_id)
        _check(sheet, query)
        if query.filter == 'none':
            return RecordsData(records=[], counts=sheet.counts)
        selection = _selection(sheet, query)
        if query.ids and selection == Selection():
            found = self._store.get_many(tenant.environment_id, sheet.id, query.ids)
            records = [found[record_id] for record_id in dict.fromkeys(query.ids) if record_id in found]
            token = None
        elif query.sort_field is not None:
            records = self._sorted_page(tenant, sheet, selection, query)
            token = None
        else:
            records, token = self._store.window(
                tenant.environment_id,
                sheet.id,
                selection,
                ascending=query.sort_direction == 'asc',
                page_size=query.page_size,
                page_number=query.page_number,
                page_token=query.page_token,
            )
        page = RecordsData(
            records=[record_model(record, query.include_messages) for record in records],
            counts=sheet.counts,
            next_page_token=token,
        )
        kept = len(page.records) if max_bytes is None else _fitting(page, max_bytes)
        if kept == len(page.records):
            return page
        if query.sort_field is not None or (query.ids and selection == Selection()) or not kept:
            raise PayloadTooLarge(
                f'These {len(page.records):,} records do not fit in one response; ask for fewer (pageSize)',
                key='pageSize',
            )
        resume = self._store.cursor_after(tenant.environment_id, sheet.id, selection, records[kept - 1])
        return page.model_copy(update={'records': page.records[:kept], 'next_page_token': resume})

    def _sorted_page(
        self, tenant: 'Tenant', sheet: SheetState, selection: Selection, query: RecordQuery
    ) -> list[Stored]:
        """Sorting by a field reads every matching record: refused past SORT_LIMIT of them."""
        matching: list[Stored] = []
        for records, _ in self._store.scan(tenant.environment_id, sheet.id, selection):
            matching += records
            if len(matching) > SORT_LIMIT:
                raise BadRequest(
                    f'sortField sorts at most {SORT_LIMIT:,} records; narrow the query with filter or searchValue',
                    key='sortField',
                )
        key = query.sort_field or ''
        present = [record for record in matching if record['values'].get(key) is not None]
        absent = [record for record in matching if record['values'].get(key) is None]
        present.sort(key=lambda record: _sort_key(record['values'][key]), reverse=query.sort_direction == 'desc')
        ordered = present + absent  # empty values last, either way
        start = (query.page_number - 1) * query.page_size
        return ordered[start : start + query.page_size]

    def select(
        self, tenant: 'Tenant', sheet: SheetState, query: RecordQuery, *, after: str | None, page_size: int
    ) -> tuple[list[Stored], str | None]:
        """One page of the records a query selects (its filter and search; `ids` are the caller's to
        apply), in insertion order from the cursor `after`, and the cursor after it (None: the last)."""
        if query.filter == 'none':
            return [], None
        for name in ('filter_field', 'search_field'):
            key = getattr(query, name)
            if key is not None and key not in sheet.fields:
                raise BadRequest(f'{key!r} is not a field of sheet {sheet.slug}', key=_camel(name))
        selection = _selection(sheet, query.model_copy(update={'ids': []}))
        return self._store.window(tenant.environment_id, sheet.id, selection, page_size=page_size, page_token=after)

    def found(self, tenant: 'Tenant', sheet: SheetState, record_ids: list[str]) -> dict[str, Stored]:
        """The records of these ids that exist (consistent reads)."""
        return self._store.get_many(tenant.environment_id, sheet.id, record_ids)

    def scan(self, tenant: 'Tenant', sheet: SheetState, after: str | None = None, page_size: int = 1000) -> Any:
        """Every record of a sheet, a page at a time with the cursor after it (for snapshots, restores)."""
        return self._store.scan(tenant.environment_id, sheet.id, page_size=page_size, after=after)


# ---------------------------------------------------------------- helpers
def _check(sheet: SheetState, query: RecordQuery) -> None:
    if query.q is not None:
        raise BadRequest('FFQL queries (q) are not supported; use filter, searchField and searchValue', key='q')
    for name in ('filter_field', 'search_field', 'sort_field'):
        key = getattr(query, name)
        if key is not None and key not in sheet.fields:
            raise BadRequest(f'{key!r} is not a field of sheet {sheet.slug}', key=_camel(name))
    if query.sort_field is not None and query.page_token is not None:
        raise BadRequest('pageToken cannot be combined with sortField; use pageNumber', key='pageToken')


def _fitting(page: RecordsData, max_bytes: int) -> int:
    """How many of the page's records fit, with the rest of the answer, in `max_bytes` of JSON."""
    used = len(page.model_copy(update={'records': []}).model_dump_json()) + 64
    for kept, record in enumerate(page.records):
        used += len(record.model_dump_json()) + 1
        if used > max_bytes:
            return kept
    return len(page.records)


def _refuse_unknown_keys(sheet: SheetState, keys: Iterable[str]) -> None:
    unknown = sorted(set(keys) - sheet.fields.keys())
    if unknown:
        listed = ', '.join(repr(key) for key in unknown[:10])
        raise BadRequest(f'Unknown field key for sheet {sheet.slug}: {listed}', key='values')


def _flag_duplicate(record: Stored, field: 'SheetField') -> None:
    cell = {'value': record['values'].get(field.key), 'valid': field.key not in record['errors']}
    cell['messages'] = record['errors'].get(field.key, [])
    if any(message.get('source') == 'unique-constraint' for message in cell['messages']):
        return
    flagged = mark_duplicate(cell, field)
    record['errors'] = {**record['errors'], field.key: flagged['messages']}
    record['valid'] = False


def _clear_duplicate(record: Stored, field: 'SheetField') -> None:
    kept = [message for message in record['errors'].get(field.key, []) if message.get('source') != 'unique-constraint']
    errors = {key: messages for key, messages in record['errors'].items() if key != field.key}
    if kept:
        errors[field.key] = kept
    record['errors'] = errors
    record['valid'] = not errors


def _was_duplicate(record: Stored, field: 'SheetField') -> bool:
    return any(
        message.get('source') == 'unique-constraint' for message in (record.get('errors') or {}).get(field.key, [])
    )


def _content(record: Stored) -> Stored:
    return {key: record.get(key) for key in ('id', 'values', 'errors', 'valid', 'metadata')} | {
        'errors': record.get('errors') or {},
        'metadata': record.get('metadata') or {},
    }


def _same(old: Stored, target: Stored) -> bool:
    return _content(old) == _content(target)


def _stamped(change: Change, commit_id: str, stamp: datetime) -> Change:
    if change.new is None:
        return change
    return Change(
        change.record_id, change.old, {**change.new, 'commitId': commit_id, 'updatedAt': format_timestamp(stamp)}
    )


def _chunks(record_ids: list[str], size_of: Callable[[str], int], limit: int = CHUNK) -> list[list[str]]:
    chunks: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for record_id in record_ids:
        item = size_of(record_id)
        if chunk and (len(chunk) >= limit or size + item > TRANSACTION_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(record_id)
        size += item
    if chunk or not chunks:
        chunks.append(chunk)
    return chunks


def _camel(name: str) -> str:
    head, *rest = name.split('_')
    return head + ''.join(part.title() for part in rest)


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).casefold())


def _selection(sheet: SheetState, query: RecordQuery) -> Selection:
    validity = query.filter if query.filter in {'valid', 'error'} else 'all'
    search: str | None = None
    fields: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    text = query.search_value
    if text:
        fields = (query.search_field,) if query.search_field is not None else tuple(sheet.fields)[:_SEARCHED_FIELDS]
        if text == '""':
            search = 'empty'
        elif len(text) >= 2 and text.startswith('"') and text.endswith('"'):
            search = 'exact'
            values = _typed(text[1:-1], [sheet.fields[key] for key in fields])
        else:
            search = 'contains'
            values = (text,)
    exclude = tuple(query.ids or ()) if (validity != 'all' or search) else ()
    return Selection(
        validity=validity,
        validity_field=query.filter_field if validity != 'all' else None,
        search=search,  # type: ignore[arg-type]
        search_fields=fields,
        search_values=values,
        exclude_ids=exclude,
    )


def _typed(text: str, fields: list['SheetField']) -> tuple[Any, ...]:
    """An exact search value in every form the searched fields may store it in."""
    candidates: list[Any] = [text]
    for field in fields:
        cell = validate(field, text)
        if cell['valid'] and cell['value'] not in candidates and cell['value'] not in (None, ''):
            candidates.append(cell['value'])
    return tuple(candidates[:20])
