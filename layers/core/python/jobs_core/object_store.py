"""The files bucket: the only module that talks to S3.

Keys are scoped by environment (`files/<environment>/<file id>`, `snapshots/<environment>/…`), never
built from a name a caller chose. Presigned URLs are SigV4, so they carry the signed Content-Type
and Content-Length of a single PUT and S3 refuses an upload that differs.
"""

import io
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError

from jobs_core.dynamo import error_code
from jobs_core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

_CONFIG: Final = Config(
    signature_version='s3v4', retries={'mode': 'standard', 'max_attempts': 4}, connect_timeout=2, read_timeout=20
)
_MISSING: Final = frozenset({'404', 'NoSuchKey', 'NotFound', 'NoSuchUpload'})
_THROTTLED: Final = frozenset({'SlowDown', '503', 'ServiceUnavailable', 'RequestTimeout', 'InternalError'})
DELETE_LIMIT: Final = 1000
# A ranged read asks for this much at a time: memory holds one window, whatever the object's size.
READ_WINDOW: Final = 8 * 1024 * 1024
# S3 takes parts of at least 5 MiB (but the last) and at most 10,000 of them.
MIN_PART_BYTES: Final = 5 * 1024 * 1024
LIST_PARTS_LIMIT: Final = 1000


class MultipartRefused(Exception):
    """S3 refused to assemble a multipart upload (a missing part, a wrong ETag, a part too small)."""


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    content_type: str | None


@cache
def s3_client() -> 'S3Client':
    import boto3  # noqa: PLC0415 - only what touches S3 pays for it

    return boto3.client('s3', config=_CONFIG)


def file_key(environment_id: str, file_id: str) -> str:
    return f'files/{environment_id}/{file_id}'


def snapshot_key(environment_id: str, sheet_id: str, snapshot_id: str) -> str:
    return f'snapshots/{environment_id}/{sheet_id}/{snapshot_id}.jsonl.gz'


def _failure(error: ClientError) -> Exception:
    if error_code(error) in _THROTTLED:
        return ServiceUnavailable('File storage is busy; retry shortly')
    return error


class ObjectStore:
    def __init__(self, bucket: str, client: 'S3Client | None' = None) -> None:
        self.bucket = bucket
        self._client = client or s3_client()

    def put(self, key: str, body: bytes, content_type: str, encoding: str | None = None) -> None:
        extra: dict[str, Any] = {'ContentEncoding': encoding} if encoding else {}
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra)
        except ClientError as error:
            raise _failure(error) from error

    def get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise _failure(error) from error
        return response['Body'].read()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes `start` to `end` (inclusive) of an object; fewer at its end, none past it."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key, Range=f'bytes={start}-{end}')
        except ClientError as error:
            if error_code(error) == 'InvalidRange':
                return b''
            raise _failure(error) from error
        return response['Body'].read()

    def reader(self, key: str, start: int = 0, window: int = READ_WINDOW) -> io.BufferedReader:
        """A stream of the object from byte `start`, read a window at a time with ranged GETs."""
        return io.BufferedReader(_RangedRaw(self, key, start, window), buffer_size=256 * 1024)

    def head(self, key: str) -> Head | None:
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise _failure(error) from error
        return Head(size=int(response['ContentLength']), content_type=response.get('ContentType'))

    def delete(self, keys: list[str]) -> None:
        """Delete objects (a missing one is no error), 1,000 a call."""
        try:
            for start in range(0, len(keys), DELETE_LIMIT):
                chunk = keys[start : start + DELETE_LIMIT]
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={'Objects': [{'Key': key} for key in chunk], 'Quiet': True}
                )
        except ClientError as error:
            raise _failure(error) from error

    # ------------------------------------------------------------ presigned URLs
    def upload_url(self, key: str, content_type: str, size: int, expires: int) -> str:
        return self._client.generate_presigned_url(
            'put_object',
            Params={'Bucket': self.bucket, 'Key': key, 'ContentType': content_type, 'ContentLength': size},
            ExpiresIn=expires,
        )

    def download_url(self, key: str, file_name: str, content_type: str, expires: int) -> str:
        ascii_name = file_name.encode('ascii', 'replace').decode().replace('"', '')
        disposition = f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(file_name)}'
        return self._client.generate_presigned_url(
            'get_object',
            Params={
                'Bucket': self.bucket,
                'Key': key,
                'ResponseContentDisposition': disposition,
                'ResponseContentType': content_type,
            },
            ExpiresIn=expires,
        )

    # ------------------------------------------------------------ multipart uploads
    def start_multipart(self, key: str, content_type: str) -> str:
        try:
            return self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ContentType=content_type)[
                'UploadId'
            ]
        except ClientError as error:
            raise _failure(error) from error

    def part_url(self, key: str, upload_id: str, part_number: int, expires: int) -> str:
        return self._client.generate_presigned_url(
            'upload_part',
            Params={'Bucket': self.bucket, 'Key': key, 'UploadId': upload_id, 'PartNumber': part_number},
            ExpiresIn=expires,
        )

    def finish_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        completed: list[CompletedPartTypeDef] = [
            {'PartNumber': number, 'ETag': etag if etag.startswith('"') else f'"{etag}"'} for number, etag in parts
        ]
        try:
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={'Parts': completed}
            )
        except ClientError as error:
            if error_code(error) in {'InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'NoSuchUpload'}:
                raise MultipartRefused(
                    str(error.response.get('Error', {}).get('Message', error_code(error)))
                ) from error
            raise _failure(error) from error

    def upload_part(self, key: str, upload_id: str, part_number: int, body: bytes) -> str:
        """Send one part (the same number again replaces it); its ETag."""
        try:
            response = self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=body
            )
        except ClientError as error:
            raise _failure(error) from error
        return str(response['ETag'])

    def uploaded_parts(self, key: str, upload_id: str) -> list[tuple[int, str]]:
        """The parts S3 holds for an unfinished upload (number, ETag), in order: what a multipart
        upload made across several invocations is finished with."""
        parts: list[tuple[int, str]] = []
        marker = 0
        try:
            while True:
                response = self._client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker, MaxParts=LIST_PARTS_LIMIT
                )
                parts += [(int(part['PartNumber']), str(part['ETag'])) for part in response.get('Parts', [])]
                if not response.get('IsTruncated'):
                    return parts
                marker = int(response['NextPartNumberMarker'])
        except ClientError as error:
            raise _failure(error) from error

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error_code(error) not in _MISSING:
                raise _failure(error) from error


class _RangedRaw(io.RawIOBase):
    """The raw side of ObjectStore.reader: each read is served from the current window, and the next
    window is fetched with a ranged GET when it runs out."""

    def __init__(self, objects: ObjectStore, key: str, start: int, window: int) -> None:
        self._objects = objects
        self._key = key
        self._position = start
        self._window = window
        self._chunk = b''
        self._offset = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position - (len(self._chunk) - self._offset)

    def readinto(self, buffer: Any) -> int:
        if self._offset >= len(self._chunk):
            if self._ended:
                return 0
            self._chunk = self._objects.get_range(self._key, self._position, self._position + self._window - 1)
            self._offset = 0
            self._position += len(self._chunk)
            self._ended = len(self._chunk) < self._window
            if not self._chunk:
                return 0
        size = min(len(buffer), len(self._chunk) - self._offset)
        buffer[:size] = self._chunk[self._offset : self._offset + size]
        self._offset += size
        return size
