"""Reads template.yaml, the single source of infrastructure truth, for the tests and the local stack.

Only what local emulation needs is interpreted: DynamoDB tables, functions (code folder, handler,
environment, memory, timeout), their API, DynamoDB and SQS events, the API's authorizer and its
gateway responses. Intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`) are resolved against local
names; anything else is refused rather than guessed.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import yaml

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / 'template.yaml'


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that reads the short intrinsic forms (!Ref, !GetAtt, !Sub…) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = 'Ref' if suffix == 'Ref' else f'Fn::{suffix}'
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == 'GetAtt':
            value = str(value).split('.', 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CloudFormationLoader.add_multi_constructor('!', _intrinsic)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as stream:
        return cast('dict[str, Any]', yaml.load(stream, Loader=_CloudFormationLoader))  # noqa: S506 - SafeLoader subclass


def resources(kind: str, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in load(path)['Resources'].items() if spec['Type'] == kind}


@dataclass(frozen=True)
class ApiRoute:
    function: str
    path: str  # as in the template, e.g. /v1/{proxy+}
    method: str  # GET, POST…, or ANY
    authorized: bool

    def matches(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves the request, else None."""
        if self.method not in {'ANY', method.upper()}:
            return None
        pattern = re.sub(r'\\\{(\w+)\\\+\\\}', r'(?P<\1>.+)', re.escape(self.path))
        pattern = re.sub(r'\\\{(\w+)\\\}', r'(?P<\1>[^/]+)', pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_uri: Path
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    memory_size: int = 128  # Lambda's defaults when neither the function nor Globals set them
    timeout: int = 3
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # the SAM Events, by name


def functions(path: Path = TEMPLATE) -> dict[str, FunctionSpec]:
    template = load(path)
    globals_function = template.get('Globals', {}).get('Function', {})
    globals_env = globals_function.get('Environment', {}).get('Variables', {})
    specs = {}
    for name, spec in resources('AWS::Serverless::Function', path).items():
        properties = spec['Properties']
        environment = {**globals_env, **properties.get('Environment', {}).get('Variables', {})}
        specs[name] = FunctionSpec(
            name=name,
            code_uri=path.parent / properties['CodeUri'],
            handler=properties['Handler'],
            environment=environment,
            memory_size=int(properties.get('MemorySize', globals_function.get('MemorySize', 128))),
            timeout=int(properties.get('Timeout', globals_function.get('Timeout', 3))),
            events=dict(properties.get('Events', {})),
        )
    return specs


def parameter_defaults(path: Path = TEMPLATE) -> dict[str, Any]:
    """Each template parameter's Default (the value a deploy without overrides uses)."""
    return {name: spec['Default'] for name, spec in load(path).get('Parameters', {}).items() if 'Default' in spec}


Attributes = Mapping[str, Mapping[str, str]]


def resolve(value: Any, refs: Mapping[str, str], path: Path = TEMPLATE, attributes: Attributes | None = None) -> str:
    """A scalar property as a string: `Ref` to a resource from `refs` (logical id → local name; pseudo
    parameters such as AWS::Region are looked up there too), `Ref` to a parameter as its Default,
    `Fn::GetAtt` from `attributes` (logical id → attribute → value), `Fn::Sub` and `Fn::Join` of those.
    Anything the local stack cannot know raises ValueError, never a guess."""
    resolved = resolve_tree(value, refs, path, attributes)
    if isinstance(resolved, bool):
        return 'true' if resolved else 'false'
    if isinstance(resolved, str | int | float):
        return str(resolved)
    raise ValueError(f'Cannot resolve {value!r} to a scalar locally')


def resolve_tree(
    value: Any, refs: Mapping[str, str], path: Path = TEMPLATE, attributes: Attributes | None = None
) -> Any:
    """Any property value with every intrinsic in it resolved (see `resolve`); dicts and lists are copied."""
    attributes = attributes or {}
    if isinstance(value, list):
        return [resolve_tree(item, refs, path, attributes) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        if name in _INTRINSICS:
            return _INTRINSICS[name](argument, refs, path, attributes)
        if name.startswith('Fn::') or name == 'Condition':
            raise ValueError(f'{name} is not supported locally')
    return {key: resolve_tree(inner, refs, path, attributes) for key, inner in value.items()}


def _ref(name: str, refs: Mapping[str, str], path: Path, attributes: Attributes) -> Any:
    if name in refs:
        return refs[name]
    defaults = parameter_defaults(path)
    if name in defaults:
        return resolve_tree(defaults[name], refs, path, attributes)
    raise ValueError(f'!Ref {name}: not a local resource and not a parameter with a Default')


def _join(argument: Any, refs: Mapping[str, str], path: Path, attributes: Attributes) -> str:
    delimiter, parts = argument
    return str(delimiter).join(resolve(part, refs, path, attributes) for part in parts)


def _get_att(argument: Any, attributes: Attributes) -> str:
    logical_id, attribute = argument.split('.', 1) if isinstance(argument, str) else argument
    known = attributes.get(logical_id)
    if known is None:
        raise ValueError(f'!GetAtt {logical_id}.{attribute}: {logical_id} is not a local resource')
    if attribute not in known:
        raise ValueError(f'!GetAtt {logical_id}.{attribute}: the local stack does not know this attribute')
    return known[attribute]


_PLACEHOLDER = re.compile(r'\$\{([^}!][^}]*)\}')


def _sub(argument: Any, refs: Mapping[str, str], path: Path, attributes: Attributes) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument

    def substitute(found: re.Match[str]) -> str:
        name = found.group(1).strip()
        if name in variables:
            return resolve(variables[name], refs, path, attributes)
        if '.' in name and not name.startswith('AWS::'):
            return _get_att(name, attributes)
        return resolve({'Ref': name}, refs, path, attributes)

    # ${!Literal} is the escape for a literal ${Literal}.
    return _PLACEHOLDER.sub(substitute, str(text)).replace('${!', '${')


_INTRINSICS: Final[dict[str, Callable[[Any, Mapping[str, str], Path, Attributes], Any]]] = {
    'Ref': _ref,
    'Fn::GetAtt': lambda argument, refs, path, attributes: _get_att(argument, attributes),
    'Fn::Sub': _sub,
    'Fn::Join': _join,
}


@dataclass(frozen=True)
class AuthorizerSpec:
    """An API's default Lambda authorizer, as API Gateway runs it."""

    name: str
    function: str  # logical id of the authorizer function
    payload_type: str  # REQUEST or TOKEN
    identity_headers: tuple[str, ...]
    ttl_seconds: int  # ReauthorizeEvery: how long a result is cached per identity


def default_authorizer(api: str, path: Path = TEMPLATE) -> AuthorizerSpec | None:
    """The DefaultAuthorizer of the AWS::Serverless::Api `api`, or None when it has none."""
    auth = resources('AWS::Serverless::Api', path)[api]['Properties'].get('Auth', {})
    name = auth.get('DefaultAuthorizer')
    if not name:
        return None
    spec = auth['Authorizers'][name]
    arn = spec['FunctionArn']
    if not (isinstance(arn, dict) and 'Fn::GetAtt' in arn and arn['Fn::GetAtt'][1] == 'Arn'):
        raise ValueError(f'Authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn to run locally')
    identity = spec.get('Identity', {})
    return AuthorizerSpec(
        name=name,
        function=arn['Fn::GetAtt'][0],
        payload_type=spec.get('FunctionPayloadType', 'TOKEN'),
        identity_headers=tuple(identity.get('Headers', ['Authorization'])),
        ttl_seconds=int(resolve(identity.get('ReauthorizeEvery', 300), {}, path)),
    )


@dataclass(frozen=True)
class GatewayResponseSpec:
    """A customised API Gateway response: status (None keeps the type's default), template, static headers."""

    status: int | None
    template: str | None
    headers: dict[str, str] = field(default_factory=dict)


def gateway_responses(api: str, path: Path = TEMPLATE) -> dict[str, GatewayResponseSpec]:
    """The API's GatewayResponses by type (UNAUTHORIZED, DEFAULT_4XX…), application/json templates."""
    configured = resources('AWS::Serverless::Api', path)[api]['Properties'].get('GatewayResponses', {})
    responses = {}
    for kind, spec in configured.items():
        headers = {
            name: value[1:-1]  # static values are quoted: "'1'"; mappings from the request are not supported
            for name, value in spec.get('ResponseParameters', {}).get('Headers', {}).items()
            if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'"
        }
        status = spec.get('StatusCode')
        responses[kind] = GatewayResponseSpec(
            status=int(status) if status is not None else None,
            template=spec.get('ResponseTemplates', {}).get('application/json'),
            headers=headers,
        )
    return responses


def api_routes(path: Path = TEMPLATE) -> list[ApiRoute]:
    """Every Api event of every function; explicit paths before greedy {proxy+} ones, as API Gateway does."""
    template = load(path)
    apis = resources('AWS::Serverless::Api', path)
    routes = []
    for name, spec in resources('AWS::Serverless::Function', path).items():
        for event in spec['Properties'].get('Events', {}).values():
            if event['Type'] != 'Api':
                continue
            properties = event['Properties']
            api = apis.get(properties.get('RestApiId', {}).get('Ref', ''), {})
            has_default = bool(api.get('Properties', {}).get('Auth', {}).get('DefaultAuthorizer'))
            authorizer = properties.get('Auth', {}).get('Authorizer')
            routes.append(
                ApiRoute(
                    function=name,
                    path=properties['Path'],
                    method=properties['Method'].upper(),
                    authorized=authorizer != 'NONE' and (has_default or authorizer is not None),
                )
            )
    del template
    return sorted(routes, key=lambda route: ('+}' in route.path, -len(route.path)))


def table_definition(logical_id: str, table_name: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """CreateTable arguments for a table of the template, as CloudFormation would send them."""
    properties = resources('AWS::DynamoDB::Table', path)[logical_id]['Properties']
    definition: dict[str, Any] = {
        'TableName': table_name,
        'AttributeDefinitions': properties['AttributeDefinitions'],
        'KeySchema': properties['KeySchema'],
        'BillingMode': properties.get('BillingMode', 'PROVISIONED'),
    }
    for optional in ('GlobalSecondaryIndexes', 'LocalSecondaryIndexes', 'StreamSpecification'):
        if optional in properties:
            definition[optional] = properties[optional]
    if 'StreamSpecification' in definition:
        definition['StreamSpecification'] = {'StreamEnabled': True, **definition['StreamSpecification']}
    return definition


def create_tables(client: 'DynamoDBClient', names: dict[str, str], path: Path = TEMPLATE) -> None:
    """Create each template table under its local name ({logical id: name}), with its TTL."""
    for logical_id, table_name in names.items():
        client.create_table(**table_definition(logical_id, table_name, path))
        ttl = resources('AWS::DynamoDB::Table', path)[logical_id]['Properties'].get('TimeToLiveSpecification')
        if ttl:
            client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
