"""`space:configure`: apply a blueprint (jobs_core.models.blueprint) to the job's space (`source`).

A workbook is matched by name in the space: created when missing, otherwise brought to the blueprint
(its actions, labels, namespace, metadata and settings as given; its sheets matched by slug, missing
ones added, listed ones reconfigured). A sheet the blueprint no longer lists is kept, as are the
records of every sheet: a sheet that holds records takes new fields only when its records stay valid
(no field removed or retyped, no constraint or option changed, added fields without constraints);
otherwise it keeps its fields and the outcome says so. Then the space takes the blueprint's `space`
settings and its first workbook as `primaryWorkbookId`.

Steps may run twice (a retried step, a retried job, a second configure job): every write either finds
what it would make (by name, by slug) or makes it under an id derived from the space and name (from the
job too when a workbook being deleted still holds that id), and a twin's conditional create fails on the
first's item. So applying a blueprint twice leaves one copy. The report is read from what the space
holds: what was created or written since the job was created.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.errors import NotFound
from jobs_core.models.blueprint import Blueprint, InvalidBlueprint, WorkbookBlueprint, read_blueprint
from jobs_core.models.workbook import SheetConfig, SheetField
from jobs_core.system.operations import Budget, Completion, Context, OperationFailed, Plan, Step
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.data_store import DataStore
    from jobs_core.models.tenant import Tenant
    from jobs_core.models.workbook import Sheet
    from jobs_core.workbooks import WorkbookService

_WORKBOOK_SETTINGS: Final = ('actions', 'labels', 'namespace', 'metadata', 'settings')
_PAGE: Final = 100
_SPACE_WRITES: Final = 5


class Configure:
    """An Operation (see jobs_core.system.operations). Its cursor is the next workbook's position; the
    space's own settings are the step after the last workbook."""

    def __init__(self, catalog: 'DataStore', workbooks: 'WorkbookService', clock: Callable[[], datetime] = now) -> None:
        self._catalog = catalog
        self._workbooks = workbooks
        self._clock = clock

    def prepare(self, context: Context) -> Plan:
        blueprint = _blueprint(context)  # the whole blueprint is checked before the first write
        if context.job.type != 'space':
            raise OperationFailed(f'{context.job.type}:configure is not an operation this platform runs')
        self._space(context)
        return Plan(total=len(blueprint.workbooks), unit='workbooks', verb='Configured', cursor={'next': 0})

    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        blueprint = _blueprint(context)
        position = int(cursor.get('next', 0))
        done = 0
        while True:  # at least one unit a call, however small the budget
            if position < len(blueprint.workbooks):
                self._apply_workbook(context, blueprint.workbooks[position])
                done += 1
            else:
                self._apply_space(context, blueprint)
            position += 1
            finished = position > len(blueprint.workbooks)
            if finished or budget.left() <= 0:
                return Step(cursor={'next': position}, done_units=done, finished=finished)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> Completion:
        blueprint = _blueprint(context)
        since = format_timestamp(context.job.created_at)
        named = self._named(context.tenant, context.job.source)
        report = []
        for workbook in blueprint.workbooks:
            item = named.get(workbook.name)
            if item is None:
                raise OperationFailed(f'Workbook {workbook.name!r} was deleted while the space was configured')
            report.append(self._report(context, workbook, item, since))
        outcome = {'heading': 'Space configured', 'message': _message(report)}
        primary = named[blueprint.workbooks[0].name]['id'] if blueprint.workbooks else None
        result = {'workbooks': report, **({'primaryWorkbookId': primary} if primary else {})}
        return Completion(outcome=outcome, fields={'result': result})

    # ------------------------------------------------------------ workbooks
    def _apply_workbook(self, context: Context, workbook: WorkbookBlueprint) -> None:
        item = self._named(context.tenant, context.job.source).get(workbook.name)
        if item is None:
            item = self._create_workbook(context, workbook)
        if item is not None:
            self._update_workbook(context, item, workbook)

    def _create_workbook(self, context: Context, workbook: WorkbookBlueprint) -> dict[str, Any] | None:
        """Create it with its sheets; None once created, or the workbook a twin of this step made."""
        tenant, space_id = context.tenant, context.job.source
        for workbook_id in (
            ids.derived_id(ids.WORKBOOK, space_id, 'blueprint', workbook.name),
            ids.derived_id(ids.WORKBOOK, context.job.id, 'blueprint', workbook.name),
        ):
            sheet_ids = [ids.derived_id(ids.SHEET, workbook_id, slug) for slug in workbook.slugs()]
            try:
                body = workbook.for_space(space_id)
                self._workbooks.create(tenant, body, workbook_id=workbook_id, sheet_ids=sheet_ids)
            except NotFound as gone:
                raise OperationFailed(f'Space {space_id} no longer exists') from gone
            except Exception:
                found = self._named(tenant, space_id).get(workbook.name)
                if found is not None:
                    return found  # a twin of this step made it meanwhile
                if self._catalog.get('workbook', tenant.environment_id, workbook_id, deleting=True) is None:
                    raise  # the id is free: a real failure (retried by the state machine when it is one to retry)
                continue  # a deleted workbook still holds the id until its deletion job removes it
            return None
        raise OperationFailed(f'Workbook {workbook.name!r} is still being deleted; configure the space again later')

    def _update_workbook(self, context: Context, item: dict[str, Any], workbook: WorkbookBlueprint) -> None:
        tenant, workbook_id = context.tenant, str(item['id'])
        wanted = workbook.model_dump(include=set(_WORKBOOK_SETTINGS), exclude_none=True, by_alias=True, mode='json')
        changes = {name: value for name, value in wanted.items() if item.get(name) != value}
        if changes:
            assign = {**changes, 'updatedAt': format_timestamp(self._clock())}
            if self._catalog.update('workbook', tenant.environment_id, workbook_id, assign) is None:
                raise OperationFailed(f'Workbook {workbook.name!r} was deleted while the space was configured')
        sheets = {sheet.slug: sheet for sheet in self._workbooks.sheets(tenant, workbook_id)}
        for position, (config, slug) in enumerate(zip(workbook.sheets, workbook.slugs(), strict=True)):
            wanted_sheet = config.model_copy(update={'slug': slug})
            sheet = sheets.get(slug)
            if sheet is None:
                self._add_sheet(context, workbook_id, wanted_sheet, position)
            else:
                self._reconfigure_sheet(tenant, sheet, wanted_sheet)

    def _add_sheet(self, context: Context, workbook_id: str, config: SheetConfig, position: int) -> None:
        tenant, slug = context.tenant, str(config.slug)
        for sheet_id in (
            ids.derived_id(ids.SHEET, workbook_id, slug),
            ids.derived_id(ids.SHEET, context.job.id, workbook_id, slug),
        ):
            try:
                self._workbooks.add_sheet(tenant, workbook_id, config, sheet_id, position)
            except NotFound as gone:
                raise OperationFailed(f'Workbook {workbook_id} was deleted while the space was configured') from gone
            except Exception:
                if any(sheet.slug == slug for sheet in self._workbooks.sheets(tenant, workbook_id)):
                    return  # a twin of this step added it meanwhile
                if self._catalog.get('sheet', tenant.environment_id, sheet_id, deleting=True) is None:
                    raise
                continue  # a deleted sheet still holds the id
            return
        raise OperationFailed(f'Sheet {slug!r} of workbook {workbook_id} is still being deleted; configure again later')

    def _reconfigure_sheet(self, tenant: 'Tenant', sheet: 'Sheet', wanted: SheetConfig) -> None:
        if _stored(wanted) == sheet.config and wanted.name == sheet.name:
            return
        current = SheetConfig.model_validate(sheet.config)
        if _keeps_records_valid(current, wanted):
            self._workbooks.reconfigure_sheet(tenant, sheet.id, wanted, while_empty=False)
            return
        if sheet.count_records.total == 0 and self._workbooks.reconfigure_sheet(
            tenant, sheet.id, wanted, while_empty=True
        ):
            return
        # It holds records that were validated against its fields: everything else changes, the fields stay.
        kept = wanted.model_copy(update={'fields': current.fields})
        if _stored(kept) != sheet.config or kept.name != sheet.name:
            self._workbooks.reconfigure_sheet(tenant, sheet.id, kept, while_empty=False)

    # ------------------------------------------------------------ the space
    def _apply_space(self, context: Context, blueprint: Blueprint) -> None:
        """The space's actions and metadata, and its primary workbook; a write conditioned on the space as
        read, so a concurrent edit of its metadata is merged into, never lost."""
        tenant, space_id = context.tenant, context.job.source
        primary = None
        if blueprint.workbooks:
            first = self._named(tenant, space_id).get(blueprint.workbooks[0].name)
            primary = first['id'] if first is not None else None
        for _ in range(_SPACE_WRITES):
            space = self._space(context)
            assign: dict[str, Any] = {}
            if primary is not None and space.get('primaryWorkbookId') != primary:
                assign['primaryWorkbookId'] = primary
            settings = blueprint.space
            if settings is not None and settings.actions is not None:
                actions = [action.model_dump(exclude_none=True, mode='json') for action in settings.actions]
                if space.get('actions') != actions:
                    assign['actions'] = actions
            if settings is not None and settings.metadata:
                merged = {**(space.get('metadata') or {}), **settings.metadata}
                if merged != space.get('metadata'):
                    assign['metadata'] = merged
            if not assign:
                return
            stamp = format_timestamp(self._clock())
            written = self._catalog.update(
                'space',
                tenant.environment_id,
                space_id,
                {**assign, 'updatedAt': stamp},
                expect={'updatedAt': space['updatedAt']},
            )
            if written is not None:
                return
        raise OperationFailed(f'Space {space_id} kept changing while it was configured; run space:configure again')

    def _space(self, context: Context) -> dict[str, Any]:
        space = self._catalog.get('space', context.tenant.environment_id, context.job.source)
        if space is None:
            raise OperationFailed(f'Space {context.job.source} not found')
        return space

    # ------------------------------------------------------------ reads
    def _named(self, tenant: 'Tenant', space_id: str) -> dict[str, dict[str, Any]]:
        """The space's live workbooks by name; of two with one name, the older."""
        named: dict[str, dict[str, Any]] = {}
        token = None
        while True:
            page = self._catalog.page(
                'workbook', tenant.environment_id, parent_id=space_id, page_size=_PAGE, page_token=token
            )
            for item in page.items:
                named.setdefault(str(item['name']), item)
            token = page.next_token
            if not token:
                return named

    def _report(
        self, context: Context, workbook: WorkbookBlueprint, item: dict[str, Any], since: str
    ) -> dict[str, Any]:
        sheets = self._workbooks.sheets(context.tenant, str(item['id']))
        wanted = dict(zip(workbook.slugs(), workbook.sheets, strict=True))
        created = str(item['createdAt']) >= since
        listed = [sheet for sheet in sheets if sheet.slug in wanted]
        added = [] if created else [sheet.slug for sheet in listed if format_timestamp(sheet.created_at) >= since]
        updated = [
            sheet.slug
            for sheet in listed
            if not created and sheet.slug not in added and format_timestamp(sheet.updated_at) >= since
        ]
        touched = str(item['updatedAt']) >= since or added or updated
        return {
            'name': workbook.name,
            'workbookId': item['id'],
            'status': 'created' if created else 'updated' if touched else 'unchanged',
            'sheetsAdded': added,
            'sheetsUpdated': updated,
            'sheetsKept': [sheet.slug for sheet in sheets if sheet.slug not in wanted],
            'fieldsKept': [
                sheet.slug
                for sheet in listed
                if _fields(SheetConfig.model_validate(sheet.config).fields) != _fields(wanted[sheet.slug].fields)
            ],
        }


