import os

import pytest

# Fake credentials and a region before anything creates a client; tracing and metrics off.
os.environ.update(
    AWS_ACCESS_KEY_ID='testing',
    AWS_SECRET_ACCESS_KEY='testing',
    AWS_SESSION_TOKEN='testing',
    AWS_DEFAULT_REGION='us-east-1',
    TABLE_NAME='jobs-test',
    POWERTOOLS_SERVICE_NAME='jobs',
    POWERTOOLS_METRICS_NAMESPACE='Jobs',
    POWERTOOLS_TRACE_DISABLED='true',
    POWERTOOLS_DEV='false',
    # botocore 1.44 addresses DynamoDB Streams at <account>.streams-ddb.…, which moto does not route.
    AWS_ACCOUNT_ID_ENDPOINT_MODE='disabled',
)
os.environ.pop('AWS_ENDPOINT_URL', None)
os.environ.pop('AWS_PROFILE', None)


@pytest.fixture
def dynamodb():
    """A moto DynamoDB with the jobs table built from template.yaml."""
    import boto3
    from moto import mock_aws

    from jobs_core.dynamo import dynamodb_client
    from jobs_local.template import create_tables

    with mock_aws():
        dynamodb_client.cache_clear()
        client = boto3.client('dynamodb')
        create_tables(client, {'JobsTable': os.environ['TABLE_NAME']})
        yield client
        dynamodb_client.cache_clear()
