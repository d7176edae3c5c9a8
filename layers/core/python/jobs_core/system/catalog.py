"""The system operations this platform runs, by job string (`<type>:<operation>`)."""

from collections.abc import Callable

from jobs_core import data_jobs
from jobs_core.categorize import configured_categorizer
from jobs_core.data_jobs import DataPlane, data_plane
from jobs_core.system.ai_assist import AiAssist
from jobs_core.system.configure import Configure
from jobs_core.system.export import Export
from jobs_core.system.extract import Extract
from jobs_core.system.map import Map
from jobs_core.system.mutate import MutateRecords
from jobs_core.system.operations import Operation
from jobs_core.system.record_edits import DeleteRecords, FindReplace


def operations(plane: Callable[[], DataPlane] = data_plane) -> dict[str, Callable[[], Operation]]:
    """Each operation is built per call: it holds no state between steps but what its cursor says."""

    def extract() -> Operation:
        wired = plane()
        return Extract(wired.files, wired.objects, wired.records, wired.workbooks, wired.jobs)

    def export() -> Operation:
        wired = plane()
        return Export(wired.files, wired.objects, wired.records, wired.workbooks)

    def delete_records() -> Operation:
        wired = plane()
        return DeleteRecords(wired.records, wired.snapshots, wired.jobs)

    def map_records() -> Operation:
        wired = plane()
        return Map(wired.plans, wired.plan_store, wired.records, wired.jobs)

    def find_replace() -> Operation:
        wired = plane()
        return FindReplace(wired.records, wired.snapshots, wired.jobs)

    def ai_assist() -> Operation:
        wired = plane()
        return AiAssist(wired.records, wired.snapshots, wired.jobs, configured_categorizer())

    def configure() -> Operation:
        wired = plane()
        return Configure(wired.catalog, wired.workbooks)

    def mutate_records() -> Operation:
        wired = plane()
        return MutateRecords(wired.records, wired.snapshots, wired.jobs)

    return {
        **data_jobs.operations(plane),
        'file:extract': extract,
        'sheet:export': export,
        'workbook:export': export,
        'sheet:delete-records': delete_records,
        'workbook:delete-records': delete_records,
        'sheet:find-replace': find_replace,
        'workbook:map': map_records,
        'sheet:ai-assist': ai_assist,
        'space:configure': configure,
        'sheet:mutate-records': mutate_records,
    }
