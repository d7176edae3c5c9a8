"""The local stack builds template.yaml's resources in moto (in process here) and resolves every reference to them."""

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobs_local.provision import LocalResources, Provisioner
from jobs_local.stack import function_environment
from jobs_local.template import functions, resources

SERVICES = ('dynamodb', 'sqs', 'events', 'iam', 'lambda', 'stepfunctions', 's3')


@pytest.fixture(scope='module')
def provisioned() -> Any:
    with mock_aws():
        clients = {service: boto3.client(service) for service in SERVICES}
        local = Provisioner(clients, LocalResources('jobs-local', 'us-east-1', '123456789012')).provision()
        yield local, clients


def test_every_function_environment_resolves_against_local_resources(provisioned):
    local, _ = provisioned
    environment = function_environment(local)
    for spec in functions().values():
        assert set(spec.environment) <= set(environment)
    # the resources the functions name exist under those names
    assert environment['EVENT_BUS_NAME'] == 'jobs-local-jobs'
    assert environment['SCHEDULER_TARGET_ARN'] == local.attributes['GatesQueue']['Arn']
    assert environment['SCHEDULER_ROLE_ARN'].startswith('arn:aws:iam::123456789012:role/')


def test_every_template_queue_exists_with_its_redrive_policy(provisioned):
    local, clients = provisioned
    for logical_id, spec in resources('AWS::SQS::Queue').items():
        url = local.refs[logical_id]
        attributes = clients['sqs'].get_queue_attributes(QueueUrl=url, AttributeNames=['All'])['Attributes']
        expected = spec['Properties'].get('RedrivePolicy')
        if expected:
            policy = json.loads(attributes['RedrivePolicy'])
            dead_letter = expected['deadLetterTargetArn']['Fn::GetAtt'][0]
            assert policy['deadLetterTargetArn'] == local.attributes[dead_letter]['Arn']
            assert int(policy['maxReceiveCount']) == expected['maxReceiveCount']
        if 'VisibilityTimeout' in spec['Properties']:
            assert attributes['VisibilityTimeout'] == str(spec['Properties']['VisibilityTimeout'])


def test_every_template_rule_is_on_the_bus_with_its_pattern_and_targets(provisioned):
    local, clients = provisioned
    for logical_id, spec in resources('AWS::Events::Rule').items():
        bus, name = local.refs[logical_id].split('|')
        rule = clients['events'].describe_rule(Name=name, EventBusName=bus)
        assert json.loads(rule['EventPattern']) == spec['Properties']['EventPattern']
        targets = clients['events'].list_targets_by_rule(Rule=name, EventBusName=bus)['Targets']
        queue = spec['Properties']['Targets'][0]['Arn']['Fn::GetAtt'][0]
        assert [target['Arn'] for target in targets] == [local.attributes[queue]['Arn']]


def test_an_event_on_the_bus_reaches_the_queues_whose_rules_match(provisioned):
    # GIVEN the provisioned bus, rules and queues
    local, clients = provisioned
    completed = {'payload': {'status': 'complete'}, 'topic': 'job:completed'}

    # WHEN the publisher's kind of event is put on the bus
    response = clients['events'].put_events(
        Entries=[
            {
                'Source': 'jobs',
                'DetailType': 'job:completed',
                'Detail': json.dumps(completed),
                'EventBusName': local.buses['JobsBus'],
            }
        ]
    )
    assert response['FailedEntryCount'] == 0

    # THEN the event store's queue and the gates' queue both have it
    for queue in ('EventStoreQueue', 'GatesQueue'):
        messages = clients['sqs'].receive_message(QueueUrl=local.refs[queue])['Messages']
        assert json.loads(messages[0]['Body'])['detail'] == completed


def test_what_is_not_emulated_is_said_in_one_line_each(provisioned):
    local, _ = provisioned
    notices = '\n'.join(local.notices)
    assert 'CloudWatch alarms are not evaluated locally' in notices
    assert 'SNS topics are not created locally' in notices
    assert 'SQS queue policies are not enforced locally' in notices
    assert 'IAM is not enforced locally' in notices
    assert all('\n' not in notice for notice in local.notices)


def test_state_machines_exist_with_their_substitutions_filled_in(provisioned):
    local, clients = provisioned
    for logical_id, spec in resources('AWS::Serverless::StateMachine').items():
        arn = local.refs[logical_id]
        definition = clients['stepfunctions'].describe_state_machine(stateMachineArn=arn)['definition']
        assert '${' not in definition
        for value in spec['Properties'].get('DefinitionSubstitutions', {}).values():
            assert local.resolve(value) in definition
