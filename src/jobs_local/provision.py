"""Creates template.yaml's resources in moto under local names, as CloudFormation would, and records what
each `!Ref` and `!GetAtt` of them resolves to.

Created: DynamoDB tables (with streams and TTL), EventBridge buses, SQS queues (with their redrive
policies), IAM roles (with their inline policies), Lambda functions (a stub each: the stack runs the
real code in process, and moto hands it their invocations, such as a state machine's Lambda tasks),
Step Functions state machines (their definitions with DefinitionSubstitutions filled in) and
EventBridge rules with their targets. Resource types moto cannot make use of are skipped with a
one-line notice each, never silently; a reference to something the stack cannot resolve refuses to
start it.
"""

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jobs_local.asl import substitute
from jobs_local.errors import StackError
from jobs_local.patterns import PatternError, check
from jobs_local.template import TEMPLATE, create_tables, functions, load, resolve, resolve_tree

PARTITION: Final = 'aws'

# Not created locally: why, in one line (the logical ids are appended).
SKIPPED: Final = {
    'AWS::SNS::Topic': 'SNS topics are not created locally, so nothing is notified',
    'AWS::CloudWatch::Alarm': 'CloudWatch alarms are not evaluated locally',
    'AWS::SQS::QueuePolicy': 'SQS queue policies are not enforced locally',
    'AWS::S3::BucketPolicy': 'S3 bucket policies are not enforced locally',
}
# CloudFormation bucket properties the provisioner applies, and those moto keeps but does not act on.
_BUCKET_APPLIED: Final = frozenset(
    {
        'BucketName',
        'BucketEncryption',
        'CorsConfiguration',
        'OwnershipControls',
        'PublicAccessBlockConfiguration',
        'VersioningConfiguration',
        'Tags',
    }
)
_IN_PROCESS: Final = frozenset({'AWS::Serverless::Function', 'AWS::Serverless::Api', 'AWS::Serverless::LayerVersion'})
_STATE_MACHINE: Final = 'AWS::Serverless::StateMachine'
_LAMBDA_TRUST: Final = {
    'Version': '2012-10-17',
    'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'}, 'Action': 'sts:AssumeRole'}],
}
_QUEUE_ATTRIBUTES: Final = frozenset(
    {
        'ContentBasedDeduplication',
        'DeduplicationScope',
        'DelaySeconds',
        'FifoQueue',
        'FifoThroughputLimit',
        'KmsDataKeyReusePeriodSeconds',
        'KmsMasterKeyId',
        'MaximumMessageSize',
        'MessageRetentionPeriod',
        'ReceiveMessageWaitTimeSeconds',
        'RedriveAllowPolicy',
        'RedrivePolicy',
        'SqsManagedSseEnabled',
        'VisibilityTimeout',
    }
)
_RULE_TARGET_SERVICES: Final = frozenset({'sqs', 'events'})  # what moto's EventBridge delivers to


@dataclass
class LocalResources:
    """The template's resources as created locally: what every Ref and GetAtt resolves to."""

    stack_name: str
    region: str
    account_id: str
    path: Path = TEMPLATE
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue ARN → URL
    buses: dict[str, str] = field(default_factory=dict)  # logical id → bus name
    notices: list[str] = field(default_factory=list)

    def resolve(self, value: Any) -> str:
        return resolve(value, self.refs, self.path, self.attributes)

    def resolve_tree(self, value: Any) -> Any:
        return resolve_tree(value, self.refs, self.path, self.attributes)

    def queue_url(self, arn: str) -> str:
        if arn not in self.queue_urls:
            raise StackError(f'{arn} is not a queue of the local stack')
        return self.queue_urls[arn]

    def function_arn(self, logical_id: str) -> str:
        return self.attributes[logical_id]['Arn']

    def arn(self, service: str, resource: str) -> str:
        return f'arn:{PARTITION}:{service}:{self.region}:{self.account_id}:{resource}'


