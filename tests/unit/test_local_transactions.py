"""The local stack's DynamoDB transactions: moto's own, rolled back item by item (see jobs_local.transactions)."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from jobs_local.transactions import install


@pytest.fixture
def table():
    install()
    with mock_aws():
        client = boto3.client('dynamodb')
        client.create_table(
            TableName='t',
            KeySchema=[{'AttributeName': 'pk', 'KeyType': 'HASH'}, {'AttributeName': 'sk', 'KeyType': 'RANGE'}],
            AttributeDefinitions=[
                {'AttributeName': 'pk', 'AttributeType': 'S'},
                {'AttributeName': 'sk', 'AttributeType': 'S'},
            ],
            BillingMode='PAY_PER_REQUEST',
            StreamSpecification={'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'},
        )
        client.put_item(TableName='t', Item={'pk': {'S': 'a'}, 'sk': {'S': '1'}, 'n': {'N': '1'}})
        yield client


def items(client) -> dict[str, str]:
    return {item['sk']['S']: item['n']['N'] for item in client.scan(TableName='t')['Items']}


def stream_records(client) -> list[str]:
    arn = client.describe_table(TableName='t')['Table']['LatestStreamArn']
    streams = boto3.client('dynamodbstreams')
    shard = streams.describe_stream(StreamArn=arn)['StreamDescription']['Shards'][0]['ShardId']
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType='TRIM_HORIZON')
    return [record['eventName'] for record in streams.get_records(ShardIterator=iterator['ShardIterator'])['Records']]


def test_a_transaction_applies_as_moto_applies_it(table):
    table.transact_write_items(
        TransactItems=[
            {'Put': {'TableName': 't', 'Item': {'pk': {'S': 'a'}, 'sk': {'S': '2'}, 'n': {'N': '2'}}}},
            {
                'Update': {
                    'TableName': 't',
                    'Key': {'pk': {'S': 'a'}, 'sk': {'S': '1'}},
                    'UpdateExpression': 'SET n = n + :one',
                    'ExpressionAttributeValues': {':one': {'N': '1'}},
                }
            },
        ]
    )
    assert items(table) == {'1': '2', '2': '2'}
    assert stream_records(table) == ['INSERT', 'INSERT', 'MODIFY']


def test_a_canceled_transaction_changes_nothing_and_leaves_no_stream_record(table):
    # GIVEN a transaction whose writes come before the condition that cancels it
    with pytest.raises(ClientError) as canceled:
        table.transact_write_items(
            TransactItems=[
                {'Put': {'TableName': 't', 'Item': {'pk': {'S': 'a'}, 'sk': {'S': '2'}, 'n': {'N': '2'}}}},
                {
                    'Update': {
                        'TableName': 't',
                        'Key': {'pk': {'S': 'a'}, 'sk': {'S': '1'}},
                        'UpdateExpression': 'SET n = n + :one',
                        'ExpressionAttributeValues': {':one': {'N': '1'}},
                    }
                },
                {'Delete': {'TableName': 't', 'Key': {'pk': {'S': 'b'}, 'sk': {'S': '9'}}}},
                {
                    'ConditionCheck': {
                        'TableName': 't',
                        'Key': {'pk': {'S': 'z'}, 'sk': {'S': 'z'}},
                        'ConditionExpression': 'attribute_exists(pk)',
                    }
                },
            ]
        )
    # THEN it is refused with its reasons, and the table and its stream are as they were
    assert canceled.value.response['Error']['Code'] == 'TransactionCanceledException'
    assert [reason['Code'] for reason in canceled.value.response['CancellationReasons']] == [
        'None',
        'None',
        'None',
        'ConditionalCheckFailed',
    ]
    assert items(table) == {'1': '1'}
    assert stream_records(table) == ['INSERT']
