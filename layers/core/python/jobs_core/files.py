"""Files: the bytes in S3, an item describing them.

Small files come in the request (multipart form, up to DIRECT_UPLOAD_LIMIT) and are `complete` at
once. Bigger ones are described first (`POST /v1/files/uploads`): the file is `partial` and the
caller gets a presigned PUT (or, past SINGLE_PUT_LIMIT, a presigned URL per part of an S3 multipart
upload). Once the bytes are sent, `POST /v1/files/{id}/complete` checks they are in S3 (HeadObject,
and the size declared) and marks the file `complete`; for a multipart upload it first assembles the
parts from their ETags. The uploader knows when its PUT finished, so completing is one call that
answers with the final state, rather than an S3 notification to wait for.
"""

import math
import mimetypes
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.data_store import CatalogPage, DataStore, ParentMissing
from jobs_core.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from jobs_core.models.file import (
    DIRECT_UPLOAD_LIMIT,
    PRESIGNED_ROUTE,
    SINGLE_PUT_LIMIT,
    File,
    FileListQuery,
    FileMode,
    FileUpload,
    MiB,
    Upload,
    UploadComplete,
    UploadCreate,
    UploadPart,
)
from jobs_core.models.job import JobCreate
from jobs_core.object_store import MultipartRefused, ObjectStore, file_key
from jobs_core.spaces import not_found as space_not_found
from jobs_core.spaces import same_environment
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant

UPLOAD_URL_SECONDS: Final = 3600
DOWNLOAD_URL_SECONDS: Final = 300
MIN_PART_SIZE: Final = 16 * MiB
MAX_PARTS: Final = 10_000
_NAME: Final = re.compile(r'^[^/\\\x00-\x1f]{1,255}$')


def not_found(file_id: str) -> NotFound:
    return NotFound(f'File {file_id} not found', key='fileId')


def too_large_for_direct_upload(size: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f'The file is {size:,} bytes; a direct upload takes at most {DIRECT_UPLOAD_LIMIT:,} bytes. '
        f'Use {PRESIGNED_ROUTE} for a presigned upload to storage.',
        key='file',
    )


def _mimetype(name: str, given: str | None) -> str:
    if given and given != 'application/octet-stream':
        return given
    return mimetypes.guess_type(name)[0] or given or 'application/octet-stream'


def _extension(name: str) -> str:
    return name.rsplit('.', 1)[1].lower() if '.' in name.strip('.') else ''


def clean_name(name: str) -> str:
    """A file name as browsers send it may carry a path; keep the last part only."""
    base = re.split(r'[\\/]', name.strip())[-1]
    if not _NAME.match(base):
        raise BadRequest('The file needs a name of 1-255 characters without / or \\', key='file')
    return base


EXTRACT_OPERATION: Final = 'extract'