def _blueprint(context: Context) -> Blueprint:
    try:
        return read_blueprint(context.job.config or {})
    except InvalidBlueprint as invalid:
        raise OperationFailed(f'The blueprint is not valid: {invalid}') from invalid


def _stored(config: SheetConfig) -> dict[str, Any]:
    """A sheet config as the sheet's item holds it."""
    return config.model_dump(by_alias=True, exclude_none=True, mode='json')


def _fields(fields: list[SheetField]) -> list[dict[str, Any]]:
    return [field.model_dump(by_alias=True, exclude_none=True, mode='json') for field in fields]


def _judged(field: SheetField) -> dict[str, Any]:
    """What a record's validity depends on."""
    return field.model_dump(include={'type', 'constraints', 'config'}, exclude_none=True, mode='json')


def _keeps_records_valid(current: SheetConfig, wanted: SheetConfig) -> bool:
    """Whether records validated against `current`'s fields are still right under `wanted`'s: every field
    stays, judged as before, and the fields added carry no constraint."""
    fields = wanted.field_map()
    for key, field in current.field_map().items():
        if key not in fields or _judged(field) != _judged(fields[key]):
            return False
    added = [field for key, field in fields.items() if key not in current.field_map()]
    return not any(field.constraints for field in added)


def _message(report: list[dict[str, Any]]) -> str:
    if not report:
        return 'The space is configured; the blueprint lists no workbooks'
    sentences = []
    for entry in report:
        name = repr(entry['name'])
        if entry['status'] == 'created':
            sentences.append(f'Created workbook {name}.')
            continue
        details = [f'added sheet {slug}' for slug in entry['sheetsAdded']]
        details += [f'updated sheet {slug}' for slug in entry['sheetsUpdated']]
        details += [f'kept sheet {slug}, not in the blueprint' for slug in entry['sheetsKept']]
        details += [f'kept the fields of sheet {slug}: it holds records' for slug in entry['fieldsKept']]
        head = f'Updated workbook {name}' if entry['status'] == 'updated' else f'Workbook {name} unchanged'
        sentences.append(f'{head}: {"; ".join(details)}.' if details else f'{head}.')
    return ' '.join(sentences)
