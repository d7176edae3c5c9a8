"""A space blueprint: the workbooks (sheets, fields, actions) and space settings `space:configure` applies.

Shape: `{"workbooks": [WorkbookBlueprint, ...], "space": {"actions": [...], "metadata": {...}}}`, as the
`config` of a `space:configure` job or under `metadata.blueprint` of a space created with
`autoConfigure: true`. A workbook is WorkbookCreate's shape without `spaceId`; its sheets are SheetConfigs.
Workbooks are matched by name in the space and sheets by slug in a workbook, so every name, slug, field
key and action operation must be unique where it is matched: a repeat is refused, naming it, before
anything is written.
"""

from typing import Annotated, Any, Final

from pydantic import Field, ValidationError, model_validator

from jobs_core.models.base import InputModel, JsonObject
from jobs_core.models.workbook import Actions, WorkbookCreate, WorkbookShape, slugify

# The key of a space's metadata that holds its blueprint (read when the space is created with autoConfigure).
METADATA_KEY: Final = 'blueprint'
MAX_WORKBOOKS: Final = 20


class WorkbookBlueprint(WorkbookShape):
    """A workbook of the blueprint, matched by `name` among the space's workbooks."""

    @model_validator(mode='after')
    def _unique(self) -> 'WorkbookBlueprint':
        _no_repeats((sheet.slug or slugify(sheet.name) for sheet in self.sheets), f'workbook {self.name!r}: sheet slug')
        _no_repeats((action.operation for action in self.actions or ()), f'workbook {self.name!r}: action operation')
        return self  # field keys and a sheet's action operations: SheetConfig checks them

    def slugs(self) -> list[str]:
        return [sheet.slug or slugify(sheet.name) for sheet in self.sheets]

    def for_space(self, space_id: str) -> WorkbookCreate:
        return WorkbookCreate.model_validate({**dict(self), 'space_id': space_id})


class SpaceBlueprint(InputModel):
    """Settings of the space itself: its actions (replaced) and metadata keys (merged into what it has)."""

    actions: Actions | None = None
    metadata: JsonObject | None = None

    @model_validator(mode='after')
    def _unique(self) -> 'SpaceBlueprint':
        _no_repeats((action.operation for action in self.actions or ()), 'action operation')
        return self


class Blueprint(InputModel):
    workbooks: Annotated[list[WorkbookBlueprint], Field(max_length=MAX_WORKBOOKS)]
    space: SpaceBlueprint | None = None

    @model_validator(mode='after')
    def _unique(self) -> 'Blueprint':
        _no_repeats((workbook.name for workbook in self.workbooks), 'workbook name')
        return self


class InvalidBlueprint(ValueError):
    """A blueprint that cannot be applied; the message names where and why."""


def read_blueprint(value: object) -> Blueprint:
    try:
        return Blueprint.model_validate(value)
    except ValidationError as invalid:
        error = invalid.errors(include_url=False)[0]
        where = '.'.join(str(part) for part in error['loc'])
        message = str(error['msg']).removeprefix('Value error, ')
        raise InvalidBlueprint(f'{where}: {message}' if where else message) from invalid


def _no_repeats(values: Any, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f'{what} {value!r} is used twice')
        seen.add(value)
