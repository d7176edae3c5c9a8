"""The data plane's services, built on first use and kept for the container's life."""

from functools import cache
from typing import TYPE_CHECKING

import job_routes
from jobs_core.data_store import CatalogPage, DataStore
from jobs_core.files import FileService
from jobs_core.models.api import Pagination
from jobs_core.object_store import ObjectStore
from jobs_core.records import RecordService
from jobs_core.records_store import RecordStore
from jobs_core.settings import data_settings, table_settings
from jobs_core.snapshots import SnapshotService
from jobs_core.spaces import SpaceService
from jobs_core.workbooks import WorkbookService

if TYPE_CHECKING:
    from jobs_core.plans import PlanService


@cache
def catalog() -> DataStore:
    return DataStore(data_settings().data_table_name)


@cache
def objects() -> ObjectStore:
    return ObjectStore(data_settings().files_bucket_name)


@cache
def spaces() -> SpaceService:
    return SpaceService(catalog(), job_routes.service())


@cache
def files() -> FileService:
    return FileService(catalog(), objects(), job_routes.service())


@cache
def workbooks() -> WorkbookService:
    return WorkbookService(catalog(), job_routes.service())


@cache
def records() -> RecordService:
    settings = data_settings()
    return RecordService(catalog(), RecordStore(settings.data_table_name, settings.table_name))


@cache
def snapshots() -> SnapshotService:
    return SnapshotService(catalog(), records(), objects(), job_routes.service())


@cache
def plans() -> 'PlanService':
    # Imported on the first plan request: the planner's similarity library is no part of a cold start.
    from jobs_core.plans import PlanService, PlanStore  # noqa: PLC0415

    return PlanService(job_routes.service(), PlanStore(table_settings().table_name), records())


def reset() -> None:
    """Forget every service (tests start each from a fresh AWS mock)."""
    for built in (catalog, objects, spaces, files, workbooks, records, snapshots, plans):
        built.cache_clear()


def pagination(page_number: int, page_size: int, page: CatalogPage) -> Pagination:
    return Pagination(
        current_page=page_number,
        page_count=-(-page.total // page_size),
        total_count=page.total,
        next_page_token=page.next_token,
    )
