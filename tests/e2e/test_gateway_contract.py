"""The local API Gateway's contract, in process: the events it sends and how it answers for API Gateway.

The routes, authorizer settings and gateway responses are the template's; the functions are
recording fakes, so the exact events and the failure paths (deny, crash, malformed result) show.
"""

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from jobs_local.gateway import ApiGateway, HttpRequest, policy_allows
from jobs_local.template import api_routes, default_authorizer, gateway_responses

pytestmark = pytest.mark.xdist_group('localstack')

METHOD_ARN_PREFIX = 'arn:aws:execute-api:us-east-1:123456789012:local/live'
ALLOW_ALL = {
    'principalId': 'us_key_1',
    'policyDocument': {
        'Version': '2012-10-17',
        'Statement': [{'Action': 'execute-api:Invoke', 'Effect': 'Allow', 'Resource': [f'{METHOD_ARN_PREFIX}/*/*']}],
    },
    'context': {'accountId': 'us_acc_1', 'environmentId': 'us_env_1', 'actorId': 'us_key_1'},
}


@dataclass
class FakeFunction:
    result: Any = None
    error: Exception | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if self.error is not None:
            raise self.error
        return self.result


def ok(body: str = '{"data": []}') -> dict[str, Any]:
    return {'statusCode': 200, 'multiValueHeaders': {'Content-Type': ['application/json']}, 'body': body}


def gateway(api: FakeFunction, authorizer: FakeFunction, ttl: int | None = None) -> ApiGateway:
    spec = default_authorizer('JobsApi')
    assert spec is not None
    if ttl is not None:
        spec = type(spec)(spec.name, spec.function, spec.payload_type, spec.identity_headers, ttl)
    return ApiGateway(
        routes=api_routes(),
        functions={'ApiFunction': api, 'AuthorizerFunction': authorizer},  # type: ignore[dict-item]
        authorizer=spec,
        responses=gateway_responses('JobsApi'),
        stage='live',
    )


def request(method: str, target: str, body: bytes = b'', **headers: str) -> HttpRequest:
    pairs = [('Host', '127.0.0.1:3000'), ('User-Agent', 'test'), *headers.items()]
    return HttpRequest(method=method, target=target, headers=pairs, body=body, server_port=3000)


def errors_of(body: bytes) -> list[dict[str, str]]:
    return list(json.loads(body)['errors'])


def test_the_proxy_event_is_what_api_gateway_sends():
    # GIVEN an allowing authorizer
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)

    # WHEN a request with a repeated query parameter and a body arrives
    gateway(api, authorizer).handle(
        request('POST', '/v1/jobs/us_jb_1/ack?a=1&a=2&b=x%20y', b'{"progress": 5}', Authorization='Bearer sk_1')
    )

    # THEN the function gets a REST API proxy event, with the authorizer's context
    event = api.events[0]
    assert set(event) == {
        'resource',
        'path',
        'httpMethod',
        'headers',
        'multiValueHeaders',
        'queryStringParameters',
        'multiValueQueryStringParameters',
        'pathParameters',
        'stageVariables',
        'requestContext',
        'body',
        'isBase64Encoded',
    }
    assert event['resource'] == '/v1/{proxy+}'
    assert event['path'] == '/v1/jobs/us_jb_1/ack'
    assert event['httpMethod'] == 'POST'
    assert event['pathParameters'] == {'proxy': 'jobs/us_jb_1/ack'}
    assert event['queryStringParameters'] == {'a': '2', 'b': 'x y'}
    assert event['multiValueQueryStringParameters'] == {'a': ['1', '2'], 'b': ['x y']}
    assert event['headers']['Authorization'] == 'Bearer sk_1'
    assert event['multiValueHeaders']['Authorization'] == ['Bearer sk_1']
    assert event['headers']['X-Forwarded-For'] == '127.0.0.1'
    assert (event['body'], event['isBase64Encoded'], event['stageVariables']) == ('{"progress": 5}', False, None)
    context = event['requestContext']
    assert context['resourcePath'] == '/v1/{proxy+}'
    assert context['path'] == '/live/v1/jobs/us_jb_1/ack'
    assert (context['stage'], context['httpMethod'], context['accountId']) == ('live', 'POST', '123456789012')
    assert context['identity']['sourceIp'] == '127.0.0.1'
    assert context['identity']['userAgent'] == 'test'
    assert context['requestId']
    assert context['authorizer']['principalId'] == 'us_key_1'
    assert context['authorizer']['environmentId'] == 'us_env_1'


def test_the_authorizer_gets_a_request_event_with_the_method_arn():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    gateway(api, authorizer).handle(request('GET', '/v1/jobs?status=ready', Authorization='Bearer sk_1'))

    event = authorizer.events[0]
    assert event['type'] == 'REQUEST'
    assert event['methodArn'] == f'{METHOD_ARN_PREFIX}/GET/v1/jobs'
    assert event['headers']['Authorization'] == 'Bearer sk_1'
    assert event['queryStringParameters'] == {'status': 'ready'}
    assert event['resource'] == '/v1/{proxy+}'
    assert 'authorizer' not in event['requestContext']


def test_an_empty_request_has_null_body_and_query():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    gateway(api, authorizer).handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1'))
    event = api.events[0]
    assert (event['body'], event['queryStringParameters'], event['multiValueQueryStringParameters']) == (
        None,
        None,
        None,
    )


def test_explicit_open_routes_win_over_the_greedy_route_and_skip_the_authorizer():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    response = gateway(api, authorizer).handle(request('GET', '/v1/openapi.json'))
    assert response.status == 200
    assert authorizer.events == []
    assert api.events[0]['resource'] == '/v1/openapi.json'
    assert api.events[0]['pathParameters'] is None
    assert 'authorizer' not in api.events[0]['requestContext']


