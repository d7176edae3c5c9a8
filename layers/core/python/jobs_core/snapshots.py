"""Snapshots: a sheet's records, gzip-compressed JSON Lines in S3, and restoring a sheet to one.

Taking a snapshot reads the sheet a page at a time (consistent reads; records written meanwhile may
or may not be in it, as with any online copy). Restoring is a `sheet:restore-snapshot` job, run
like the other data jobs (see data_jobs): it writes back every record of the snapshot that differs
from the sheet, then deletes the records the snapshot does not have, in conditional transactions
that keep the counts exact, and records one commit (kind `restore`) when it is done.
"""

import gzip
import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.data_store import CatalogPage, DataStore, ParentMissing
from jobs_core.errors import NotFound, PayloadTooLarge
from jobs_core.models.job import Job, JobCreate
from jobs_core.models.snapshot import Snapshot, SnapshotCreate, SnapshotListQuery
from jobs_core.models.workbook import RecordCounts
from jobs_core.object_store import ObjectStore, snapshot_key
from jobs_core.sheets import SheetState
from jobs_core.sheets import not_found as sheet_not_found
from jobs_core.system.operations import Budget, Context, OperationFailed, Plan, Step
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant
    from jobs_core.records import RecordService

RESTORE_OPERATION: Final = 'restore-snapshot'
# A snapshot taken in a request reads the whole sheet within API Gateway's 29 s; bigger sheets are
# snapshotted by the system jobs that change them (snapshotLabel).
SYNCHRONOUS_LIMIT: Final = 100_000
_WRITE_CHUNK: Final = 490
_READ_PAGE: Final = 1000
_KEPT: Final = ('id', 'values', 'errors', 'valid', 'metadata')


def not_found(snapshot_id: str) -> NotFound:
    return NotFound(f'Snapshot {snapshot_id} not found', key='snapshotId')


class SnapshotService:
    def __init__(
        self,
        catalog: DataStore,
        records: 'RecordService',
        objects: ObjectStore,
        jobs: 'JobService',
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._catalog = catalog
        self._records = records
        self._objects = objects
        self._jobs = jobs
        self._clock = clock

    def create(self, tenant: 'Tenant', body: SnapshotCreate) -> Snapshot:
        sheet = self._records.sheet(tenant, body.sheet_id)
        if sheet.counts.total > SYNCHRONOUS_LIMIT:
            raise PayloadTooLarge(
                f'Sheet {sheet.id} has {sheet.counts.total:,} records; a snapshot taken on request holds at most '
                f'{SYNCHRONOUS_LIMIT:,}. Ask the system job that changes it for one (snapshotLabel).',
                key='sheetId',
            )
        return self.take(tenant, sheet, label=body.label, thread_id=body.thread_id)

    def take(self, tenant: 'Tenant', sheet: SheetState, *, label: str | None, thread_id: str | None = None) -> Snapshot:
        """Store a sheet's records now (also for system jobs asked for a snapshotLabel)."""
        snapshot_id = ids.new_id(ids.SNAPSHOT)
        counts = RecordCounts()
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode='wb', mtime=0) as compressed:
            for records, _ in self._records.scan(tenant, sheet, page_size=_READ_PAGE):
                for record in records:
                    kept = {key: record.get(key) for key in _KEPT}
                    compressed.write(json.dumps(kept, separators=(',', ':')).encode() + b'\n')
                    counts.total += 1
                    if record.get('valid', True):
                        counts.valid += 1
                    else:
                        counts.error += 1
        data = buffer.getvalue()
        self._objects.put(snapshot_key(tenant.environment_id, sheet.id, snapshot_id), data, 'application/gzip')
        values: dict[str, Any] = {
            'id': snapshot_id,
            'sheetId': sheet.id,
            'workbookId': sheet.workbook_id,
            'spaceId': sheet.space_id,
            'counts': counts.model_dump(),
            'size': len(data),
            'createdBy': tenant.actor_id,
            'createdAt': format_timestamp(self._clock()),
        }
        if label:
            values['label'] = label
        if thread_id:
            values['threadId'] = thread_id
        try:
            self._catalog.create(tenant.environment_id, [('snapshot', values)], requires=('sheet', sheet.id))
        except ParentMissing as missing:
            self._objects.delete([snapshot_key(tenant.environment_id, sheet.id, snapshot_id)])
            raise sheet_not_found(sheet.id) from missing
        return Snapshot.model_validate(values)

    def get(self, tenant: 'Tenant', snapshot_id: str) -> Snapshot:
        return Snapshot.model_validate(self._item(tenant, snapshot_id))

    def page(self, tenant: 'Tenant', query: SnapshotListQuery) -> tuple[list[Snapshot], CatalogPage]:
        self._records.sheet(tenant, query.sheet_id)  # 404 for an unknown or foreign sheet
        page = self._catalog.page(
            'snapshot',
            tenant.environment_id,
            parent_id=query.sheet_id,
            page_size=query.page_size,
            page_number=query.page_number,
            page_token=query.page_token,
        )
        return [Snapshot.model_validate(item) for item in page.items], page

    def delete(self, tenant: 'Tenant', snapshot_id: str) -> None:
        item = self._catalog.delete('snapshot', tenant.environment_id, snapshot_id)
        if item is None:
            raise not_found(snapshot_id)
        self._objects.delete([snapshot_key(tenant.environment_id, item['sheetId'], snapshot_id)])

    def restore(self, tenant: 'Tenant', snapshot_id: str) -> Job:
        """The job that restores the snapshot's sheet to it (ready at once; see RestoreSnapshot)."""
        snapshot = self.get(tenant, snapshot_id)
        sheet = self._records.sheet(tenant, snapshot.sheet_id)
        return self._jobs.create(
            tenant,
            JobCreate(
                type='sheet',
                operation=RESTORE_OPERATION,
                source=sheet.id,
                space_id=sheet.space_id,
                config={'snapshotId': snapshot_id},
                trigger='immediate',
                managed=True,
                mode='foreground',
                info=f'Restoring sheet {sheet.slug} to snapshot {snapshot.label or snapshot_id}',
            ),
        )

    def records_of(self, tenant: 'Tenant', snapshot: dict[str, Any]) -> list[dict[str, Any]]:
        """A snapshot's records (the last one read stays cached: a restore reads it at every step)."""
        key = snapshot_key(tenant.environment_id, snapshot['sheetId'], snapshot['id'])
        return _records(self._objects, key)

    def _item(self, tenant: 'Tenant', snapshot_id: str) -> dict[str, Any]:
        item = self._catalog.get('snapshot', tenant.environment_id, snapshot_id)
        if item is None:
            raise not_found(snapshot_id)
        return item

    def item(self, tenant: 'Tenant', snapshot_id: str) -> dict[str, Any] | None:
        return self._catalog.get('snapshot', tenant.environment_id, snapshot_id)