class FileService:
    def __init__(
        self,
        catalog: DataStore,
        objects: ObjectStore,
        jobs: 'JobService | None' = None,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._catalog = catalog
        self._objects = objects
        self._jobs = jobs
        self._clock = clock

    # ------------------------------------------------------------ uploads
    def upload(
        self,
        tenant: 'Tenant',
        *,
        space_id: str,
        name: str,
        content: bytes,
        content_type: str | None,
        mode: FileMode = 'import',
        encoding: str = 'utf-8',
    ) -> File:
        """A direct upload: the bytes are stored, then the file is written `complete`."""
        if len(content) > DIRECT_UPLOAD_LIMIT:
            raise too_large_for_direct_upload(len(content))
        name = clean_name(name)
        self._require_space(tenant, space_id)
        values = self._values(
            tenant,
            space_id,
            name=name,
            mimetype=_mimetype(name, content_type),
            encoding=encoding,
            mode=mode,
            size=len(content),
        )
        self._objects.put(file_key(tenant.environment_id, values['id']), content, values['mimetype'])
        values.update(status='complete', bytesReceived=len(content))
        self._create(tenant, space_id, values)
        if mode == 'import':
            self._extract(tenant, values)
        return File.model_validate(values)

    def start_upload(self, tenant: 'Tenant', body: UploadCreate) -> FileUpload:
        """A `partial` file and how to send its bytes straight to storage."""
        same_environment(tenant, body.environment_id)
        name = clean_name(body.name)
        mimetype = _mimetype(name, body.mimetype)
        self._require_space(tenant, body.space_id)
        values = self._values(
            tenant, body.space_id, name=name, mimetype=mimetype, encoding=body.encoding, mode=body.mode, size=body.size
        )
        key = file_key(tenant.environment_id, values['id'])
        expires = self._clock() + timedelta(seconds=UPLOAD_URL_SECONDS)
        complete_url = f'/v1/files/{values["id"]}/complete'
        if body.size <= SINGLE_PUT_LIMIT:
            upload = Upload(
                url=self._objects.upload_url(key, mimetype, body.size, UPLOAD_URL_SECONDS),
                headers={'Content-Type': mimetype},
                expires_at=expires,
                complete_url=complete_url,
            )
        else:
            part_size = max(MIN_PART_SIZE, math.ceil(body.size / MAX_PARTS))
            upload_id = self._objects.start_multipart(key, mimetype)
            values['uploadId'] = upload_id
            count = math.ceil(body.size / part_size)
            upload = Upload(
                upload_id=upload_id,
                part_size=part_size,
                parts=[
                    UploadPart(
                        part_number=number, url=self._objects.part_url(key, upload_id, number, UPLOAD_URL_SECONDS)
                    )
                    for number in range(1, count + 1)
                ],
                expires_at=expires,
                complete_url=complete_url,
            )
        self._create(tenant, body.space_id, values)
        return FileUpload(file=File.model_validate(values), upload=upload)

    def complete(self, tenant: 'Tenant', file_id: str, body: UploadComplete | None) -> File:
        """Mark a presigned upload complete once its bytes are in storage; a complete file is returned as is."""
        item = self._item(tenant, file_id)
        if item['status'] == 'complete':
            return File.model_validate(item)
        if item['status'] != 'partial':
            raise Conflict(f'File {file_id} is {item["status"]}; only a partial file can be completed', key='status')
        key = file_key(tenant.environment_id, file_id)
        upload_id = item.get('uploadId')
        if upload_id:
            if body is None or not body.parts:
                raise BadRequest('A multipart upload is completed with its parts: [{partNumber, etag}]', key='parts')
            try:
                self._objects.finish_multipart(key, upload_id, [(part.part_number, part.etag) for part in body.parts])
            except MultipartRefused as refused:
                raise BadRequest(f'Storage refused the parts: {refused}', key='parts') from refused
        head = self._objects.head(key)
        if head is None:
            raise Conflict(f'The bytes of file {file_id} are not in storage yet; PUT them to the upload URL first')
        if head.size != item['size']:
            raise BadRequest(f'{head.size:,} bytes were uploaded but {item["size"]:,} were declared', key='size')
        updated = self._catalog.update(
            'file',
            tenant.environment_id,
            file_id,
            {'status': 'complete', 'bytesReceived': head.size, 'updatedAt': format_timestamp(self._clock())},
            frozenset({'uploadId'}),
            expect={'status': 'partial'},
        )
        if updated is None:  # gone, or completed by a racing call (which started its extract)
            return File.model_validate(self._item(tenant, file_id))
        if updated['mode'] == 'import':
            self._extract(tenant, updated)
        return File.model_validate(updated)

    def _extract(self, tenant: 'Tenant', file: dict[str, Any]) -> None:
        """An import file is extracted by a managed `file:extract` job, as Flatfile does, ready at once.
        Should the job not be created, the file is removed too: no import is left without its job."""
        if self._jobs is None:
            return
        try:
            self._jobs.create(
                tenant,
                JobCreate(
                    type='file',
                    operation=EXTRACT_OPERATION,
                    source=file['id'],
                    file_id=file['id'],
                    space_id=file['spaceId'],
                    trigger='immediate',
                    managed=True,
                    mode='foreground',
                    info=f'Extracting {file["name"]}',
                ),
            )
        except BaseException:
            self._catalog.delete('file', tenant.environment_id, file['id'])
            remove_objects(self._objects, tenant.environment_id, [file])
            raise

    # ------------------------------------------------------------ files a system job writes
    def export_file(
        self,
        tenant: 'Tenant',
        *,
        file_id: str,
        space_id: str,
        name: str,
        mimetype: str,
        workbook_id: str,
        sheet_id: str | None,
    ) -> dict[str, Any]:
        """The `partial` export file a job writes (its id derived from the job, so a step that runs
        again finds it); its item as it is."""
        item = self._catalog.get('file', tenant.environment_id, file_id)
        if item is not None:
            return item
        values = self._values(
            tenant, space_id, name=clean_name(name), mimetype=mimetype, encoding='utf-8', mode='export', size=0
        )
        values.update(id=file_id, workbookId=workbook_id)
        if sheet_id:
            values['sheetId'] = sheet_id
        self._create(tenant, space_id, values)
        return values

    def finish_export(self, tenant: 'Tenant', file_id: str, size: int) -> File:
        """The export's bytes are in storage: the file is `complete`."""
        updated = self._catalog.update(
            'file',
            tenant.environment_id,
            file_id,
            {'status': 'complete', 'size': size, 'bytesReceived': size, 'updatedAt': format_timestamp(self._clock())},
        )
        if updated is None:
            raise not_found(file_id)
        return File.model_validate(updated)

    def extracted_into(self, tenant: 'Tenant', file_id: str, workbook_id: str, sheet_id: str | None) -> None:
        """Note on an import file the workbook (and sheet) it was extracted into, as Flatfile's File has."""
        assign: dict[str, Any] = {'workbookId': workbook_id, 'updatedAt': format_timestamp(self._clock())}
        if sheet_id:
            assign['sheetId'] = sheet_id
        self._catalog.update('file', tenant.environment_id, file_id, assign)

    def item(self, tenant: 'Tenant', file_id: str) -> dict[str, Any] | None:
        return self._catalog.get('file', tenant.environment_id, file_id)

    def download_link(self, tenant: 'Tenant', file: dict[str, Any], expires: int) -> str:
        return self._objects.download_url(
            file_key(tenant.environment_id, file['id']), file['name'], file['mimetype'], expires
        )

    # ------------------------------------------------------------ reads, delete
    def get(self, tenant: 'Tenant', file_id: str) -> File:
        return File.model_validate(self._item(tenant, file_id))

    def page(self, tenant: 'Tenant', query: FileListQuery) -> tuple[list[File], CatalogPage]:
        page = self._catalog.page(
            'file',
            tenant.environment_id,
            parent_id=query.space_id,
            equals={'mode': query.mode} if query.mode else None,
            page_size=query.page_size,
            page_number=query.page_number,
            page_token=query.page_token,
        )
        return [File.model_validate(item) for item in page.items], page

    def download_url(self, tenant: 'Tenant', file_id: str) -> str:
        item = self._item(tenant, file_id)
        if item['status'] != 'complete':
            raise Conflict(f'File {file_id} is {item["status"]}; only a complete file can be downloaded', key='status')
        return self._objects.download_url(
            file_key(tenant.environment_id, file_id), item['name'], item['mimetype'], DOWNLOAD_URL_SECONDS
        )

    def delete(self, tenant: 'Tenant', file_id: str) -> None:
        item = self._catalog.delete('file', tenant.environment_id, file_id)
        if item is None:
            raise not_found(file_id)
        remove_objects(self._objects, tenant.environment_id, [item])

    # ------------------------------------------------------------ helpers
    def _item(self, tenant: 'Tenant', file_id: str) -> dict[str, Any]:
        item = self._catalog.get('file', tenant.environment_id, file_id)
        if item is None:
            raise not_found(file_id)
        return item

    def _require_space(self, tenant: 'Tenant', space_id: str) -> None:
        if self._catalog.get('space', tenant.environment_id, space_id) is None:
            raise space_not_found(space_id)

    def _create(self, tenant: 'Tenant', space_id: str, values: dict[str, Any]) -> None:
        try:
            self._catalog.create(tenant.environment_id, [('file', values)], requires=('space', space_id))
        except ParentMissing as missing:
            raise space_not_found(space_id) from missing

    def _values(
        self,
        tenant: 'Tenant',
        space_id: str,
        *,
        name: str,
        mimetype: str,
        encoding: str,
        mode: str,
        size: int,
    ) -> dict[str, Any]:
        stamp = format_timestamp(self._clock())
        return {
            'id': ids.new_id(ids.FILE),
            'name': name,
            'ext': _extension(name),
            'mimetype': mimetype,
            'encoding': encoding,
            'status': 'partial',
            'mode': mode,
            'size': size,
            'bytesReceived': 0,
            'spaceId': space_id,
            'environmentId': tenant.environment_id,
            'createdBy': tenant.actor_id,
            'createdAt': stamp,
            'updatedAt': stamp,
        }


def remove_objects(objects: ObjectStore, environment_id: str, items: list[dict[str, Any]]) -> None:
    """Delete the bytes of file items: abandon unfinished multipart uploads, delete the objects."""
    for item in items:
        if item.get('uploadId'):
            objects.abort_multipart(file_key(environment_id, item['id']), item['uploadId'])
    objects.delete([file_key(environment_id, item['id']) for item in items])
