"""The local API Gateway sends bodies of the template's binary media types base64-encoded, as API
Gateway does, so a file uploaded as multipart/form-data reaches the function byte for byte."""

import base64
from typing import Any

import pytest

from jobs_local.binary_media import binary_media_types, is_binary
from jobs_local.gateway import ApiGateway, HttpRequest
from jobs_local.template import api_routes, default_authorizer, gateway_responses

ALLOW = {
    'principalId': 'us_key_1',
    'policyDocument': {
        'Version': '2012-10-17',
        'Statement': [{'Action': 'execute-api:Invoke', 'Effect': 'Allow', 'Resource': ['*']}],
    },
    'context': {'accountId': 'us_acc_1', 'environmentId': 'us_env_1', 'actorId': 'us_key_1'},
}


class Recorder:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.result


def test_the_template_declares_multipart_form_data_binary():
    assert 'multipart/form-data' in binary_media_types()


@pytest.mark.parametrize(
    ('content_type', 'kinds', 'binary'),
    [
        ('multipart/form-data; boundary=x', ('multipart/form-data',), True),
        ('Multipart/Form-Data', ('multipart/form-data',), True),
        ('application/json', ('multipart/form-data',), False),
        ('image/png', ('image/*',), True),
        ('text/csv', ('*/*',), True),
        (None, ('*/*',), False),
        ('text/csv', (), False),
    ],
)
def test_content_types_match_as_api_gateway_matches_them(content_type, kinds, binary):
    assert is_binary(content_type, kinds) is binary


@pytest.mark.parametrize(
    ('content_type', 'encoded'), [('multipart/form-data; boundary=b', True), ('application/json', False)]
)
def test_binary_bodies_reach_the_function_base64_encoded(content_type, encoded):
    # GIVEN the local gateway with the template's routes and a recording API function
    api = Recorder({'statusCode': 201, 'body': '{}'})
    gateway = ApiGateway(
        routes=api_routes(),
        functions={'ApiFunction': api, 'AuthorizerFunction': Recorder(ALLOW)},  # type: ignore[dict-item]
        authorizer=default_authorizer('JobsApi'),
        responses=gateway_responses('JobsApi'),
        stage='live',
    )
    body = b'--b\r\n\xff\xfe\x00binary\r\n--b--\r\n' if encoded else b'{"name": "x"}'

    # WHEN a request with that body is sent
    headers = [('Host', '127.0.0.1'), ('Authorization', 'Bearer sk_x'), ('Content-Type', content_type)]
    gateway.handle(HttpRequest(method='POST', target='/v1/files', headers=headers, body=body))

    # THEN a binary type arrives base64-encoded (every byte kept), anything else as text
    [event] = api.events
    assert event['isBase64Encoded'] is encoded
    assert (base64.b64decode(event['body']) if encoded else event['body'].encode()) == body
