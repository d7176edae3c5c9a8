"""Shared test builders: API Gateway events, Lambda contexts, and loading a function's entry module."""

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from jobs_core.models.tenant import Tenant
from jobs_local.functions import load_entry

ROOT = Path(__file__).resolve().parents[1]
TENANT = Tenant(account_id='us_acc_test0000001', environment_id='us_env_test0000001', actor_id='us_key_test0000001')
OTHER_TENANT = Tenant(
    account_id='us_acc_test0000002', environment_id='us_env_test0000002', actor_id='us_key_test0000002'
)


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py, imported the way the local stack imports it (see jobs_local.functions)."""
    return load_entry(f'{name.capitalize()}Function')


@dataclass
class LambdaContext:
    function_name: str = 'test'
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = 'arn:aws:lambda:us-east-1:123456789012:function:test'
    aws_request_id: str = 'req-1'

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def api_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    query: dict[str, str] | None = None,
    tenant: Tenant | None = TENANT,
    raw_body: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A REST API (v1) proxy event as API Gateway sends it after the authorizer allowed the call."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    authorizer = (
        {
            'principalId': tenant.actor_id,
            'accountId': tenant.account_id,
            'environmentId': tenant.environment_id,
            'actorId': tenant.actor_id,
        }
        if tenant
        else None
    )
    headers = {'Content-Type': 'application/json', 'Authorization': 'Bearer sk_test'}
    return {
        'resource': '/v1/{proxy+}',
        'path': path,
        'httpMethod': method,
        'headers': headers,
        'multiValueHeaders': {key: [value] for key, value in headers.items()},
        'queryStringParameters': query,
        'multiValueQueryStringParameters': {key: [value] for key, value in query.items()} if query else None,
        'pathParameters': {'proxy': path.removeprefix('/v1/')},
        'stageVariables': None,
        'requestContext': {
            'resourcePath': '/v1/{proxy+}',
            'httpMethod': method,
            'path': f'/live{path}',
            'stage': 'live',
            'requestId': str(uuid.uuid4()),
            'accountId': '123456789012',
            'apiId': 'local',
            'identity': {'sourceIp': '127.0.0.1'},
            'authorizer': authorizer,
        },
        'body': text,
        'isBase64Encoded': base64_body,
    }
