"""Fixtures for the data plane's unit tests: the data table and the files bucket (from template.yaml)
beside the jobs table in moto, the API handler on top, and builders for spaces, workbooks, records.

Test modules import the fixture functions (`data_api_fixture`, …); each registers under its `name`.
"""

import base64
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from jobs_core.data_jobs import data_plane
from jobs_core.dynamo import dynamodb_client
from jobs_core.object_store import s3_client
from jobs_core.settings import data_settings
from jobs_local.template import create_tables
from tests.builders import TENANT, LambdaContext, api_event, load_function
from tests.unit.conftest import Reply

DATA_TABLE = 'jobs-data-test'
BUCKET = 'jobs-files-test'

CONTACTS = {
    'name': 'Contacts',
    'slug': 'contacts',
    'fields': [
        {'key': 'name', 'type': 'string', 'label': 'Name', 'constraints': [{'type': 'required'}]},
        {'key': 'email', 'type': 'string', 'constraints': [{'type': 'unique'}]},
        {'key': 'age', 'type': 'number'},
        {'key': 'active', 'type': 'boolean'},
        {
            'key': 'tier',
            'type': 'enum',
            'config': {'options': [{'value': 'gold', 'label': 'Gold'}, {'value': 'silver', 'label': 'Silver'}]},
        },
    ],
    'actions': [{'operation': 'dedupe', 'label': 'Dedupe', 'mode': 'foreground'}],
}


@dataclass
class DataApi:
    call: Callable[..., Reply]
    dynamodb: Any
    s3: Any
    module: Any

    @property
    def store_client(self) -> Any:
        """The DynamoDB client the stores use (to count or fail its calls)."""
        return dynamodb_client()

    def space(self, **fields: Any) -> dict[str, Any]:
        reply = self.call('POST', '/v1/spaces', {'name': 'Imports', **fields})
        assert reply.status == 201, reply.body
        return dict(reply.data)

    def workbook(self, space_id: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            'name': 'Onboarding',
            'spaceId': space_id or self.space()['id'],
            'sheets': [CONTACTS],
            'actions': [{'operation': 'submit', 'label': 'Submit', 'mode': 'background', 'type': 'string'}],
            **fields,
        }
        reply = self.call('POST', '/v1/workbooks', body)
        assert reply.status == 201, reply.body
        return dict(reply.data)

    def sheet(self, **fields: Any) -> dict[str, Any]:
        return dict(self.workbook(**fields)['sheets'][0])

    def insert(self, sheet_id: str, rows: list[dict[str, Any]]) -> Reply:
        body = [{key: {'value': value} for key, value in row.items()} for row in rows]
        return self.call('POST', f'/v1/sheets/{sheet_id}/records', body)

    def records(self, sheet_id: str, **query: str) -> Reply:
        return self.call('GET', f'/v1/sheets/{sheet_id}/records', query=query or None)

    def counts(self, sheet_id: str) -> dict[str, int]:
        reply = self.call('GET', f'/v1/sheets/{sheet_id}/counts')
        assert reply.status == 200, reply.body
        return dict(reply.data['counts'])

    def upload(
        self,
        content: bytes,
        *,
        space_id: str | None,
        name: str = 'contacts.csv',
        mode: str | None = 'import',
        content_type: str = 'text/csv',
        tenant: Any = TENANT,
    ) -> Reply:
        body, boundary = multipart_body(content, space_id=space_id, name=name, mode=mode, content_type=content_type)
        return self.raw('POST', '/v1/files', body, f'multipart/form-data; boundary={boundary}', tenant=tenant)

    def raw(self, method: str, path: str, body: bytes, content_type: str, tenant: Any = TENANT) -> Reply:
        """A request whose body API Gateway passes base64-encoded (a binary media type)."""
        event = api_event(method, path, raw_body=base64.b64encode(body).decode(), tenant=tenant)
        event['isBase64Encoded'] = True
        event['headers']['Content-Type'] = content_type
        event['multiValueHeaders']['Content-Type'] = [content_type]
        response = self.module.lambda_handler(event, LambdaContext())
        text = response['body']
        parsed = json.loads(text) if text and text[:1] in '{[' else text
        headers = {
            **(response.get('headers') or {}),
            **{name: values[-1] for name, values in (response.get('multiValueHeaders') or {}).items()},
        }
        return Reply(int(response['statusCode']), parsed, headers)


def multipart_body(
    content: bytes,
    *,
    space_id: str | None,
    name: str = 'contacts.csv',
    mode: str | None = 'import',
    content_type: str = 'text/csv',
) -> tuple[bytes, str]:
    boundary = f'----jobs{uuid.uuid4().hex}'
    parts = []
    if space_id is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="spaceId"\r\n\r\n{space_id}\r\n'.encode())
    if mode is not None:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\n{mode}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f'Content-Type: {content_type}\r\n\r\n'.encode()
        + content
        + b'\r\n'
    )
    return b''.join(parts) + f'--{boundary}--\r\n'.encode(), boundary


def reset() -> None:
    """Forget every client and service built against an earlier mock."""
    data_settings.cache_clear()
    s3_client.cache_clear()
    data_plane.cache_clear()
    for name, loaded in list(sys.modules.items()):
        if name.endswith('.data_plane') and hasattr(loaded, 'reset'):
            loaded.reset()


@pytest.fixture(name='data_api')
def data_api_fixture(api, dynamodb, monkeypatch) -> Iterator[DataApi]:
    """The API on moto with the data table and the files bucket of template.yaml."""
    monkeypatch.setenv('DATA_TABLE_NAME', DATA_TABLE)
    monkeypatch.setenv('FILES_BUCKET_NAME', BUCKET)
    module = load_function('api')
    reset()
    create_tables(dynamodb, {'DataTable': DATA_TABLE})
    s3 = boto3.client('s3')
    s3.create_bucket(Bucket=BUCKET)
    yield DataApi(call=api, dynamodb=dynamodb, s3=s3, module=module)
    reset()


def stored_items(dynamodb: Any) -> list[dict[str, Any]]:
    """Every item of the data table (for checking what a failed write left behind)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {'TableName': DATA_TABLE}
    while True:
        response = dynamodb.scan(**request)
        items += response['Items']
        if 'LastEvaluatedKey' not in response:
            return items
        request['ExclusiveStartKey'] = response['LastEvaluatedKey']
