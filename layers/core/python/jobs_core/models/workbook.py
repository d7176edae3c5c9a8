"""Workbooks, their sheets, the sheets' fields (Flatfile's Blueprint properties) and actions.

Configuration objects (fields, actions, sheet configs) keep keys this service does not interpret, as
Flatfile configurations carry many (appearance, treatments, guide…); request bodies around them do
not, so a misspelt top-level key is an error rather than silently dropped.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from jobs_core.models.api import Pagination
from jobs_core.models.base import InputModel, JsonObject, Omittable, OutputModel, ResourceId, Timestamp
from jobs_core.models.job import Operation
from jobs_core.models.space import Labels, Name, Namespace

FieldType = Literal['string', 'number', 'boolean', 'date', 'enum', 'reference', 'string-list', 'enum-list']
ActionMode = Literal['foreground', 'background', 'toolbarBlocking']
OptionValue = str | int | float | bool

MAX_FIELDS = 1000
MAX_SHEETS = 50
SLUG = r'^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$'


class ConfigModel(BaseModel):
    """A configuration object: camelCase, unknown keys kept as given and returned."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra='allow',
        defer_build=True,
    )


class EnumOption(ConfigModel):
    value: OptionValue
    label: str | None = None
    description: str | None = None


class Constraint(ConfigModel):
    type: Literal['required', 'unique', 'computed', 'external', 'stored']
    config: JsonObject | None = None


class SheetField(ConfigModel):
    """A field of a sheet (Flatfile's Property)."""

    key: Annotated[str, Field(min_length=1, max_length=255, pattern=r'^[^\x00-\x1f]+$')]
    type: FieldType
    label: str | None = None
    description: str | None = None
    constraints: Annotated[list[Constraint], Field(max_length=20)] | None = None
    config: JsonObject | None = None
    readonly: bool | None = None
    metadata: JsonObject | None = None

    @model_validator(mode='after')
    def _config_fits_type(self) -> 'SheetField':
        config = self.config or {}
        if self.type in {'enum', 'enum-list'}:
            options = config.get('options')
            if not isinstance(options, list) or not options:
                raise ValueError(f'field {self.key}: an {self.type} field needs config.options, a list of {{value}}')
            values = [EnumOption.model_validate(option).value for option in options]
            if len({_option_key(value) for value in values}) != len(values):
                raise ValueError(f'field {self.key}: config.options values repeat')
        if self.type == 'reference' and not (isinstance(config.get('ref'), str) and isinstance(config.get('key'), str)):
            raise ValueError(f'field {self.key}: a reference field needs config.ref (a sheet slug) and config.key')
        return self

    def has_constraint(self, kind: str) -> bool:
        return any(constraint.type == kind for constraint in self.constraints or ())

    def constraint(self, kind: str) -> Constraint | None:
        return next((constraint for constraint in self.constraints or () if constraint.type == kind), None)

    def options(self) -> list[EnumOption]:
        options = (self.config or {}).get('options')
        return [EnumOption.model_validate(option) for option in options] if isinstance(options, list) else []

    @property
    def title(self) -> str:
        return self.label or self.key


def _option_key(value: OptionValue) -> str:
    return f'{type(value).__name__}:{value}'


class Action(ConfigModel):
    """An action a workbook or sheet declares; running it creates a job `<type>:<operation>`."""

    operation: Operation
    label: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None
    mode: ActionMode | None = Field(default=None, description='The job mode; background when left out')
    type: str | None = None
    confirm: bool | None = None
    primary: bool | None = None
    input_form: JsonObject | None = None


Actions = Annotated[list[Action], Field(max_length=50)]


