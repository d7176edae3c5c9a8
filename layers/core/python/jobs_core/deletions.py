"""`space:delete`, `workbook:delete`, `sheet:delete`: removing what a deleted resource held.

The API marks the resource as being deleted (it reads as gone at once) and creates the job; this
operation then removes, a bounded step at a time, the space's files (bytes and items), its
workbooks, their sheets, each sheet's records, unique-value counters and snapshots, and finally the
resource itself. Each step finds what is left by querying, so a step repeated after a failure or a
duplicate delivery removes nothing twice and misses nothing.

A sheet is marked as being deleted before its records are removed: an insert that commits after
the mark is refused and takes its records back (see RecordStore.insert), and one that committed
before it wrote all its records before the purge reads them, so no record outlives its sheet.
"""

import contextlib
from typing import TYPE_CHECKING, Any, Final

from jobs_core.data_store import AlreadyDeleting, DataStore
from jobs_core.files import remove_objects
from jobs_core.object_store import ObjectStore, snapshot_key
from jobs_core.records_store import RecordStore
from jobs_core.system.operations import Budget, Context, OperationFailed, Plan, Step
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.models.tenant import Tenant

SCOPES: Final = ('space', 'workbook', 'sheet')
_RECORDS_PER_STEP: Final = 1000
_ITEMS_PER_STEP: Final = 100


class DeleteContents:
    """An Operation (see jobs_core.system.operations). Its cursor stays empty: what is left is read."""

    def __init__(self, catalog: DataStore, records: RecordStore, objects: ObjectStore) -> None:
        self._catalog = catalog
        self._records = records
        self._objects = objects

    def prepare(self, context: Context) -> Plan:
        if context.job.type not in SCOPES:
            raise OperationFailed(f'{context.job.type}:delete is not an operation this platform runs')
        # The API marked it already; a job created directly (POST /v1/jobs) marks it here, first.
        self._mark(context.tenant, context.job.type, context.job.source)
        return Plan(total=None, unit='items', verb='Removed')

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        removed = 0
        while True:  # at least one step a call, however small the budget: the job always moves on
            count, finished = self._step(context.tenant, context.job.type, context.job.source)
            removed += count
            if finished or budget.left() <= 0:
                return Step(cursor={}, done_units=removed, finished=finished)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> dict[str, Any]:
        return {'message': f'{context.job.type.capitalize()} {context.job.source} and everything it held are deleted'}

    # ------------------------------------------------------------ steps
    def _step(self, tenant: 'Tenant', scope: str, resource_id: str) -> tuple[int, bool]:
        """Remove one bounded batch under the resource; (items removed, whether nothing is left)."""
        environment = tenant.environment_id
        if scope == 'space':
            files = self._catalog.children('file', environment, resource_id, _ITEMS_PER_STEP)
            if files:
                remove_objects(self._objects, environment, files)
                self._catalog.delete_many('file', environment, [item['id'] for item in files])
                return len(files), False
            workbooks = self._catalog.children('workbook', environment, resource_id, 1)
            if workbooks:
                return self._step(tenant, 'workbook', workbooks[0]['id'])[0], False
        elif scope == 'workbook':
            self._mark(tenant, 'workbook', resource_id)
            sheets = self._catalog.children('sheet', environment, resource_id, 1)
            if sheets:
                return self._step(tenant, 'sheet', sheets[0]['id'])[0], False
        else:
            self._mark(tenant, 'sheet', resource_id)
            removed = self._records.purge(environment, resource_id, _RECORDS_PER_STEP)
            if removed:
                return removed, False
            snapshots = self._catalog.children('snapshot', environment, resource_id, _ITEMS_PER_STEP)
            if snapshots:
                self._objects.delete([snapshot_key(environment, resource_id, item['id']) for item in snapshots])
                self._catalog.delete_many('snapshot', environment, [item['id'] for item in snapshots])
                return len(snapshots), False
        gone = self._catalog.delete(scope, environment, resource_id)
        return (1 if gone else 0), True

    def _mark(self, tenant: 'Tenant', kind: str, resource_id: str) -> None:
        with contextlib.suppress(AlreadyDeleting):  # already removed by an earlier step
            self._catalog.mark_deleting(
                tenant.environment_id, [(kind, resource_id)], format_timestamp(now()), first_live=False
            )
