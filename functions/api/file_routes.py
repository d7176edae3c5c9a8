"""Files under /v1/files: direct uploads, presigned uploads and their completion, downloads."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, File, Form, Path, Query, UploadFile
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.errors import BadRequest
from jobs_core.models.api import SuccessData, SuccessResponse
from jobs_core.models.base import ResourceId
from jobs_core.models.file import (
    DIRECT_UPLOAD_LIMIT,
    PRESIGNED_ROUTE,
    Encoding,
    FileListQuery,
    FileMode,
    FileResponse,
    FileUploadResponse,
    ListFilesResponse,
    UploadComplete,
    UploadCreate,
)
from tenancy import tenant_of

router = APIGatewayRouter()

FileId = Annotated[str, Path(alias='fileId')]
MULTIPART = 'multipart/form-data'


@router.post(
    '/v1/files',
    summary='Upload a file',
    description=(
        f'multipart/form-data with the fields `file`, `spaceId` and `mode` (import or export; import by default). '
        f'At most {DIRECT_UPLOAD_LIMIT:,} bytes; bigger files go through {PRESIGNED_ROUTE}.'
    ),
    tags=['Files'],
)
def upload_file(
    file: Annotated[UploadFile, File(description='The file, with its name')],
    space_id: Annotated[ResourceId, Form(alias='spaceId', media_type=MULTIPART)],
    mode: Annotated[FileMode, Form(media_type=MULTIPART)] = 'import',
    encoding: Annotated[Encoding, Form(media_type=MULTIPART)] = 'utf-8',
) -> tuple[FileResponse, int]:
    if not file.filename:
        raise BadRequest('The `file` field must be a file, with its name', key='file')
    uploaded = data_plane.files().upload(
        tenant_of(router.current_event),
        space_id=space_id,
        name=file.filename,
        content=file.content,
        content_type=file.content_type,
        mode=mode,
        encoding=encoding,
    )
    return FileResponse(data=uploaded), 201


@router.post(
    '/v1/files/uploads',
    summary='Start a presigned upload',
    description=(
        'Creates a partial file and answers with where to PUT its bytes: one presigned URL, or one per part of a '
        "multipart upload for big files. Then POST the completeUrl (with each part's ETag for a multipart upload)."
    ),
    tags=['Files'],
)
def start_upload(body: Annotated[UploadCreate, Body()]) -> tuple[FileUploadResponse, int]:
    return FileUploadResponse(data=data_plane.files().start_upload(tenant_of(router.current_event), body)), 201


@router.post('/v1/files/<fileId>/complete', summary='Complete a presigned upload', tags=['Files'])
def complete_upload(file_id: FileId, body: Annotated[UploadComplete | None, Body()] = None) -> FileResponse:
    return FileResponse(data=data_plane.files().complete(tenant_of(router.current_event), file_id, body))


@router.get('/v1/files', summary='List files', tags=['Files'])
def list_files(query: Annotated[FileListQuery, Query()]) -> ListFilesResponse:
    files, page = data_plane.files().page(tenant_of(router.current_event), query)
    return ListFilesResponse(data=files, pagination=data_plane.pagination(query.page_number, query.page_size, page))


@router.get('/v1/files/<fileId>', summary='Get a file', tags=['Files'])
def get_file(file_id: FileId) -> FileResponse:
    return FileResponse(data=data_plane.files().get(tenant_of(router.current_event), file_id))


@router.get(
    '/v1/files/<fileId>/download',
    summary='Download a file',
    description='Redirects (302) to a presigned URL of the bytes, valid for five minutes.',
    tags=['Files'],
)
def download_file(file_id: FileId) -> Response[str]:
    url = data_plane.files().download_url(tenant_of(router.current_event), file_id)
    return Response(status_code=302, headers={'Location': url, 'Cache-Control': 'no-store'}, body='')


@router.delete('/v1/files/<fileId>', summary='Delete a file', tags=['Files'])
def delete_file(file_id: FileId) -> SuccessResponse:
    data_plane.files().delete(tenant_of(router.current_event), file_id)
    return SuccessResponse(data=SuccessData(success=True))
