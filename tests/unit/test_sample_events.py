"""The sample events in events/ are accepted by the real handlers and answer as documented."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from jobs_local.functions import handler_of, load_entry
from tests.builders import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / 'events'
SAMPLE_JOB_ID = 'us_jb_example00001'
SAMPLE_KEY = 'sk_replace_with_a_key_from_jobs_keys_create'
COVERED = {
    'api-create-job.json',
    'api-get-job.json',
    'api-list-jobs.json',
    'api-complete-job.json',
    'authorizer-request.json',
}


@pytest.fixture
def api_handler(dynamodb):
    """The real ApiFunction handler, its job service built afresh against this test's moto."""
    routes = load_entry('ApiFunction').job_routes
    routes.service.cache_clear()
    yield handler_of('ApiFunction')
    routes.service.cache_clear()


@pytest.fixture
def authorizer_handler(dynamodb):
    """The real AuthorizerFunction handler, its key store built afresh against this test's moto."""
    module = load_entry('AuthorizerFunction')
    module.key_store.cache_clear()
    yield handler_of('AuthorizerFunction')
    module.key_store.cache_clear()


def sample(name: str, **replace: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def call_api(handler, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, LambdaContext())
    return int(response['statusCode']), json.loads(response['body'])


def create_sample_job(handler) -> dict[str, Any]:
    status, body = call_api(handler, sample('api-create-job.json'))
    assert status == 201, body
    return body['data']


def test_every_sample_event_is_covered_here():
    # GIVEN the sample events shipped for sam local invoke
    shipped = {path.name for path in EVENTS.glob('*.json')}

    # THEN each one is exercised by a test below, so none can drift from the handlers
    assert shipped == COVERED


def test_create_sample_makes_a_ready_job_in_the_sample_environment(api_handler):
    # WHEN the create sample is invoked
    job = create_sample_job(api_handler)

    # THEN it is an immediate export, ready, owned by the environment of the sample's authorizer context
    context = sample('api-create-job.json')['requestContext']['authorizer']
    assert job['status'] == 'ready'
    assert job['environmentId'] == context['environmentId']
    assert job['createdBy'] == context['actorId']
    assert (job['type'], job['operation'], job['source']) == ('workbook', 'export', 'us_wb_example00001')


def test_get_sample_returns_the_job(api_handler):
    # GIVEN a job made by the create sample
    job = create_sample_job(api_handler)

    # WHEN the get sample asks for it
    status, body = call_api(api_handler, sample('api-get-job.json', **{SAMPLE_JOB_ID: job['id']}))

    # THEN it is found as created
    assert status == 200
    assert body['data'] == job


def test_get_sample_as_shipped_is_a_404_not_an_error(api_handler):
    # WHEN the get sample names a job that does not exist
    status, body = call_api(api_handler, sample('api-get-job.json'))

    # THEN the answer is a clean 404 in the API's error shape
    assert status == 404
    assert body['errors'][0]['key'] == 'jobId'


def test_list_sample_lists_ready_jobs(api_handler):
    # GIVEN a ready job made by the create sample
    job = create_sample_job(api_handler)

    # WHEN the list sample (status=ready, pageSize=10) is invoked
    status, body = call_api(api_handler, sample('api-list-jobs.json'))

    # THEN the page holds that job, with the pagination envelope
    assert status == 200
    assert [listed['id'] for listed in body['data']] == [job['id']]
    assert body['pagination']['totalCount'] == 1
    assert body['pagination']['currentPage'] == 1


def test_complete_sample_completes_the_job_with_its_outcome(api_handler):
    # GIVEN a ready job made by the create sample
    job = create_sample_job(api_handler)

    # WHEN the complete sample is invoked on it
    status, body = call_api(api_handler, sample('api-complete-job.json', **{SAMPLE_JOB_ID: job['id']}))

    # THEN the job is complete, at 100 %, with the sample's download outcome
    assert status == 200
    completed = body['data']
    assert completed['status'] == 'complete'
    assert completed['progress'] == 100
    assert completed['outcome']['next'] == {
        'type': 'download',
        'url': 'https://example.com/exports/workbook.csv',
        'fileName': 'workbook.csv',
        'label': 'Download',
    }


def test_authorizer_sample_with_an_issued_key_allows_the_keys_tenant(authorizer_handler):
    # GIVEN a key issued for an environment
    from jobs_core.keys import ApiKeyStore

    issued = ApiKeyStore(os.environ['TABLE_NAME']).issue('samples')

    # WHEN the authorizer sample carries that key
    policy = authorizer_handler(sample('authorizer-request.json', **{SAMPLE_KEY: issued.secret}), LambdaContext())

    # THEN the whole API is allowed, with the key's account, environment and actor as context
    assert policy['principalId'] == issued.key_id
    assert policy['context'] == {
        'accountId': issued.environment.account_id,
        'environmentId': issued.environment.id,
        'actorId': issued.key_id,
    }
    statements = policy['policyDocument']['Statement']
    assert [statement['Effect'] for statement in statements] == ['Allow']
    assert statements[0]['Action'] == 'execute-api:Invoke'
    assert all(
        resource.startswith('arn:aws:execute-api:us-east-1:123456789012:') for resource in statements[0]['Resource']
    )


def test_authorizer_sample_as_shipped_is_unauthorized(authorizer_handler):
    # WHEN the authorizer sample keeps its placeholder key
    # THEN the authorizer answers API Gateway's 401 contract
    with pytest.raises(Exception, match=r'^Unauthorized$'):
        authorizer_handler(sample('authorizer-request.json'), LambdaContext())
