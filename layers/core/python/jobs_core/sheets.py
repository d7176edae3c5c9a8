"""A sheet as the data plane reads it: its configuration (fields, actions) and its record counts."""

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from jobs_core.errors import NotFound
from jobs_core.models.workbook import RecordCounts, Sheet, SheetConfig, SheetField

if TYPE_CHECKING:
    from jobs_core.data_store import DataStore
    from jobs_core.models.tenant import Tenant


@dataclass(frozen=True)
class SheetState:
    item: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.item['id'])

    @property
    def workbook_id(self) -> str:
        return str(self.item['workbookId'])

    @property
    def space_id(self) -> str:
        return str(self.item['spaceId'])

    @property
    def slug(self) -> str:
        return str(self.item['slug'])

    @property
    def name(self) -> str:
        return str(self.item['name'])

    @cached_property
    def config(self) -> SheetConfig:
        return SheetConfig.model_validate(self.item['config'])

    @cached_property
    def fields(self) -> dict[str, SheetField]:
        return self.config.field_map()

    @property
    def counts(self) -> RecordCounts:
        return counts_of(self.item)

    def model(self) -> Sheet:
        return sheet_model(self.item)


def counts_of(item: dict[str, Any]) -> RecordCounts:
    return RecordCounts(
        total=int(item.get('recordsTotal', 0)),
        valid=int(item.get('recordsValid', 0)),
        error=int(item.get('recordsError', 0)),
    )


def sheet_model(item: dict[str, Any]) -> Sheet:
    return Sheet.model_validate({**item, 'count_records': counts_of(item)})


def not_found(sheet_id: str) -> NotFound:
    return NotFound(f'Sheet {sheet_id} not found', key='sheetId')


def load_sheet(catalog: 'DataStore', tenant: 'Tenant', sheet_id: str) -> SheetState:
    item = catalog.get('sheet', tenant.environment_id, sheet_id)
    if item is None:
        raise not_found(sheet_id)
    return SheetState(item)
