"""Fixtures for the `jobs` command's unit tests: the commands run with typer's CliRunner, and their
JobsClient talks, without a socket, to the real API handler in process (on moto) through an
httpx.MockTransport, as API Gateway would invoke it (headers kept, multipart bodies base64-encoded);
presigned storage URLs go to moto's S3. `on_poll` actions run, one per poll, when the command polls the
Events API or the job list: they play the worker that moves a job along while it is watched.

Test modules import the fixture functions (`cli_fixture`, …); each registers under its `name`.
"""

import base64
import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from typer.testing import CliRunner, Result

import jobs_cli.connection
from jobs_cli.main import app
from jobs_core.models.event import Event
from jobs_local.functions import handler_of
from jobs_sdk import JobsClient
from tests.builders import LambdaContext, api_event
from tests.unit.data_fixtures import BUCKET, DataApi
from tests.unit.sdk_fixtures import envelope

API_URL = 'http://jobs.test'
UNREACHABLE = 'unreachable.test'
BAD_KEY = 'sk_bad'
POLLED = frozenset({'/v1/events', '/v1/jobs'})  # what a command polls while it waits


def forward(request: httpx.Request) -> httpx.Response:
    """One request answered by the API function, with the request's headers; a multipart body
    arrives base64-encoded, as API Gateway passes a binary media type."""
    query = dict(request.url.params) or None
    content_type = request.headers.get('content-type', 'application/json')
    binary = content_type.startswith('multipart/form-data')
    raw = base64.b64encode(request.content).decode() if binary else (request.content.decode() or None)
    event = api_event(request.method, request.url.path, raw_body=raw, query=query)
    event['isBase64Encoded'] = binary
    event['headers']['Content-Type'] = content_type
    event['multiValueHeaders']['Content-Type'] = [content_type]
    with contextlib.redirect_stdout(io.StringIO()):  # the function's logs and metrics, not the command's output
        reply = handler_of('ApiFunction')(event, LambdaContext())
    headers = {
        **(reply.get('headers') or {}),
        **{name: values[-1] for name, values in (reply.get('multiValueHeaders') or {}).items()},
    }
    return httpx.Response(int(reply['statusCode']), headers=headers, content=(reply.get('body') or '').encode())


def storage(request: httpx.Request, s3: Any) -> httpx.Response:
    """A presigned S3 URL served by moto's S3: PUT an object or a part, GET an object."""
    host, path = request.url.host, request.url.path.lstrip('/')
    bucket, key = (host.split('.')[0], path) if host.startswith(BUCKET) else tuple(path.split('/', 1))
    query = dict(parse_qsl(request.url.query.decode()))
    if request.method == 'PUT' and 'uploadId' in query:
        part = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=query['uploadId'],
            PartNumber=int(query['partNumber']),
            Body=request.content,
        )
        return httpx.Response(200, headers={'ETag': part['ETag']})
    if request.method == 'PUT':
        put = s3.put_object(Bucket=bucket, Key=key, Body=request.content)
        return httpx.Response(200, headers={'ETag': put['ETag']})
    if request.method == 'GET':
        found = s3.get_object(Bucket=bucket, Key=key)
        return httpx.Response(200, content=found['Body'].read())
    return httpx.Response(405)


@dataclass
class Cli:
    runner: CliRunner
    data: DataApi
    events: Any
    config: Path
    on_poll: list[Callable[[], None]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # the API key of each client made

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        return self.runner.invoke(app, list(args), input=input, env=env or None, catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self(*args, '--json')
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == UNREACHABLE:
            raise httpx.ConnectError('Connection refused', request=request)
        if request.url.host != 'jobs.test':
            return storage(request, self.data.s3)
        if request.headers.get('authorization') == f'Bearer {BAD_KEY}':
            body = {'errors': [{'key': 'authorization', 'message': 'A valid API key is required'}]}
            return httpx.Response(401, json=body)
        if request.method == 'GET' and request.url.path in POLLED and self.on_poll:
            self.on_poll.pop(0)()
        return forward(request)

    def event(self, topic: str, job: dict[str, Any]) -> None:
        """The event the platform would store for this change of `job`."""
        stored = envelope(
            topic,
            job=f'{job["type"]}:{job["operation"]}',
            job_id=job['id'],
            event_id=f'us_evt_cli{len(self.requests):06d}{job["version"]:04d}',
            created_at=datetime.now(UTC),
            status=job['status'],
            progress=job.get('progress', 0),
        )
        self.events.put(Event.model_validate(stored))

    def act(self, method: str, path: str, body: Any = None, topic: str = 'job:updated') -> Callable[[], None]:
        """An action for on_poll: call the API as a worker would, and store the event it causes."""

        def action() -> None:
            with contextlib.redirect_stdout(io.StringIO()):  # it runs while the command's output is captured
                reply = self.data.call(method, path, body)
            assert reply.status < 300, reply.body
            self.event(topic, reply.data)

        return action


@pytest.fixture(name='cli')
def cli_fixture(data_api, events_table, monkeypatch, tmp_path) -> Iterator[Cli]:
    config = tmp_path / 'config' / 'config.toml'
    for name in ('JOBS_API_URL', 'JOBS_API_KEY', 'JOBS_PROFILE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('JOBS_CONFIG', str(config))
    monkeypatch.setenv('JOBS_API_URL', API_URL)
    monkeypatch.setenv('JOBS_API_KEY', 'sk_test')
    monkeypatch.setenv('COLUMNS', '160')
    cli = Cli(runner=CliRunner(), data=data_api, events=events_table, config=config)

    def client(base_url: str, api_key: str) -> JobsClient:
        cli.keys.append(api_key)
        return JobsClient(base_url, api_key, transport=httpx.MockTransport(cli.handle), sleep=lambda _: None)

    monkeypatch.setattr(jobs_cli.connection, 'JobsClient', client)
    yield cli
