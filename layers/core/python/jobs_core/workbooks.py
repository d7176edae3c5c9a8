"""Workbooks and their sheets, and the actions they declare.

A workbook and its sheets are written in one transaction that also checks the space is there. A
sheet's item heads its records' partition and holds their counts. Running a declared action creates
the action job Flatfile creates (`<workbook|sheet>:<operation>`, trigger immediate, not managed: a
listener runs it). Deleting a workbook or a sheet makes it read as gone at once and hands its
records to a `<kind>:delete` job.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs_core import ids
from jobs_core.data_store import AlreadyDeleting, CatalogPage, DataStore, ParentMissing
from jobs_core.errors import NotFound
from jobs_core.models.job import Job, JobCreate
from jobs_core.models.workbook import (
    Action,
    SheetActionRun,
    SheetConfig,
    Workbook,
    WorkbookActionRun,
    WorkbookCreate,
    WorkbookListQuery,
    WorkbookUpdate,
    slugify,
)
from jobs_core.sheets import SheetState, load_sheet, sheet_model
from jobs_core.spaces import deletion_job, same_environment
from jobs_core.spaces import not_found as space_not_found
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant
    from jobs_core.models.workbook import Sheet

MAX_SHEETS_READ = 100


def not_found(workbook_id: str) -> NotFound:
    return NotFound(f'Workbook {workbook_id} not found', key='workbookId')


class WorkbookService:
    def __init__(self, catalog: DataStore, jobs: 'JobService', clock: Callable[[], datetime] = now) -> None:
        self._catalog = catalog
        self._jobs = jobs
        self._clock = clock

    # ------------------------------------------------------------ workbooks
    def create(
        self,
        tenant: 'Tenant',
        body: WorkbookCreate,
        *,
        workbook_id: str | None = None,
        sheet_ids: list[str] | None = None,
    ) -> Workbook:
        """A workbook with its sheets; a system job that may run again names them itself (ids derived
        from the job), and a second create with the same ids then fails on the first's items."""
        same_environment(tenant, body.environment_id)
        stamp = format_timestamp(self._clock())
        workbook_id = workbook_id or ids.new_id(ids.WORKBOOK)
        workbook = {
            **body.model_dump(by_alias=True, exclude_none=True, exclude={'sheets', 'environment_id'}, mode='json'),
            'id': workbook_id,
            'environmentId': tenant.environment_id,
            'createdBy': tenant.actor_id,
            'createdAt': stamp,
            'updatedAt': stamp,
        }
        named = sheet_ids or [ids.new_id(ids.SHEET) for _ in body.sheets]
        sheets = [
            {**self._sheet_values(config, workbook_id, body.space_id, stamp, sheet_id), 'position': position}
            for position, (config, sheet_id) in enumerate(zip(body.sheets, named, strict=True))
        ]
        try:
            self._catalog.create(
                tenant.environment_id,
                [('workbook', workbook), *(('sheet', sheet) for sheet in sheets)],
                requires=('space', body.space_id),
            )
        except ParentMissing as missing:
            raise space_not_found(body.space_id) from missing
        return _workbook(workbook, [sheet_model(sheet) for sheet in sheets])

    @staticmethod
    def _sheet_values(
        config: SheetConfig, workbook_id: str, space_id: str, stamp: str, sheet_id: str
    ) -> dict[str, Any]:
        slug = config.slug or slugify(config.name)
        stored = config.model_copy(update={'slug': slug}).model_dump(by_alias=True, exclude_none=True, mode='json')
        return {
            'id': sheet_id,
            'workbookId': workbook_id,
            'spaceId': space_id,
            'name': config.name,
            'slug': slug,
            'config': stored,
            'recordsTotal': 0,
            'recordsValid': 0,
            'recordsError': 0,
            'createdAt': stamp,
            'updatedAt': stamp,
        }

    def get(self, tenant: 'Tenant', workbook_id: str) -> Workbook:
        item = self._item(tenant, workbook_id)
        return _workbook(item, self._sheets_of(tenant, workbook_id))

    def page(self, tenant: 'Tenant', query: WorkbookListQuery) -> tuple[list[Workbook], CatalogPage]:
        """A page of workbooks, each with its sheets (one more Query per workbook of the page)."""
        page = self._catalog.page(
            'workbook',
            tenant.environment_id,
            parent_id=query.space_id,
            page_size=query.page_size,
            page_number=query.page_number,
            page_token=query.page_token,
        )
        workbooks = [_workbook(item, self._sheets_of(tenant, item['id'])) for item in page.items]
        return workbooks, page

    def update(self, tenant: 'Tenant', workbook_id: str, body: WorkbookUpdate) -> Workbook:
        cleared = {name for name in body.model_fields_set if getattr(body, name) is None}
        # A field set to null is removed; what is set is stored as a create stores it (no null keys inside).
        assign = body.model_dump(by_alias=True, include=body.model_fields_set - cleared, exclude_none=True, mode='json')
        remove = frozenset(body.model_dump(by_alias=True, include=cleared))
        item = self._catalog.update(
            'workbook',
            tenant.environment_id,
            workbook_id,
            {**assign, 'updatedAt': format_timestamp(self._clock())},
            remove,
        )
        if item is None:
            raise not_found(workbook_id)
        return _workbook(item, self._sheets_of(tenant, workbook_id))

    def delete(self, tenant: 'Tenant', workbook_id: str) -> str:
        """The workbook and its sheets read as gone at once; a workbook:delete job removes their records."""
        item = self._item(tenant, workbook_id)
        sheets = self._catalog.children('sheet', tenant.environment_id, workbook_id, MAX_SHEETS_READ)
        targets = [('workbook', workbook_id)] + [('sheet', sheet['id']) for sheet in sheets]
        try:
            self._catalog.mark_deleting(tenant.environment_id, targets, format_timestamp(self._clock()))
        except AlreadyDeleting as gone:
            raise not_found(workbook_id) from gone
        return deletion_job(tenant, self._jobs, 'workbook', workbook_id, item['spaceId'])

    def run_action(self, tenant: 'Tenant', workbook_id: str, operation: str, body: WorkbookActionRun | None) -> Job:
        item = self._item(tenant, workbook_id)
        action = _declared(item.get('actions'), operation, f'Workbook {workbook_id}')
        return self._jobs.create(
            tenant,
            JobCreate(
                type='workbook',
                operation=operation,
                source=workbook_id,
                space_id=item['spaceId'],
                trigger='immediate',
                managed=False,
                mode=action.mode or 'background',
                input=body.input if body else None,
            ),
        )

    # ------------------------------------------------------------ sheets
    def sheet(self, tenant: 'Tenant', sheet_id: str) -> 'Sheet':
        return load_sheet(self._catalog, tenant, sheet_id).model()

    def sheets(self, tenant: 'Tenant', workbook_id: str) -> list['Sheet']:
        self._item(tenant, workbook_id)
        return self._sheets_of(tenant, workbook_id)

    def delete_sheet(self, tenant: 'Tenant', sheet_id: str) -> str:
        sheet = load_sheet(self._catalog, tenant, sheet_id)
        try:
            self._catalog.mark_deleting(tenant.environment_id, [('sheet', sheet_id)], format_timestamp(self._clock()))
        except AlreadyDeleting as gone:
            raise NotFound(f'Sheet {sheet_id} not found', key='sheetId') from gone
        return deletion_job(tenant, self._jobs, 'sheet', sheet_id, sheet.space_id)

    def run_sheet_action(self, tenant: 'Tenant', sheet_id: str, operation: str, body: SheetActionRun | None) -> Job:
        sheet: SheetState = load_sheet(self._catalog, tenant, sheet_id)
        action = _declared(sheet.item['config'].get('actions'), operation, f'Sheet {sheet_id}')
        query = body.query.model_dump(by_alias=True, exclude_none=True) if body and body.query else {}
        return self._jobs.create(
            tenant,
            JobCreate(
                type='sheet',
                operation=operation,
                source=sheet_id,
                space_id=sheet.space_id,
                trigger='immediate',
                managed=False,
                mode=action.mode or 'background',
                input=body.input if body else None,
                subject={
                    'type': 'collection',
                    'resource': 'records',
                    'params': {'sheetId': sheet_id, 'workbookId': sheet.workbook_id},
                    'query': query,
                },
            ),
        )

    def add_sheet(self, tenant: 'Tenant', workbook_id: str, config: SheetConfig, sheet_id: str, position: int) -> None:
        """A new sheet in a live workbook (space:configure); a second add with the same id fails on the first's item."""
        item = self._item(tenant, workbook_id)
        values = self._sheet_values(config, workbook_id, item['spaceId'], format_timestamp(self._clock()), sheet_id)
        try:
            self._catalog.create(
                tenant.environment_id, [('sheet', {**values, 'position': position})], requires=('workbook', workbook_id)
            )
        except ParentMissing as missing:
            raise not_found(workbook_id) from missing

    def reconfigure_sheet(self, tenant: 'Tenant', sheet_id: str, config: SheetConfig, *, while_empty: bool) -> bool:
        """Replace a sheet's name and configuration (space:configure; `config.slug` is the sheet's). Records
        were validated against the fields they were written under, so with `while_empty` only while the sheet
        holds none. Whether it was written (False: gone, or it holds records)."""
        stored = config.model_dump(by_alias=True, exclude_none=True, mode='json')
        item = self._catalog.update(
            'sheet',
            tenant.environment_id,
            sheet_id,
            {'name': config.name, 'config': stored, 'updatedAt': format_timestamp(self._clock())},
            expect={'recordsTotal': 0} if while_empty else None,
        )
        return item is not None

    # ------------------------------------------------------------ helpers
    def _item(self, tenant: 'Tenant', workbook_id: str) -> dict[str, Any]:
        item = self._catalog.get('workbook', tenant.environment_id, workbook_id)
        if item is None:
            raise not_found(workbook_id)
        return item

    def _sheets_of(self, tenant: 'Tenant', workbook_id: str) -> list['Sheet']:
        page = self._catalog.page('sheet', tenant.environment_id, parent_id=workbook_id, page_size=MAX_SHEETS_READ)
        return [sheet_model(item) for item in page.items]


def _workbook(item: dict[str, Any], sheets: list['Sheet']) -> Workbook:
    return Workbook.model_validate({**item, 'sheets': sheets})


def _declared(actions: Any, operation: str, owner: str) -> Action:
    for declared in actions or ():
        action = Action.model_validate(declared)
        if action.operation == operation:
            return action
    raise NotFound(f'{owner} declares no action {operation!r}', key='operation')
