import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

# The X-Ray SDK opens its UDP emitter socket when the tracer is first created (tracing is off in
# tests, nothing is sent): create it before sockets are disabled.
import jobs_core.observability  # noqa: F401
from tests.builders import TENANT, LambdaContext, api_event, load_function


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    # Unit tests never reach the network: AWS is moto in process, everything else a fake.
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        return self.body['data']

    @property
    def error_keys(self) -> list[str]:
        return [error.get('key') for error in self.body['errors']]


Call = Callable[..., Reply]


@pytest.fixture
def api(dynamodb) -> Call:
    """Calls the real API handler with API Gateway events, against moto."""
    module = load_function('api')
    module.job_routes.service.cache_clear()
    module.event_routes.store.cache_clear()

    def call(method: str, path: str, body: Any = None, **options: Any) -> Reply:
        options.setdefault('tenant', TENANT)
        response = module.lambda_handler(api_event(method, path, body, **options), LambdaContext())
        text = response['body']
        parsed = json.loads(text) if text and text[:1] in '{[' else text
        headers = {
            **(response.get('headers') or {}),
            **{name: values[-1] for name, values in (response.get('multiValueHeaders') or {}).items()},
        }
        return Reply(int(response['statusCode']), parsed, headers)

    yield call
    module.job_routes.service.cache_clear()
    module.event_routes.store.cache_clear()


@pytest.fixture
def create_job(api: Call) -> Callable[..., dict[str, Any]]:
    def create(**fields: Any) -> dict[str, Any]:
        body = {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_source0001', **fields}
        tenant = body.pop('tenant', TENANT)
        reply = api('POST', '/v1/jobs', body, tenant=tenant)
        assert reply.status == 201, reply.body
        return reply.data

    return create