def test_the_allow_is_cached_per_key_for_reauthorize_every():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    local = gateway(api, authorizer)
    for target in ('/v1/jobs', '/v1/jobs/us_jb_1', '/v1/jobs'):
        assert local.handle(request('GET', target, Authorization='Bearer sk_1')).status == 200
    assert len(authorizer.events) == 1
    assert local.handle(request('GET', '/v1/jobs', Authorization='Bearer sk_2')).status == 200
    assert len(authorizer.events) == 2
    # the cached context still reaches every request
    assert all(event['requestContext']['authorizer']['environmentId'] == 'us_env_1' for event in api.events)


def test_no_cache_when_reauthorize_every_is_zero():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    local = gateway(api, authorizer, ttl=0)
    for _ in range(3):
        local.handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1'))
    assert len(authorizer.events) == 3


def test_missing_authorization_is_401_without_calling_the_authorizer():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    response = gateway(api, authorizer).handle(request('GET', '/v1/jobs'))
    assert response.status == 401
    assert errors_of(response.body)[0]['key'] == 'authorization'
    assert authorizer.events == [] and api.events == []


def test_unauthorized_from_the_authorizer_is_401():
    api, authorizer = FakeFunction(ok()), FakeFunction(error=Exception('Unauthorized'))
    response = gateway(api, authorizer).handle(request('GET', '/v1/jobs', Authorization='Bearer sk_x'))
    assert response.status == 401
    assert errors_of(response.body)[0]['key'] == 'authorization'
    assert api.events == []


def test_an_explicit_deny_is_403_access_denied():
    deny = json.loads(json.dumps(ALLOW_ALL))
    deny['policyDocument']['Statement'].append(
        {'Action': 'execute-api:Invoke', 'Effect': 'Deny', 'Resource': f'{METHOD_ARN_PREFIX}/DELETE/*'}
    )
    api, authorizer = FakeFunction(ok()), FakeFunction(deny)
    local = gateway(api, authorizer)
    assert local.handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1')).status == 200
    denied = local.handle(request('DELETE', '/v1/jobs/us_jb_1', Authorization='Bearer sk_1'))
    assert denied.status == 403
    assert errors_of(denied.body) == [{'key': 'authorization', 'message': 'This API key may not access this resource'}]
    assert len(api.events) == 1


def test_an_authorizer_crash_is_500_and_a_bad_policy_is_500():
    crashed = gateway(FakeFunction(ok()), FakeFunction(error=RuntimeError('boom')))
    assert crashed.handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1')).status == 500
    malformed = gateway(FakeFunction(ok()), FakeFunction({'principalId': 'x'}))
    response = malformed.handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1'))
    assert response.status == 500
    assert errors_of(response.body)[0]['key'] == 'server'


@pytest.mark.parametrize(
    'api',
    [
        FakeFunction(error=RuntimeError('handler crashed')),
        FakeFunction(result={'body': 'no status'}),
        FakeFunction(result='not a dict'),
        FakeFunction(result={'statusCode': 200, 'body': {'not': 'a string'}}),
    ],
    ids=['crash', 'no-status', 'not-a-dict', 'body-not-string'],
)
def test_a_crashed_or_malformed_function_is_502_in_the_error_shape(api):
    response = gateway(api, FakeFunction(ALLOW_ALL)).handle(request('GET', '/v1/jobs', Authorization='Bearer sk_1'))
    assert response.status == 502
    assert errors_of(response.body)[0]['key'] == 'server'
    assert ('Retry-After', '1') in response.headers


def test_a_body_over_ten_megabytes_is_413_before_any_function():
    api, authorizer = FakeFunction(ok()), FakeFunction(ALLOW_ALL)
    body = b'x' * (10 * 1024 * 1024 + 1)
    response = gateway(api, authorizer).handle(request('POST', '/v1/jobs', body, Authorization='Bearer sk_1'))
    assert response.status == 413
    assert errors_of(response.body) == [{'key': 'body', 'message': 'Request body is too large'}]
    assert api.events == [] and authorizer.events == []


def test_the_proxy_result_is_written_back_as_http():
    result = {
        'statusCode': 201,
        'headers': {'X-One': 'a', 'X-Both': 'single'},
        'multiValueHeaders': {'Set-Cookie': ['a=1', 'b=2'], 'X-Both': ['multi']},
        'body': base64.b64encode(b'\x00binary').decode(),
        'isBase64Encoded': True,
    }
    response = gateway(FakeFunction(result), FakeFunction(ALLOW_ALL)).handle(
        request('GET', '/v1/jobs', Authorization='Bearer sk_1')
    )
    assert response.status == 201
    assert response.body == b'\x00binary'
    assert ('Set-Cookie', 'a=1') in response.headers and ('Set-Cookie', 'b=2') in response.headers
    assert ('X-One', 'a') in response.headers
    assert [value for name, value in response.headers if name == 'X-Both'] == ['multi']
    assert ('Content-Type', 'application/json') in response.headers  # API Gateway's default


def test_policy_evaluation():
    arn = f'{METHOD_ARN_PREFIX}/GET/v1/jobs'
    statement = {'Action': 'execute-api:Invoke', 'Effect': 'Allow', 'Resource': f'{METHOD_ARN_PREFIX}/GET/*'}
    assert policy_allows({'Statement': [statement]}, arn)
    assert not policy_allows({'Statement': [statement]}, f'{METHOD_ARN_PREFIX}/POST/v1/jobs')
    assert not policy_allows({'Statement': []}, arn)
    deny = {**statement, 'Effect': 'Deny'}
    assert not policy_allows({'Statement': [statement, deny]}, arn)
