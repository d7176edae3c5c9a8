"""The `config` of each system operation (Flatfile's JobConfig union, decided by the operation), checked
when the job is created so a bad config is a 400 there rather than a failed job later.

Flatfile's shapes (spec §4), with what this platform does not run refused by name: `q` (FFQL) and
exporting a past version (`commitId`, `versionId`). Ids of sheets and workbooks are only known to
exist when the job runs; one missing then fails the job with a message that names it.
"""

from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from jobs_core.errors import BadRequest
from jobs_core.models.blueprint import Blueprint

RecordFilter = Literal['valid', 'error', 'all', 'none']
MAX_IDS: Final = 10_000
SEARCH_VALUE: Final = 1024
MAX_INSTRUCTIONS: Final = 2000  # sent with every batch of values to a language model
MUTATION_CHARS: Final = 16 * 1024

Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=MAX_IDS)]
FieldKey = Annotated[str, Field(min_length=1, max_length=255)]


class _Config(BaseModel):
    """A job config: camelCase; an unknown key is an error (a misspelt filter must not widen a delete)."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra='forbid', defer_build=True
    )


class RecordSelection(_Config):
    """The record query fields several configs share (spec §4)."""

    filter: RecordFilter | None = None
    filter_field: FieldKey | None = Field(default=None, description='With filter valid or error: this field only')
    search_field: FieldKey | None = None
    search_value: Annotated[str, Field(max_length=SEARCH_VALUE)] | None = Field(
        default=None, description='Contains this text; "quoted" for an exact match; "" for empty values'
    )
    q: str | None = Field(default=None, description='FFQL: not supported')

    @model_validator(mode='after')
    def _supported(self) -> 'RecordSelection':
        if self.q is not None:
            raise ValueError('q (FFQL) is not supported; use filter, searchField and searchValue')
        if self.filter_field is not None and self.filter not in {'valid', 'error'}:
            raise ValueError('filterField narrows filter valid or error; give one of those with it')
        return self


class FileJobConfig(_Config):
    """`file:extract` (Flatfile's FileJobConfig). `detectedHeaderRow` is set by the extract: the 0-based
    row of the file's rows that holds the field names. `options` are extensions: `headerRow` (0-based,
    as detectedHeaderRow) overrides the detection, `delimiter` the sniffed one; other keys are kept."""

    driver: Literal['csv'] = 'csv'
    options: dict[str, Any] | None = None
    detected_header_row: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode='after')
    def _options(self) -> 'FileJobConfig':
        options = self.options or {}
        header = options.get('headerRow')
        if header is not None and (not isinstance(header, int) or isinstance(header, bool) or header < 0):
            raise ValueError('options.headerRow is the 0-based row that holds the field names (0: the first)')
        delimiter = options.get('delimiter')
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'):
            raise ValueError('options.delimiter is one character (not a quote or a line break)')
        return self


class ExportOptions(RecordSelection):
    """ExportJobConfig.options. `format` (csv or xlsx) is an extension (also taken from the config
    itself, `config.format`): CSV unless asked."""

    ids: Ids | None = Field(default=None, description='Only these records; with a filter or search, all but these')
    sort_field: FieldKey | None = None
    sort_direction: Literal['asc', 'desc'] | None = None
    format: Literal['csv', 'xlsx'] | None = None
    commit_id: str | None = None
    version_id: str | None = None

    @model_validator(mode='after')
    def _current_only(self) -> 'ExportOptions':
        if self.commit_id is not None or self.version_id is not None:
            raise ValueError('exporting a past version (commitId, versionId) is not supported; export the sheet as is')
        return self


class ExportJobConfig(_Config):
    """`sheet:export`, `workbook:export`."""

    options: ExportOptions = Field(default_factory=ExportOptions)
    format: Literal['csv', 'xlsx'] | None = None

    @property
    def file_format(self) -> Literal['csv', 'xlsx']:
        return self.options.format or self.format or 'csv'


class DeleteRecordsJobConfig(RecordSelection):
    """`sheet:delete-records`, `workbook:delete-records`. `exceptions` are the exceptions to `filter`:
    with a filter (all, valid, error) or a search, the matching records but these are deleted; with
    filter none, only these are (as Flatfile's dedupe plugin asks)."""

    sheet: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    exceptions: Ids | None = None
    snapshot_label: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class FindAndReplaceJobConfig(RecordSelection):
    """`sheet:find-replace`: in field `fieldKey`, `find` ("quoted" for the whole value; otherwise the text
    is replaced wherever it occurs; left out, empty cells) becomes `replace` (left out: emptied)."""

    field_key: FieldKey
    find: JsonValue = None
    replace: JsonValue = None
    ids: Ids | None = None
    snapshot_label: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @model_validator(mode='after')
    def _plain_values(self) -> 'FindAndReplaceJobConfig':
        for name in ('find', 'replace'):
            if isinstance(getattr(self, name), dict):
                raise ValueError(f'{name} is a cell value (text, a number, a boolean or a list), not an object')
        return self


class MapJobConfig(_Config):
    """`workbook:map` (the part of Flatfile's MappingProgramJobConfig automap sends): the sheet of the
    `source` workbook mapped onto the sheet of the `destination` workbook, by the job's plan.
    Mapping programs (`mappingRules`) are not run: the plan is adjusted with PATCH /jobs/{id}/plan."""

    source_sheet_id: Annotated[str, Field(min_length=1, max_length=128)]
    destination_sheet_id: Annotated[str, Field(min_length=1, max_length=128)]
    mapping_rules: list[JsonValue] | None = None
    can_recompute: bool | None = None

    @model_validator(mode='after')
    def _no_program(self) -> 'MapJobConfig':
        if self.mapping_rules:
            raise ValueError('mappingRules (mapping programs) are not supported; adjust the plan (PATCH /plan)')
        return self


class AiAssistJobConfig(RecordSelection):
    """`sheet:ai-assist`: the values of `sourceField` categorised into the options of the enum field
    `targetField` (they may be the same field: free text in an enum field made options), following
    `instructions` when the provider is a language model. Only target cells without a valid value
    (empty, or not an option) are written unless `overwrite`. `ids` as for find-replace."""

    source_field: FieldKey
    target_field: FieldKey
    instructions: Annotated[str, Field(min_length=1, max_length=MAX_INSTRUCTIONS)] | None = None
    overwrite: bool = False
    ids: Ids | None = None


class ConfigureJobConfig(_Config, Blueprint):
    """`space:configure` run by the platform: a blueprint (jobs_core.models.blueprint). Without one the
    job is a listener's (managed false), as Flatfile's space-configure plugin handles it."""

    @model_validator(mode='before')
    @classmethod
    def _blueprint_given(cls, data: Any) -> Any:
        if not isinstance(data, dict) or 'workbooks' not in data:
            raise ValueError(
                'config needs a blueprint ({"workbooks": [...]}); or create the job with managed false '
                'for a listener to configure the space'
            )
        return data


class MutateJobConfig(RecordSelection):
    """`sheet:mutate-records` and the body of POST /v1/jobs/preview-mutation. `mutateRecord` is a JSONata
    expression over each record's values that returns the values to set (jobs_core.system.mutation);
    `snapshotId` is set by the platform: the snapshot `snapshotLabel` asked for."""

    sheet_id: Annotated[str, Field(min_length=1, max_length=128)]
    mutate_record: Annotated[str, Field(min_length=1, max_length=MUTATION_CHARS)] = Field(
        description="A JSONata expression over the record's values ({fieldKey: value}; $id, $metadata) that "
        'returns an object of the field keys to set, e.g. {"name": $uppercase(name)}'
    )
    mutation_id: Annotated[str, Field(max_length=255)] | None = None
    snapshot_label: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    snapshot_id: Annotated[str, Field(max_length=128)] | None = None
    ids: Ids | None = None

    @field_validator('mutate_record')
    @classmethod
    def _parses(cls, text: str) -> str:
        from jobs_core.system.mutation import Mutation, MutationInvalid  # noqa: PLC0415 - jsonata only when asked

        try:
            Mutation(text)
        except MutationInvalid as invalid:
            raise PydanticCustomError(
                'jsonata_syntax', 'is not a JSONata expression: {reason}', {'reason': invalid.reason}
            ) from invalid
        return text


CONFIGS: Final[dict[str, type[_Config]]] = {
    'file:extract': FileJobConfig,
    'sheet:export': ExportJobConfig,
    'workbook:export': ExportJobConfig,
    'sheet:delete-records': DeleteRecordsJobConfig,
    'workbook:delete-records': DeleteRecordsJobConfig,
    'sheet:find-replace': FindAndReplaceJobConfig,
    'workbook:map': MapJobConfig,
    'sheet:ai-assist': AiAssistJobConfig,
    'space:configure': ConfigureJobConfig,
    'sheet:mutate-records': MutateJobConfig,
}


Model = TypeVar('Model', bound=_Config)


def parse_config(model: type[Model], config: dict[str, Any] | None) -> Model:
    return model.model_validate(config or {})


def check_config(job: str, config: dict[str, Any] | None, source: str | None = None) -> None:
    """Refuse (400, key `config`) a managed system job whose config its operation cannot run."""
    model = CONFIGS.get(job)
    if model is None:
        return
    try:
        parsed = parse_config(model, config)
    except ValidationError as invalid:
        raise BadRequest(f'config of {job}: {_first_error(invalid)}', key='config') from invalid
    if isinstance(parsed, MutateJobConfig) and source is not None and parsed.sheet_id != source:
        raise BadRequest(f'config of {job}: sheetId {parsed.sheet_id} is not the job source {source}', key='config')
    if job == 'workbook:delete-records' and not (config or {}).get('sheet'):
        raise BadRequest('config of workbook:delete-records: sheet (the id of the sheet) is required', key='config')


def _first_error(invalid: ValidationError) -> str:
    error = invalid.errors(include_url=False)[0]
    where = '.'.join(str(part) for part in error['loc'])
    message = str(error['msg']).removeprefix('Value error, ')
    return f'{where}: {message}' if where else message
