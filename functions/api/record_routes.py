"""Records under /v1/sheets/{sheetId}/records: Flatfile's shape, a cell {value, valid, messages} per value."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.errors import BadRequest
from jobs_core.models.api import SuccessData, SuccessResponse
from jobs_core.models.record import (
    MAX_DELETE,
    MAX_INSERT,
    MAX_UPDATE,
    RecordData,
    RecordDeleteQuery,
    RecordQuery,
    RecordsData,
    RecordsResponse,
    RecordUpdate,
)
from jobs_core.records import Written, record_model
from tenancy import tenant_of

router = APIGatewayRouter()

SheetId = Annotated[str, Path(alias='sheetId')]


# Lambda answers at most 6 MB; what a page or a write's echo may take of it.
MAX_RESPONSE_BYTES = 5_000_000


def _written(sheet_id: str, written: Written) -> RecordsData:
    """The records written, as Flatfile answers a write; left out (read them back) when they would not
    fit in one response."""
    tenant = tenant_of(router.current_event)
    answer = RecordsData(
        records=[record_model(record) for record in written.records],
        counts=data_plane.records().counts(tenant, sheet_id),
        commit_id=written.commit_id,
    )
    if len(answer.model_dump_json()) > MAX_RESPONSE_BYTES:
        return answer.model_copy(update={'records': []})
    return answer


@router.get('/v1/sheets/<sheetId>/records', summary="A page of a sheet's records", tags=['Records'])
def get_records(sheet_id: SheetId, query: Annotated[RecordQuery, Query()]) -> RecordsResponse:
    page = data_plane.records().page(tenant_of(router.current_event), sheet_id, query, MAX_RESPONSE_BYTES)
    return RecordsResponse(data=page)


@router.post(
    '/v1/sheets/<sheetId>/records',
    summary='Insert records',
    description=(
        f'A list of records, each {{fieldKey: {{value}}}}; at most {MAX_INSERT:,} a request. The answer echoes '
        'them, unless they would not fit in one response (then read them back).'
    ),
    tags=['Records'],
)
def insert_records(
    sheet_id: SheetId, body: Annotated[list[RecordData], Body(max_length=MAX_INSERT)]
) -> tuple[RecordsResponse, int]:
    rows = [{key: cell.value for key, cell in row.items()} for row in body]
    written = data_plane.records().insert(tenant_of(router.current_event), sheet_id, rows)
    return RecordsResponse(data=_written(sheet_id, written)), 201


@router.put(
    '/v1/sheets/<sheetId>/records',
    summary='Update records',
    description=f'A list of {{id, values, metadata?}}: the given cells are replaced; at most {MAX_UPDATE:,} a request.',
    tags=['Records'],
)
def update_records(
    sheet_id: SheetId, body: Annotated[list[RecordUpdate], Body(max_length=MAX_UPDATE)]
) -> RecordsResponse:
    written = data_plane.records().update(tenant_of(router.current_event), sheet_id, body)
    return RecordsResponse(data=_written(sheet_id, written))


@router.delete(
    '/v1/sheets/<sheetId>/records',
    summary='Delete records',
    description=f'ids=… repeated (or comma-separated), at most {MAX_DELETE} a request.',
    tags=['Records'],
)
def delete_records(sheet_id: SheetId, query: Annotated[RecordDeleteQuery, Query()]) -> SuccessResponse:
    ids = [part.strip() for value in query.ids for part in value.split(',') if part.strip()]
    if not ids or len(ids) > MAX_DELETE or any(len(record_id) > 128 for record_id in ids):
        raise BadRequest(f'Give between 1 and {MAX_DELETE} record ids', key='ids')
    data_plane.records().delete(tenant_of(router.current_event), sheet_id, ids)
    return SuccessResponse(data=SuccessData(success=True))
