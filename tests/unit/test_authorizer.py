"""The REQUEST authorizer: a key resolves to its tenant; anything else is API Gateway's 401."""

import pytest

from jobs_core.keys import ApiKeyStore, bearer_secret, hash_key
from tests.builders import LambdaContext, load_function

METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/live/GET/v1/jobs'


def request_event(authorization: str | None) -> dict:
    headers = {'Authorization': authorization} if authorization is not None else {}
    return {
        'type': 'REQUEST',
        'methodArn': METHOD_ARN,
        'resource': '/v1/{proxy+}',
        'path': '/v1/jobs',
        'httpMethod': 'GET',
        'headers': headers,
        'multiValueHeaders': {key: [value] for key, value in headers.items()},
        'queryStringParameters': {},
        'pathParameters': {'proxy': 'jobs'},
        'stageVariables': {},
        'requestContext': {'requestId': 'r1', 'stage': 'live', 'accountId': '123456789012', 'apiId': 'abcdef1234'},
    }


@pytest.fixture
def authorize(dynamodb):
    module = load_function('authorizer')
    module.key_store.cache_clear()
    yield lambda authorization: module.lambda_handler(request_event(authorization), LambdaContext())
    module.key_store.cache_clear()


def test_a_valid_key_allows_every_route_with_its_tenant(authorize, dynamodb):
    # GIVEN a key issued for an environment
    issued = ApiKeyStore('jobs-test', dynamodb).issue('staging')
    # WHEN a request carries it
    policy = authorize(f'Bearer {issued.secret}')
    # THEN the whole API is allowed (API Gateway caches the policy per key) and the tenant is in the context
    statement = policy['policyDocument']['Statement'][0]
    assert statement['Effect'] == 'Allow'
    assert statement['Resource'] == ['arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/live/*/*']
    assert policy['principalId'] == issued.key_id
    assert policy['context'] == {
        'accountId': issued.environment.account_id,
        'environmentId': issued.environment.id,
        'actorId': issued.key_id,
    }


def test_the_header_is_case_insensitive(authorize, dynamodb):
    issued = ApiKeyStore('jobs-test', dynamodb).issue('staging')
    event = request_event(None)
    event['headers'] = {'authorization': f'bearer {issued.secret}'}
    module = load_function('authorizer')
    assert module.lambda_handler(event, LambdaContext())['context']['actorId'] == issued.key_id


@pytest.mark.parametrize(
    'authorization', [None, '', 'Bearer', 'Bearer sk_unknown', 'Basic dXNlcjpwYXNz', 'sk_without_scheme']
)
def test_anything_but_a_known_key_is_unauthorized(authorize, authorization):
    with pytest.raises(Exception, match=r'^Unauthorized$'):
        authorize(authorization)


def test_keys_are_stored_only_hashed(dynamodb):
    issued = ApiKeyStore('jobs-test', dynamodb).issue('production')
    items = dynamodb.scan(TableName='jobs-test')['Items']
    assert issued.secret not in str(items)
    assert any(item['pk']['S'] == f'APIKEY#{hash_key(issued.secret)}' for item in items)


def test_one_environment_per_name_and_distinct_names_are_distinct(dynamodb):
    store = ApiKeyStore('jobs-test', dynamodb)
    first, second, other = store.issue('dev'), store.issue('dev'), store.issue('prod')
    assert first.environment == second.environment
    assert first.secret != second.secret
    assert other.environment.id != first.environment.id
    assert other.environment.account_id == first.environment.account_id


def test_a_fixed_secret_is_kept_for_the_local_stack(dynamodb):
    store = ApiKeyStore('jobs-test', dynamodb)
    issued = store.issue('development', secret='sk_local_dev_key')
    assert store.resolve('sk_local_dev_key').environment_id == issued.environment.id


@pytest.mark.parametrize('name', ['', 'Has Spaces', 'UPPER', 'x' * 64, '-leading'])
def test_bad_environment_names_are_refused(dynamodb, name):
    from jobs_core.errors import BadRequest

    with pytest.raises(BadRequest):
        ApiKeyStore('jobs-test', dynamodb).issue(name)


@pytest.mark.parametrize(
    ('header', 'secret'),
    [('Bearer sk_abc', 'sk_abc'), ('  bearer   sk_abc  ', 'sk_abc'), ('Bearer abc', None), (None, None)],
)
def test_bearer_secret(header, secret):
    assert bearer_secret(header) == secret