class Provisioner:
    """Creates the resources with moto clients; `provision` returns what they resolve to."""

    def __init__(self, clients: dict[str, Any], resources: LocalResources) -> None:
        self._clients = clients
        self.resources = resources
        self._template: dict[str, dict[str, Any]] = load(resources.path)['Resources']

    def _of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self._template.items() if spec['Type'] == kind}

    def _name(self, logical_id: str, given: Any = None) -> str:
        return self._resolve(logical_id, given) if given is not None else f'{self.resources.stack_name}-{logical_id}'

    def _resolve(self, logical_id: str, value: Any) -> Any:
        try:
            return self.resources.resolve_tree(value)
        except ValueError as error:
            raise StackError(f'{logical_id}: {error}') from None

    def provision(self) -> LocalResources:
        resources = self.resources
        resources.refs.update(
            {
                'AWS::StackName': resources.stack_name,
                'AWS::Region': resources.region,
                'AWS::AccountId': resources.account_id,
                'AWS::Partition': PARTITION,
                'AWS::URLSuffix': 'amazonaws.com',
            }
        )
        self._functions()
        self._tables()
        self._buckets()
        self._buses()
        self._queues()
        self._roles()
        self._lambda_functions()
        self._state_machines()
        self._rules()
        self._notice_skipped()
        return resources

    # ------------------------------------------------------------ in process
    def _functions(self) -> None:
        for logical_id in self._of('AWS::Serverless::Function'):
            name = f'{self.resources.stack_name}-{logical_id}'
            self.resources.refs[logical_id] = name
            self.resources.attributes[logical_id] = {'Arn': self.resources.arn('lambda', f'function:{name}')}
        for logical_id in self._of('AWS::Serverless::LayerVersion'):
            layer = self.resources.arn('lambda', f'layer:{self.resources.stack_name}-{logical_id}:1')
            self.resources.refs[logical_id] = layer
        for logical_id in self._of('AWS::Serverless::Api'):
            self.resources.refs[logical_id] = 'local'  # the local gateway's API id

    # ------------------------------------------------------------ data
    def _tables(self) -> None:
        client = self._clients['dynamodb']
        names = {
            logical_id: f'{self.resources.stack_name}-{logical_id}' for logical_id in self._of('AWS::DynamoDB::Table')
        }
        create_tables(client, names, self.resources.path)
        for logical_id, name in names.items():
            table = client.describe_table(TableName=name)['Table']
            self.resources.refs[logical_id] = name
            self.resources.attributes[logical_id] = {'Arn': table['TableArn']}
            if 'LatestStreamArn' in table:
                self.resources.attributes[logical_id]['StreamArn'] = table['LatestStreamArn']

    def _buckets(self) -> None:
        client = self._clients.get('s3')
        for logical_id, spec in self._of('AWS::S3::Bucket').items():
            properties = self._resolve(logical_id, spec.get('Properties', {}))
            name = properties.get('BucketName') or f'{self.resources.stack_name}-{logical_id}'.lower()
            if client is None:
                raise StackError(f'{logical_id}: the local stack has no S3 client')
            client.create_bucket(Bucket=name)
            _configure_bucket(client, name, properties)
            ignored = sorted(set(properties) - _BUCKET_APPLIED)
            if ignored:
                self.resources.notices.append(f'{logical_id}: {", ".join(ignored)} not applied locally')
            self.resources.refs[logical_id] = name
            self.resources.attributes[logical_id] = {
                'Arn': f'arn:{PARTITION}:s3:::{name}',
                'DomainName': f'{name}.s3.amazonaws.com',
                'RegionalDomainName': f'{name}.s3.{self.resources.region}.amazonaws.com',
            }

    # ------------------------------------------------------------ events
    def _buses(self) -> None:
        for logical_id, spec in self._of('AWS::Events::EventBus').items():
            name = self._name(logical_id, spec.get('Properties', {}).get('Name'))
            arn = self._clients['events'].create_event_bus(Name=name)['EventBusArn']
            self.resources.refs[logical_id] = name
            self.resources.attributes[logical_id] = {'Arn': arn, 'Name': name}
            self.resources.buses[logical_id] = name

    def _queues(self) -> None:
        """Queues in dependency order: a dead-letter queue before the queues that redrive to it."""
        waiting = dict(self._of('AWS::SQS::Queue'))
        while waiting:
            progress = False
            for logical_id, spec in list(waiting.items()):
                try:
                    properties = self.resources.resolve_tree(spec.get('Properties', {}))
                except ValueError:
                    continue  # refers to a queue not created yet
                self._queue(logical_id, properties)
                del waiting[logical_id]
                progress = True
            if not progress:
                logical_id, spec = next(iter(waiting.items()))
                self._resolve(logical_id, spec.get('Properties', {}))  # raises the reason
                raise StackError(f'Cannot create the queues {sorted(waiting)}')  # pragma: no cover - a cycle

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        name = properties.pop('QueueName', None) or self._name(logical_id)
        if properties.get('FifoQueue') and not name.endswith('.fifo'):
            name += '.fifo'
        tags = {tag['Key']: tag['Value'] for tag in properties.pop('Tags', [])}
        unknown = sorted(set(properties) - _QUEUE_ATTRIBUTES)
        if unknown:
            self.resources.notices.append(f'{logical_id}: {", ".join(unknown)} not applied locally')
        attributes = {key: _attribute(value) for key, value in properties.items() if key in _QUEUE_ATTRIBUTES}
        client = self._clients['sqs']
        url = client.create_queue(QueueName=name, Attributes=attributes, tags=tags)['QueueUrl']
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
        self.resources.refs[logical_id] = url
        self.resources.attributes[logical_id] = {'Arn': arn, 'QueueName': name, 'QueueUrl': url}
        self.resources.queue_urls[arn] = url

    def _roles(self) -> None:
        roles = self._of('AWS::IAM::Role')
        client = self._clients['iam']
        for logical_id, spec in roles.items():
            properties = self._resolve(logical_id, spec.get('Properties', {}))
            name = properties.get('RoleName') or self._name(logical_id)
            role = client.create_role(
                RoleName=name,
                Path=properties.get('Path', '/'),
                AssumeRolePolicyDocument=json.dumps(properties['AssumeRolePolicyDocument']),
            )['Role']
            for policy in properties.get('Policies', []):
                document = policy['PolicyDocument']
                if 'Version' not in document:
                    # IAM reads such a document as version 2008-10-17; moto refuses it outright.
                    self.resources.notices.append(
                        f'{logical_id} policy {policy["PolicyName"]} has no Version; created locally as 2012-10-17'
                    )
                    document = {'Version': '2012-10-17', **document}
                client.put_role_policy(
                    RoleName=name, PolicyName=policy['PolicyName'], PolicyDocument=json.dumps(document)
                )
            self.resources.refs[logical_id] = name
            self.resources.attributes[logical_id] = {'Arn': role['Arn'], 'RoleId': role['RoleId']}
        self.resources.notices.append(
            'IAM is not enforced locally: function Policies'
            + (f' and the roles {", ".join(sorted(roles))} (created, not checked)' if roles else '')
            + ' allow everything'
        )

    def _execution_role(self) -> str:
        """One role for every function and state machine locally (SAM makes one each; IAM is not enforced)."""
        name = f'{self.resources.stack_name}-execution'
        try:
            return str(self._clients['iam'].get_role(RoleName=name)['Role']['Arn'])
        except self._clients['iam'].exceptions.NoSuchEntityException:
            trust = json.dumps(_LAMBDA_TRUST)
            return str(self._clients['iam'].create_role(RoleName=name, AssumeRolePolicyDocument=trust)['Role']['Arn'])

    def _lambda_functions(self) -> None:
        specs = functions(self.resources.path)
        if not specs:
            return
        globals_function = load(self.resources.path).get('Globals', {}).get('Function', {})
        role = self._execution_role()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, 'w') as stub:
            stub.writestr('README', 'The local stack runs this function in process.')
        for logical_id, spec in specs.items():
            properties = self._template[logical_id]['Properties']
            runtime = self._resolve(
                logical_id, properties.get('Runtime', globals_function.get('Runtime', 'python3.12'))
            )
            self._clients['lambda'].create_function(
                FunctionName=self.resources.refs[logical_id],
                Runtime=runtime,
                Role=self._resolve(logical_id, properties['Role']) if 'Role' in properties else role,
                Handler=spec.handler,
                Code={'ZipFile': archive.getvalue()},
                Timeout=spec.timeout,
                MemorySize=spec.memory_size,
            )

    def _state_machines(self) -> None:
        for logical_id, spec in self._of(_STATE_MACHINE).items():
            properties = spec.get('Properties', {})
            values = {
                key: self._resolve(logical_id, value)
                for key, value in properties.get('DefinitionSubstitutions', {}).items()
            }
            if 'DefinitionUri' in properties:
                text = (self.resources.path.parent / str(properties['DefinitionUri'])).read_text()
            else:
                text = json.dumps(self._resolve(logical_id, properties['Definition']))
            try:
                definition = substitute(text, {key: str(value) for key, value in values.items()})
            except KeyError as error:
                raise StackError(f'{logical_id}: {error.args[0]}') from None
            name = self._name(logical_id, properties.get('Name'))
            role = self._resolve(logical_id, properties['Role']) if 'Role' in properties else self._execution_role()
            arn = self._clients['stepfunctions'].create_state_machine(
                name=name, definition=definition, roleArn=role, type=properties.get('Type', 'STANDARD')
            )['stateMachineArn']
            self.resources.refs[logical_id] = arn
            self.resources.attributes[logical_id] = {'Arn': arn, 'Name': name}
            for event_name, event in properties.get('Events', {}).items():
                self.resources.notices.append(
                    f'{logical_id} {event_name}: {event["Type"]} events are not emulated locally'
                )

    def _rules(self) -> None:
        for logical_id, spec in self._of('AWS::Events::Rule').items():
            properties = self._resolve(logical_id, spec.get('Properties', {}))
            name = properties.get('Name') or self._name(logical_id)
            bus = properties.get('EventBusName', 'default')
            arguments: dict[str, Any] = {'Name': name, 'EventBusName': bus, 'State': properties.get('State', 'ENABLED')}
            if 'Description' in properties:
                arguments['Description'] = properties['Description']
            if 'EventPattern' in properties:
                pattern = properties['EventPattern']
                pattern = json.loads(pattern) if isinstance(pattern, str) else pattern
                try:
                    check(pattern)
                except PatternError as error:
                    raise StackError(f'{logical_id}: EventPattern: {error}') from None
                arguments['EventPattern'] = json.dumps(pattern)
            if 'ScheduleExpression' in properties:
                self.resources.notices.append(f'{logical_id}: scheduled rules are not fired locally')
                arguments['ScheduleExpression'] = properties['ScheduleExpression']
            arn = self._clients['events'].put_rule(**arguments)['RuleArn']
            targets = [self._target(logical_id, target) for target in properties.get('Targets', [])]
            if targets:
                self._clients['events'].put_targets(Rule=name, EventBusName=bus, Targets=targets)
            self.resources.refs[logical_id] = name if bus == 'default' else f'{bus}|{name}'
            self.resources.attributes[logical_id] = {'Arn': arn}

    def _target(self, logical_id: str, target: dict[str, Any]) -> dict[str, Any]:
        service = str(target['Arn']).split(':')[2] if str(target['Arn']).count(':') >= 2 else ''
        if service not in _RULE_TARGET_SERVICES:
            raise StackError(
                f'{logical_id} target {target.get("Id")}: only SQS queue and event bus targets run locally, '
                f'not {target["Arn"]}'
            )
        if 'InputPath' in target:
            self.resources.notices.append(f'{logical_id} target {target["Id"]}: InputPath is ignored locally')
        return target

    def _notice_skipped(self) -> None:
        handled = {
            'AWS::DynamoDB::Table',
            'AWS::Events::EventBus',
            'AWS::SQS::Queue',
            'AWS::IAM::Role',
            'AWS::S3::Bucket',
        }
        handled |= {'AWS::Events::Rule', _STATE_MACHINE} | _IN_PROCESS
        by_type: dict[str, list[str]] = {}
        for logical_id, spec in self._template.items():
            if spec['Type'] not in handled:
                by_type.setdefault(spec['Type'], []).append(logical_id)
        for kind, logical_ids in sorted(by_type.items()):
            reason = SKIPPED.get(kind, f'{kind} is not emulated locally')
            self.resources.notices.append(f'{reason} ({", ".join(sorted(logical_ids))})')


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _configure_bucket(client: Any, name: str, properties: dict[str, Any]) -> None:
    """The bucket settings of the template, from CloudFormation's spelling to the S3 API's."""
    if 'VersioningConfiguration' in properties:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration=properties['VersioningConfiguration'])
    if 'BucketEncryption' in properties:
        rules = [
            {
                'ApplyServerSideEncryptionByDefault': rule['ServerSideEncryptionByDefault'],
                **({'BucketKeyEnabled': rule['BucketKeyEnabled']} if 'BucketKeyEnabled' in rule else {}),
            }
            for rule in properties['BucketEncryption']['ServerSideEncryptionConfiguration']
        ]
        client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={'Rules': rules})
    if 'PublicAccessBlockConfiguration' in properties:
        client.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties['PublicAccessBlockConfiguration']
        )
    if 'OwnershipControls' in properties:
        client.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties['OwnershipControls'])
    if 'CorsConfiguration' in properties:
        renamed = {'ExposedHeaders': 'ExposeHeaders', 'MaxAge': 'MaxAgeSeconds', 'Id': 'ID'}
        rules = [
            {renamed.get(key, key): value for key, value in rule.items()}
            for rule in properties['CorsConfiguration']['CorsRules']
        ]
        client.put_bucket_cors(Bucket=name, CORSConfiguration={'CORSRules': rules})
    if 'Tags' in properties:
        client.put_bucket_tagging(Bucket=name, Tagging={'TagSet': properties['Tags']})
