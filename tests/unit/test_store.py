"""The DynamoDB adapter: one conditional write per request, errors translated, tenancy in the keys."""

from typing import Any

import pytest
from botocore.stub import Stubber

from jobs_core.dynamo import dynamodb_client
from jobs_core.errors import ServiceUnavailable
from jobs_core.jobs import JobService
from jobs_core.models.job import JobCreate
from jobs_core.store import DynamoJobStore
from tests.builders import TENANT


@pytest.fixture
def calls(dynamodb) -> list[tuple[str, dict[str, Any]]]:
    """Every DynamoDB operation the API's client makes, with its parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        seen.append((model.name, params))

    dynamodb_client().meta.events.register('provide-client-params.dynamodb.*', record)
    return seen


@pytest.mark.parametrize(
    ('method', 'suffix', 'body'),
    [
        ('POST', '/execute', None),
        ('POST', '/ack', {'progress': 5}),
        ('POST', '/complete', {'outcome': {'message': 'ok'}}),
        ('POST', '/fail', None),
        ('POST', '/cancel', None),
        ('PATCH', '', {'progress': 3, 'info': 'x'}),
        ('GET', '', None),
        ('DELETE', '', None),
    ],
)
def test_one_dynamodb_call_per_request_and_no_read_before_a_write(api, create_job, calls, method, suffix, body):
    # GIVEN a ready job
    jid = create_job(status='ready')['id']
    calls.clear()
    # WHEN one request is made
    reply = api(method, f'/v1/jobs/{jid}{suffix}', body)
    # THEN it made exactly one call; a write carries its own condition
    assert reply.status == 200, reply.body
    assert len(calls) == 1, calls
    operation, params = calls[0]
    if method != 'GET':
        assert operation in {'UpdateItem', 'DeleteItem'}
        assert 'attribute_exists(pk)' in params['ConditionExpression']


def test_a_refused_transition_also_costs_one_call(api, create_job, calls):
    jid = create_job()['id']
    calls.clear()
    assert api('POST', f'/v1/jobs/{jid}/complete').status == 409
    assert [operation for operation, _ in calls] == ['UpdateItem']


def test_a_list_page_is_one_query_plus_the_count(api, create_job, calls):
    for _ in range(5):
        create_job(spaceId='us_sp_1')
    calls.clear()
    assert len(api('GET', '/v1/jobs', query={'spaceId': 'us_sp_1', 'pageSize': '2'}).data) == 2
    assert [(operation, params.get('Select')) for operation, params in calls] == [
        ('Query', None),
        ('Query', 'COUNT'),
    ]
    assert all(params['IndexName'] == 'bySpace' for _, params in calls)


def test_keys_are_scoped_by_environment(dynamodb):
    # GIVEN a job created through the service
    job = JobService(DynamoJobStore('jobs-test', dynamodb)).create(
        TENANT, JobCreate(type='workbook', operation='export', source='us_wb_1', spaceId='us_sp_1')
    )
    # THEN its table key and every index key carry the environment
    item = dynamodb.get_item(
        TableName='jobs-test', Key={'pk': {'S': f'JOB#{TENANT.environment_id}#{job.id}'}, 'sk': {'S': 'JOB'}}
    )['Item']
    for attribute in ('envKey', 'topKey', 'spaceKey', 'sourceKey', 'workbookKey', 'statusKey'):
        assert item[attribute]['S'].startswith(TENANT.environment_id), attribute
    assert item['entity'] == {'S': 'job'}


@pytest.mark.parametrize('code', ['ProvisionedThroughputExceededException', 'ThrottlingException'])
def test_throttling_is_503_with_retry_after(api, code):
    # GIVEN DynamoDB throttles after botocore's own retries
    client = dynamodb_client()
    with Stubber(client) as stubber:
        stubber.add_client_error('get_item', service_error_code=code, http_status_code=400)
        # WHEN a job is read
        reply = api('GET', '/v1/jobs/us_jb_any')
    # THEN the caller is told to come back, not given a 500
    assert reply.status == 503
    assert reply.headers['Retry-After'] == '1'
    assert reply.error_keys == ['service']


def test_an_unexpected_store_error_is_a_500_in_the_error_shape(api):
    with Stubber(dynamodb_client()) as stubber:
        stubber.add_client_error('get_item', service_error_code='AccessDeniedException', http_status_code=400)
        reply = api('GET', '/v1/jobs/us_jb_any')
    assert reply.status == 500
    assert reply.error_keys == ['server']


def test_service_unavailable_carries_retry_after():
    assert ServiceUnavailable('busy', retry_after=3).retry_after == 3