class SheetConfig(ConfigModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    slug: Annotated[str, Field(pattern=SLUG)] | None = Field(default=None, description='Made from the name if left out')
    fields: Annotated[list[SheetField], Field(max_length=MAX_FIELDS)]
    actions: Actions | None = None
    description: str | None = None
    readonly: bool | None = None

    @model_validator(mode='after')
    def _keys_unique(self) -> 'SheetConfig':
        seen: set[str] = set()
        for field in self.fields:
            if field.key in seen:
                raise ValueError(f'sheet {self.name}: field key {field.key!r} is used twice')
            seen.add(field.key)
        _operations_unique(self.actions, f'sheet {self.name}')
        return self

    def field_map(self) -> dict[str, SheetField]:
        return {field.key: field for field in self.fields}


def _operations_unique(actions: list[Action] | None, where: str) -> None:
    operations = [action.operation for action in actions or ()]
    for operation in operations:
        if operations.count(operation) > 1:
            raise ValueError(f'{where}: action operation {operation!r} is declared twice')


def slugify(name: str) -> str:
    slug = re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-').lower()[:128]
    return slug or 'sheet'


class WorkbookShape(InputModel):
    """What makes a workbook: its name, sheets and actions, and how it is labelled (a workbook to
    create, or one a space blueprint describes)."""

    name: Name
    sheets: Annotated[list[SheetConfig], Field(max_length=MAX_SHEETS)] = Field(default_factory=list)
    actions: Actions | None = None
    labels: Labels | None = None
    namespace: Namespace | None = None
    metadata: JsonObject | None = None
    settings: JsonObject | None = None


class WorkbookCreate(WorkbookShape):
    """The body of POST /v1/workbooks."""

    space_id: ResourceId
    environment_id: ResourceId | None = None

    @model_validator(mode='after')
    def _slugs_unique(self) -> 'WorkbookCreate':
        slugs = [sheet.slug or slugify(sheet.name) for sheet in self.sheets]
        if len(set(slugs)) != len(slugs):
            raise ValueError('two sheets have the same slug; give each sheet its own slug')
        _operations_unique(self.actions, 'workbook')
        return self


class WorkbookUpdate(InputModel):
    """The body of PATCH /v1/workbooks/{workbookId}. Sheets are fixed once created."""

    name: Name | None = None
    actions: Actions | None = None
    labels: Labels | None = None
    namespace: Namespace | None = None
    metadata: JsonObject | None = None
    settings: JsonObject | None = None

    @model_validator(mode='after')
    def _not_empty(self) -> 'WorkbookUpdate':
        if not self.model_fields_set:
            raise ValueError('Give at least one of name, actions, labels, namespace, metadata, settings')
        _operations_unique(self.actions, 'workbook')
        return self


class RecordCounts(OutputModel):
    total: int = 0
    valid: int = 0
    error: int = 0


class Sheet(OutputModel):
    id: str
    workbook_id: str
    name: str
    slug: str
    config: dict[str, Any]
    count_records: RecordCounts
    created_at: Timestamp
    updated_at: Timestamp


class Workbook(OutputModel):
    id: str
    name: str
    space_id: str
    environment_id: str
    sheets: list[Sheet]
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    actions: Omittable[list[dict[str, Any]]] = None
    labels: Omittable[list[str]] = None
    namespace: Omittable[str] = None
    metadata: Omittable[JsonObject] = None
    settings: Omittable[JsonObject] = None


class WorkbookResponse(OutputModel):
    data: Workbook


class SheetResponse(OutputModel):
    data: Sheet


class ListWorkbooksResponse(OutputModel):
    data: list[Workbook]
    pagination: Pagination


class ListSheetsResponse(OutputModel):
    data: list[Sheet]


class WorkbookListQuery(InputModel):
    space_id: ResourceId | None = None
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = None


class SheetListQuery(InputModel):
    workbook_id: ResourceId


class ActionQuery(InputModel):
    """Which records a sheet action acts on (the job's collection subject query)."""

    filter: Literal['valid', 'error', 'all', 'none'] | None = None
    filter_field: str | None = None
    search_field: str | None = None
    search_value: str | None = None
    q: str | None = None
    ids: Annotated[list[ResourceId], Field(max_length=10_000)] | None = Field(
        default=None, description='Included when there is no filter, excluded when there is one'
    )


class WorkbookActionRun(InputModel):
    input: JsonObject | None = Field(default=None, description="The action's input-form values")


class SheetActionRun(WorkbookActionRun):
    query: ActionQuery | None = None