# A snapshot never changes once stored (its key names its id): the last one read is kept, since a
# restore reads it again at every step.
_LAST_READ: dict[str, tuple[dict[str, Any], ...]] = {}


def _records(objects: ObjectStore, key: str) -> list[dict[str, Any]]:
    if key not in _LAST_READ:
        data = objects.get(key)
        if data is None:
            raise OperationFailed('The snapshot is no longer in storage')
        _LAST_READ.clear()
        _LAST_READ[key] = tuple(json.loads(line) for line in gzip.decompress(data).splitlines() if line)
    return list(_LAST_READ[key])


class RestoreSnapshot:
    """`sheet:restore-snapshot`: the sheet's records become the snapshot's (an Operation, see
    jobs_core.system.operations). Cursor: the phase, how far it got, and how many records changed."""

    def __init__(self, snapshots: SnapshotService, records: 'RecordService') -> None:
        self._snapshots = snapshots
        self._records = records

    def prepare(self, context: Context) -> Plan:
        snapshot = self._snapshot(context)
        sheet = self._sheet(context)
        total = int(snapshot['counts']['total']) + sheet.counts.total
        # Progress counts the records compared (the snapshot's, then the sheet's); the outcome, those changed.
        return Plan(total=total, unit='records', verb='Compared', cursor={'phase': 'write', 'offset': 0, 'changed': 0})

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        sheet = self._sheet(context)
        records = self._snapshots.records_of(context.tenant, self._snapshot(context))
        cursor = dict(cursor)
        keep = {record['id'] for record in records}
        done = 0
        while True:  # at least one chunk a call, however small the budget: the job always moves on
            if cursor['phase'] == 'write':
                chunk = records[cursor['offset'] : cursor['offset'] + _WRITE_CHUNK]
                if chunk:
                    targets: dict[str, dict[str, Any] | None] = {record['id']: record for record in chunk}
                    written = self._records.replace(
                        context.tenant, sheet, targets, kind='restore', job_id=context.job.id, commit=False
                    )
                    cursor['offset'] += len(chunk)
                    cursor['changed'] += written.count
                    done += len(chunk)
                else:
                    cursor = {**cursor, 'phase': 'delete', 'after': None}
            else:
                pages = self._records.scan(context.tenant, sheet, after=cursor.get('after'), page_size=_READ_PAGE)
                page, after = next(pages)
                extra: dict[str, dict[str, Any] | None] = {
                    record['id']: None for record in page if record['id'] not in keep
                }
                if extra:
                    written = self._records.replace(
                        context.tenant, sheet, extra, kind='restore', job_id=context.job.id, commit=False
                    )
                    cursor['changed'] += written.count
                done += len(page)
                cursor['after'] = after
                if after is None:
                    return Step(cursor=cursor, done_units=done, finished=True)
            if budget.left() <= 0:
                return Step(cursor=cursor, done_units=done, finished=False)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> dict[str, Any]:
        sheet = self._sheet(context)
        snapshot = self._snapshot(context)
        changed = int(cursor.get('changed', 0))
        if changed:
            self._records.record_commit(context.tenant, sheet, 'restore', changed, job_id=context.job.id)
        name = snapshot.get('label') or snapshot['id']
        noun = 'record' if changed == 1 else 'records'
        return {'message': f'Sheet {sheet.slug} restored to snapshot {name}: {changed:,} {noun} changed'}

    def _snapshot(self, context: Context) -> dict[str, Any]:
        snapshot_id = (context.job.config or {}).get('snapshotId')
        item = self._snapshots.item(context.tenant, str(snapshot_id)) if snapshot_id else None
        if item is None or item['sheetId'] != context.job.source:
            raise OperationFailed(f'Snapshot {snapshot_id} of sheet {context.job.source} no longer exists')
        return item

    def _sheet(self, context: Context) -> SheetState:
        try:
            return self._records.sheet(context.tenant, context.job.source)
        except NotFound as gone:
            raise OperationFailed(f'Sheet {context.job.source} no longer exists') from gone
