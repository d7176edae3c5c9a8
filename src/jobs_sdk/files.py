"""`client.files`: uploading files (directly or presigned, with progress) and downloading them.

A file of at most DIRECT_UPLOAD_LIMIT bytes goes in one multipart/form-data request to the API.
A bigger one is described first (`POST /v1/files/uploads`), its bytes go straight to storage with
the presigned PUT (or one PUT per part of a multipart upload), then `complete` makes it `complete`.
Storage is another origin: it gets no API key, only the presigned URLs.
"""

import io
import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import httpx

from jobs_core.models.file import (
    DIRECT_UPLOAD_LIMIT,
    File,
    FileMode,
    FileResponse,
    FileUpload,
    FileUploadResponse,
    ListFilesResponse,
)
from jobs_sdk.errors import JobsApiError

if TYPE_CHECKING:
    from jobs_sdk.client import JobsClient

Progress = Callable[[int], None]  # told the bytes sent (or received) so far
CHUNK: Final = 1024 * 1024
STORAGE_ATTEMPTS: Final = 3


def _chunks(stream: IO[bytes], length: int, sent: int, progress: Progress | None) -> Iterator[bytes]:
    """`length` bytes of `stream` in chunks, telling `progress` the running total from `sent`."""
    left = length
    while left > 0:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            raise OSError(f'the file ended {left:,} bytes early; was it changed while uploading?')
        left -= len(chunk)
        sent += len(chunk)
        yield chunk
        if progress:
            progress(sent)


def _storage_error(response: httpx.Response, what: str) -> JobsApiError:
    from jobs_core.models.api import ErrorItem  # noqa: PLC0415

    detail = response.text.strip()[:300]
    return JobsApiError(response.status_code, [ErrorItem(key='storage', message=f'Storage refused {what}: {detail}')])


