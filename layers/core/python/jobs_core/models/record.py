"""Records of a sheet, as Flatfile shapes them: each value a cell {value, valid, messages}."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from jobs_core.models.base import InputModel, JsonObject, Omittable, OutputModel, ResourceId
from jobs_core.models.workbook import RecordCounts

MAX_INSERT = 5_000
MAX_UPDATE = 1_000
MAX_DELETE = 500
MAX_PAGE_SIZE = 10_000


class CellInput(BaseModel):
    """A value to write. Other keys a client sends along (valid, messages) are recomputed, so ignored."""

    model_config = ConfigDict(extra='ignore')

    value: JsonValue = None


RecordData = dict[Annotated[str, Field(min_length=1, max_length=255)], CellInput]


class RecordUpdate(InputModel):
    id: ResourceId
    values: RecordData = Field(default_factory=dict)
    metadata: JsonObject | None = None


class ValidationMessage(OutputModel):
    type: Literal['error', 'warn', 'info']
    message: str
    source: Omittable[str] = None


class Cell(OutputModel):
    value: JsonValue = None
    valid: bool
    messages: list[ValidationMessage] = Field(default_factory=list)


class Record(OutputModel):
    id: str
    values: dict[str, Cell]
    valid: bool
    metadata: JsonObject = Field(default_factory=dict)
    commit_id: Omittable[str] = None


class RecordsData(OutputModel):
    records: list[Record]
    counts: RecordCounts
    commit_id: Omittable[str] = None
    next_page_token: Omittable[str] = Field(
        default=None, description='Opaque cursor for the next page; pass it back as pageToken'
    )
    success: bool = True


class RecordsResponse(OutputModel):
    data: RecordsData


class CountsData(OutputModel):
    counts: RecordCounts


class CountsResponse(OutputModel):
    data: CountsData


class RecordQuery(InputModel):
    """The query of GET /v1/sheets/{sheetId}/records."""

    filter: Literal['valid', 'error', 'all', 'none'] = 'all'
    filter_field: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description='With filter valid or error: judge validity by this field only'
    )
    search_field: Annotated[str, Field(max_length=255)] | None = None
    search_value: Annotated[str, Field(max_length=1024)] | None = Field(
        default=None, description='Contains this text; "quoted" for an exact match; "" (two quotes) for empty values'
    )
    ids: Annotated[list[ResourceId], Field(max_length=MAX_DELETE)] = Field(
        default_factory=list, description='Only these records; with a filter or search, all but these'
    )
    sort_field: Annotated[str, Field(max_length=255)] | None = None
    sort_direction: Literal['asc', 'desc'] = 'asc'
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 1000
    page_number: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_token: Annotated[str, Field(max_length=4096)] | None = None
    include_counts: bool = Field(default=True, description='Accepted for Flatfile clients; counts are always included')
    include_messages: bool = True
    include_length: bool | None = None
    include_links: bool | None = None
    q: Annotated[str, Field(max_length=4096)] | None = Field(default=None, description='FFQL: not supported (400)')


class RecordDeleteQuery(InputModel):
    ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_DELETE * 129)]],
        Field(min_length=1, max_length=MAX_DELETE, description='Repeated, or comma-separated'),
    ]
