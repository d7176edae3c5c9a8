"""Files: bytes in S3, described by an item (Flatfile's File), and the presigned upload of big ones."""

from typing import Annotated, Final, Literal

from pydantic import Field

from jobs_core.models.api import Pagination
from jobs_core.models.base import InputModel, Omittable, OutputModel, ResourceId, Timestamp

FileMode = Literal['import', 'export']
FileStatus = Literal['partial', 'complete', 'archived', 'purged', 'failed']

MiB: Final = 1024 * 1024
GiB: Final = 1024 * MiB
# A direct upload rides in the Lambda invocation (6 MB at most), base64-encoded by API Gateway:
# 4 MiB of file is ~5.6 MB on the wire, leaving room for the form's other parts and the event.
DIRECT_UPLOAD_LIMIT: Final = 4 * MiB
# Presigned uploads go straight to S3: one PUT up to SINGLE_PUT_LIMIT, a multipart upload beyond.
SINGLE_PUT_LIMIT: Final = 100 * MiB
MAX_FILE_SIZE: Final = 50 * GiB
PRESIGNED_ROUTE: Final = 'POST /v1/files/uploads'

FileName = Annotated[str, Field(min_length=1, max_length=255, pattern=r'^[^/\\\x00-\x1f]+$')]
MimeType = Annotated[str, Field(min_length=3, max_length=255, pattern=r'^[\w.+-]+/[\w.+-]+$')]
Encoding = Annotated[str, Field(min_length=1, max_length=64, pattern=r'^[\w.-]+$')]


class File(OutputModel):
    id: str
    name: str
    ext: str
    mimetype: str
    encoding: str
    status: FileStatus
    mode: FileMode
    size: int
    bytes_received: int
    space_id: str
    environment_id: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    workbook_id: Omittable[str] = None
    sheet_id: Omittable[str] = None


class FileResponse(OutputModel):
    data: File


class UploadCreate(InputModel):
    """The body of POST /v1/files/uploads: describe the file, then PUT its bytes to the returned URL."""

    space_id: ResourceId
    name: FileName
    size: Annotated[int, Field(ge=1, le=MAX_FILE_SIZE, strict=True, description='Bytes the upload will send')]
    mimetype: MimeType | None = Field(default=None, description='Guessed from the name when left out')
    encoding: Encoding = 'utf-8'
    mode: FileMode = 'import'
    environment_id: ResourceId | None = None


class UploadPart(OutputModel):
    part_number: int
    url: str


class Upload(OutputModel):
    """How to send the bytes: one PUT to `url`, or a PUT of each part then complete with their ETags."""

    method: Literal['PUT'] = 'PUT'
    expires_at: Timestamp
    url: Omittable[str] = None
    headers: Omittable[dict[str, str]] = None
    upload_id: Omittable[str] = None
    part_size: Omittable[int] = None
    parts: Omittable[list[UploadPart]] = None
    complete_url: str = Field(description='POST here once the bytes are sent (with the parts for a multipart upload)')


class FileUpload(OutputModel):
    file: File
    upload: Upload


class FileUploadResponse(OutputModel):
    data: FileUpload


class CompletedPart(InputModel):
    part_number: Annotated[int, Field(ge=1, le=10_000)]
    etag: Annotated[str, Field(min_length=1, max_length=128)]


class UploadComplete(InputModel):
    """The body of POST /v1/files/{fileId}/complete: the parts' ETags for a multipart upload, else nothing."""

    parts: Annotated[list[CompletedPart], Field(min_length=1, max_length=10_000)] | None = None


class FileListQuery(InputModel):
    space_id: ResourceId | None = None
    mode: FileMode | None = None
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = None


class ListFilesResponse(OutputModel):
    data: list[File]
    pagination: Pagination
