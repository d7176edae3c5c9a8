"""template.yaml holds what the data plane's code relies on: its table and indexes, the files bucket,
binary uploads, the environment and permissions of the functions that use them, and the rule that
runs its system jobs."""

from typing import Any

import pytest

from jobs_core.data_jobs import DATA_OPERATIONS
from jobs_core.system.operations import SYSTEM_OPERATIONS
from jobs_local.template import functions, load, resources


def resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement['Resource']
    return resource if isinstance(resource, list) else [resource]


def properties(logical_id: str) -> dict[str, Any]:
    return dict(load()['Resources'][logical_id]['Properties'])


@pytest.mark.parametrize(
    ('index', 'partition', 'sort'),
    [('byEnvironment', 'envKey', 'listSk'), ('byParent', 'parentKey', 'listSk'), ('byErrors', 'errorKey', 'sk')],
)
def test_the_data_table_has_the_indexes_the_stores_query(index, partition, sort):
    table = properties('DataTable')
    indexes = {spec['IndexName']: spec for spec in table['GlobalSecondaryIndexes']}
    defined = {spec['AttributeName']: spec['AttributeType'] for spec in table['AttributeDefinitions']}
    keys = {key['KeyType']: key['AttributeName'] for key in indexes[index]['KeySchema']}
    assert keys == {'HASH': partition, 'RANGE': sort}
    assert indexes[index]['Projection']['ProjectionType'] == 'ALL'
    assert defined[partition] == defined[sort] == 'S'


def test_the_data_table_is_protected_and_has_no_stream():
    # Records writes would flood a stream; commits go to the jobs table's stream instead.
    table = properties('DataTable')
    assert 'StreamSpecification' not in table
    assert table['BillingMode'] == 'PAY_PER_REQUEST'
    assert table['PointInTimeRecoverySpecification']['PointInTimeRecoveryEnabled'] is True
    assert table['SSESpecification']['SSEEnabled'] is True
    assert table['DeletionProtectionEnabled'] is True


def test_the_files_bucket_is_private_encrypted_and_cleaned_up():
    bucket = properties('FilesBucket')
    assert all(bucket['PublicAccessBlockConfiguration'].values())
    assert bucket['BucketEncryption']['ServerSideEncryptionConfiguration'][0]['ServerSideEncryptionByDefault']
    rules = {rule['Id']: rule for rule in bucket['LifecycleConfiguration']['Rules']}
    assert rules['abandoned-uploads']['AbortIncompleteMultipartUpload']['DaysAfterInitiation'] >= 1
    assert 'ETag' in bucket['CorsConfiguration']['CorsRules'][0]['ExposedHeaders']  # multipart uploads need it
    policy = properties('FilesBucketPolicy')['PolicyDocument']['Statement'][0]
    assert (policy['Effect'], policy['Condition']) == ('Deny', {'Bool': {'aws:SecureTransport': False}})


def test_direct_uploads_reach_the_function_as_binary():
    assert 'multipart~1form-data' in properties('JobsApi')['BinaryMediaTypes']


@pytest.mark.parametrize('function', ['ApiFunction', 'WorkerFunction'])
def test_the_functions_using_the_data_plane_know_where_it_is_and_may_use_it(function):
    environment = functions()[function].environment
    assert environment['DATA_TABLE_NAME'] == {'Ref': 'DataTable'}
    assert environment['FILES_BUCKET_NAME'] == {'Ref': 'FilesBucket'}
    statements = [statement for policy in properties(function)['Policies'] for statement in policy.get('Statement', [])]
    tables = [statement for statement in statements if {'Fn::GetAtt': ['DataTable', 'Arn']} in resources_of(statement)]
    assert tables and {'dynamodb:BatchWriteItem', 'dynamodb:Query'} <= set(tables[0]['Action'])
    objects = [statement for statement in statements if statement['Resource'] == {'Fn::Sub': '${FilesBucket.Arn}/*'}]
    assert objects and {'s3:GetObject', 's3:DeleteObject'} <= set(objects[0]['Action'])


def test_the_system_jobs_rule_runs_the_data_planes_jobs():
    listed = set(properties('SystemJobsRule')['EventPattern']['detail']['payload']['job'])
    assert listed >= DATA_OPERATIONS
    assert DATA_OPERATIONS <= SYSTEM_OPERATIONS


def test_every_s3_bucket_is_in_the_template_once():
    assert list(resources('AWS::S3::Bucket')) == ['FilesBucket']
