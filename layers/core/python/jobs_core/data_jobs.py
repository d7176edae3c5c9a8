"""The data plane's system jobs: removing what a deleted resource held, restoring a snapshot.

`space:delete`, `workbook:delete`, `sheet:delete` (see deletions) and `sheet:restore-snapshot` (see
snapshots) are Operations of the system-job runtime: the API creates them managed and immediate, the
system jobs rule sends their `job:ready` to the dispatcher, and the state machine's worker runs them
in budgeted, idempotent steps with progress, like every other system job.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

from jobs_core.data_store import DataStore
from jobs_core.deletions import DeleteContents
from jobs_core.files import FileService
from jobs_core.object_store import ObjectStore
from jobs_core.records import RecordService
from jobs_core.records_store import RecordStore
from jobs_core.snapshots import RESTORE_OPERATION, RestoreSnapshot, SnapshotService
from jobs_core.spaces import DELETE_OPERATION
from jobs_core.system.operations import Operation
from jobs_core.workbooks import WorkbookService

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.plans import PlanService, PlanStore

DATA_OPERATIONS: Final = frozenset(
    {
        f'space:{DELETE_OPERATION}',
        f'workbook:{DELETE_OPERATION}',
        f'sheet:{DELETE_OPERATION}',
        f'sheet:{RESTORE_OPERATION}',
    }
)


@dataclass(frozen=True, slots=True)
class DataPlane:
    catalog: DataStore
    record_store: RecordStore
    records: RecordService
    objects: ObjectStore
    snapshots: SnapshotService
    jobs: 'JobService'
    files: FileService
    workbooks: WorkbookService
    plan_store: 'PlanStore'
    plans: 'PlanService'


@cache
def data_plane() -> DataPlane:
    """The data plane wired from the function's environment, once per container (on first use, so a
    function that never runs a data job needs none of its settings)."""
    from jobs_core.jobs import JobService  # noqa: PLC0415 - jobs imports the system operations
    from jobs_core.plans import PlanService, PlanStore  # noqa: PLC0415
    from jobs_core.settings import data_settings  # noqa: PLC0415
    from jobs_core.store import DynamoJobStore  # noqa: PLC0415

    settings = data_settings()
    catalog = DataStore(settings.data_table_name)
    record_store = RecordStore(settings.data_table_name, settings.table_name)
    records = RecordService(catalog, record_store)
    objects = ObjectStore(settings.files_bucket_name)
    jobs = JobService(DynamoJobStore(settings.table_name))
    snapshots = SnapshotService(catalog, records, objects, jobs)
    files = FileService(catalog, objects, jobs)
    workbooks = WorkbookService(catalog, jobs)
    plan_store = PlanStore(settings.table_name)
    plans = PlanService(jobs, plan_store, records)
    return DataPlane(catalog, record_store, records, objects, snapshots, jobs, files, workbooks, plan_store, plans)


def operations(plane: Callable[[], DataPlane] = data_plane) -> dict[str, Callable[[], Operation]]:
    def deletion() -> Operation:
        wired = plane()
        return DeleteContents(wired.catalog, wired.record_store, wired.objects)

    def restore() -> Operation:
        wired = plane()
        return RestoreSnapshot(wired.snapshots, wired.records)

    return {
        f'space:{DELETE_OPERATION}': deletion,
        f'workbook:{DELETE_OPERATION}': deletion,
        f'sheet:{DELETE_OPERATION}': deletion,
        f'sheet:{RESTORE_OPERATION}': restore,
    }