class FilesResource:
    """Files of the caller's environment (`/v1/files`)."""

    def __init__(self, client: 'JobsClient') -> None:
        self._client = client
        self._storage_client: httpx.Client | None = None

    @property
    def _storage(self) -> httpx.Client:
        """A client for presigned storage URLs: no API key, the client's own transport (tests)."""
        if self._storage_client is None:
            self._storage_client = httpx.Client(timeout=self._client.timeout, transport=self._client.transport)
        return self._storage_client

    def close(self) -> None:
        if self._storage_client is not None:
            self._storage_client.close()

    # ------------------------------------------------------------ reads
    def get(self, file_id: str) -> File:
        return FileResponse.model_validate(self._client.request('GET', f'/v1/files/{file_id}')).data

    def list(self, *, space_id: str | None = None, mode: FileMode | None = None, **page: Any) -> ListFilesResponse:
        params = {'spaceId': space_id, 'mode': mode, **{_camel(name): value for name, value in page.items()}}
        query = {name: str(value) for name, value in params.items() if value is not None}
        return ListFilesResponse.model_validate(self._client.request('GET', '/v1/files', params=query))

    def delete(self, file_id: str) -> None:
        self._client.request('DELETE', f'/v1/files/{file_id}')

    # ------------------------------------------------------------ uploads
    def upload(
        self,
        path: Path,
        *,
        space_id: str,
        mode: FileMode = 'import',
        name: str | None = None,
        mimetype: str | None = None,
        progress: Progress | None = None,
    ) -> File:
        """Upload a file from disk: directly when small, else through a presigned upload to storage."""
        size = path.stat().st_size
        name = name or path.name
        mimetype = mimetype or mimetypes.guess_type(name)[0] or 'application/octet-stream'
        with path.open('rb') as stream:
            if size <= DIRECT_UPLOAD_LIMIT:
                uploaded = self.upload_bytes(stream.read(), space_id=space_id, name=name, mode=mode, mimetype=mimetype)
                if progress:
                    progress(size)
                return uploaded
            started = self.start_upload(space_id=space_id, name=name, size=size, mimetype=mimetype, mode=mode)
            return self.send_upload(started, stream, progress=progress)

    def upload_bytes(
        self, content: bytes, *, space_id: str, name: str, mode: FileMode = 'import', mimetype: str | None = None
    ) -> File:
        """`POST /v1/files`: the bytes and the form in one request (at most DIRECT_UPLOAD_LIMIT bytes)."""
        response = self._client.send(
            'POST',
            '/v1/files',
            files={'file': (name, content, mimetype or 'application/octet-stream')},
            data={'spaceId': space_id, 'mode': mode},
        )
        return FileResponse.model_validate(response.json()).data

    def start_upload(
        self, *, space_id: str, name: str, size: int, mimetype: str | None = None, mode: FileMode = 'import'
    ) -> FileUpload:
        """`POST /v1/files/uploads`: a partial file, and where to PUT its bytes."""
        body = {'spaceId': space_id, 'name': name, 'size': size, 'mode': mode}
        if mimetype:
            body['mimetype'] = mimetype
        return FileUploadResponse.model_validate(self._client.request('POST', '/v1/files/uploads', body=body)).data

    def send_upload(self, started: FileUpload, stream: IO[bytes], *, progress: Progress | None = None) -> File:
        """PUT the bytes where `start_upload` said, then complete the upload."""
        upload = started.upload
        size = started.file.size
        parts: list[dict[str, Any]] | None = None
        if upload.url:
            self._put(upload.url, _chunks(stream, size, 0, progress), size, upload.headers or {}, 'the upload')
        else:
            parts = []
            part_size = upload.part_size or size
            for part in upload.parts or []:
                offset = (part.part_number - 1) * part_size
                length = min(part_size, size - offset)
                stream.seek(offset)
                data = stream.read(length)  # one part in memory, to send it again if storage drops it
                etag = self._put(part.url, data, length, {}, f'part {part.part_number}', progress, offset)
                parts.append({'partNumber': part.part_number, 'etag': etag})
        body = {'parts': parts} if parts else None
        return FileResponse.model_validate(self._client.request('POST', upload.complete_url, body=body)).data

    def _put(  # noqa: PLR0917 - the one place storage PUTs are made
        self,
        url: str,
        content: bytes | Iterator[bytes],
        length: int,
        headers: dict[str, str],
        what: str,
        progress: Progress | None = None,
        offset: int = 0,
    ) -> str:
        attempts = STORAGE_ATTEMPTS if isinstance(content, bytes) else 1  # a stream is read once
        for attempt in range(1, attempts + 1):
            body = content
            if isinstance(content, bytes) and progress:
                body = _chunks(io.BytesIO(content), length, offset, progress)
            try:
                response = self._storage.put(url, content=body, headers={**headers, 'Content-Length': str(length)})
            except httpx.TransportError:
                if attempt == attempts:
                    raise
                continue
            if response.status_code >= 500 and attempt < attempts:
                continue
            if response.is_error:
                raise _storage_error(response, what)
            return response.headers.get('ETag', '')
        raise AssertionError('unreachable')  # pragma: no cover

    # ------------------------------------------------------------ downloads
    def download_url(self, file_id: str) -> str:
        """A presigned URL of the file's bytes (valid for a few minutes)."""
        response = self._client.send('GET', f'/v1/files/{file_id}/download')
        return response.headers['Location']

    def download(self, file_id: str, destination: IO[bytes], *, progress: Progress | None = None) -> int:
        """Write the file's bytes to `destination`; returns how many."""
        return self.fetch(self.download_url(file_id), destination, progress=progress)

    def fetch(self, url: str, destination: IO[bytes], *, progress: Progress | None = None) -> int:
        """Write what `url` serves to `destination`: an API path such as /v1/files/{id}/download (sent
        with the key, following its redirect to storage) or any other URL, such as a presigned one
        (sent without the key)."""
        path = _api_path(url, self._client.base_url)
        if path is not None:
            response = self._client.send('GET', path)
            if not response.is_redirect:
                destination.write(response.content)
                if progress:
                    progress(len(response.content))
                return len(response.content)
            url = response.headers['Location']
        received = 0
        with self._storage.stream('GET', url, follow_redirects=True) as streamed:
            if streamed.is_error:
                streamed.read()
                raise _storage_error(streamed, 'the download')
            for chunk in streamed.iter_bytes(CHUNK):
                destination.write(chunk)
                received += len(chunk)
                if progress:
                    progress(received)
        return received


def _camel(name: str) -> str:
    head, *rest = name.split('_')
    return head + ''.join(part.title() for part in rest)


def _api_path(url: str, base_url: str) -> str | None:
    """The API path of `url` (an absolute path, or a URL under the API's root), else None."""
    if url.startswith('/'):
        return url
    if url.startswith(base_url + '/'):
        return url[len(base_url) :]
    return None
