"""`jobs keys create` without --local: the table comes from the CloudFormation stack's TableName output.

AWS here is a moto server in the test process, holding a CloudFormation stack whose table is the
template's own JobsTable resource; the CLI reaches it through AWS_ENDPOINT_URL like any endpoint.
"""

import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from jobs_core.keys import ApiKeyStore
from jobs_local.template import resources
from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.xdist_group('localstack')

STACK = 'jobs-e2e-keys'


@pytest.fixture(scope='module')
def aws() -> Iterator[dict[str, str]]:
    """A moto endpoint with a deployed-looking stack; yields the environment a CLI process needs."""
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    endpoint = f'http://127.0.0.1:{server.get_host_and_port()[1]}'
    template = {
        'Resources': {'JobsTable': resources('AWS::DynamoDB::Table')['JobsTable']},
        'Outputs': {'TableName': {'Value': {'Ref': 'JobsTable'}}},
    }
    boto3.client('cloudformation', endpoint_url=endpoint).create_stack(
        StackName=STACK, TemplateBody=json.dumps(template)
    )
    yield {
        'AWS_ENDPOINT_URL': endpoint,
        'AWS_ACCESS_KEY_ID': 'testing',
        'AWS_SECRET_ACCESS_KEY': 'testing',
        'AWS_DEFAULT_REGION': 'us-east-1',
    }
    server.stop()


def table_of(endpoint: str) -> str:
    outputs = boto3.client('cloudformation', endpoint_url=endpoint).describe_stacks(StackName=STACK)['Stacks'][0]
    return next(output['OutputValue'] for output in outputs['Outputs'] if output['OutputKey'] == 'TableName')


def test_creates_a_key_in_the_stacks_table(aws):
    # WHEN a key is created against the stack named on the command line
    result = run_cli('keys', 'create', '--environment', 'staging', '--stack-name', STACK, '--json', **aws)

    # THEN the key resolves, in the stack's table, to the environment it printed
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data['environment'] == 'staging'
    client = boto3.client('dynamodb', endpoint_url=aws['AWS_ENDPOINT_URL'])
    tenant = ApiKeyStore(table_of(aws['AWS_ENDPOINT_URL']), client=client).resolve(data['key'])
    assert tenant is not None
    assert tenant.environment_id == data['environmentId']


def test_the_stack_name_comes_from_aws_sam_stack_name(aws):
    result = run_cli('keys', 'create', '-e', 'staging', **aws, AWS_SAM_STACK_NAME=STACK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith('sk_')


def test_an_unknown_stack_fails_in_one_line(aws):
    result = run_cli('keys', 'create', '-e', 'staging', '--stack-name', 'no-such-stack', **aws)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'no-such-stack' in result.stderr
    assert 'Traceback' not in result.stderr


def test_no_credentials_fail_in_one_line(aws, tmp_path):
    env = {
        'AWS_ENDPOINT_URL': aws['AWS_ENDPOINT_URL'],
        'AWS_DEFAULT_REGION': 'us-east-1',
        'AWS_SHARED_CREDENTIALS_FILE': str(tmp_path / 'none'),
        'AWS_CONFIG_FILE': str(tmp_path / 'none'),
        'AWS_EC2_METADATA_DISABLED': 'true',
    }
    no_keys = ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE')
    result = run_cli('keys', 'create', '-e', 'staging', '--stack-name', STACK, remove=no_keys, **env)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'credentials' in result.stderr.lower()
    assert 'Traceback' not in result.stderr


def test_a_bad_environment_name_fails_before_calling_aws(aws):
    result = run_cli('keys', 'create', '-e', 'UPPER case', '--stack-name', STACK, **aws)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
