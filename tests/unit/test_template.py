"""template.yaml and the state machine definitions it loads: what `sam validate` and cfn-lint cannot see.

Run by `make validate`, after cfn-lint and `sam validate`.
"""

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from jobs_core import store
from jobs_local import asl
from jobs_local.template import ROOT, functions, load, resources

STATE_MACHINE_FILES = sorted((ROOT / 'statemachines').glob('*.asl.json'))
# The indexes the store queries when no filter picks one of INDEXES.
UNFILTERED_INDEXES = (('byEnvironment', 'envKey'), ('byTopLevel', 'topKey'))


def jobs_table() -> dict[str, Any]:
    return resources('AWS::DynamoDB::Table')['JobsTable']['Properties']


# ---------------------------------------------------------------- state machine definitions
# One test over every file (rather than one per file) so it runs, and counts, while there are none.
def test_every_state_machine_definition_is_sound():
    problems = {}
    for path in STATE_MACHINE_FILES:
        # GIVEN the substitutions of every template state machine that loads this file
        machines = [machine for machine in asl.state_machines() if machine.definition == path.resolve()]
        provided = frozenset().union(*(machine.substitutions for machine in machines))
        # WHEN the definition is checked
        if found := asl.check_file(path, provided):
            problems[path.name] = found
    # THEN each parses, every transition resolves in its scope, and every placeholder is provided
    assert problems == {}


def test_every_state_machine_definition_is_used_by_the_template():
    # THEN some AWS::Serverless::StateMachine has DefinitionUri pointing at each file
    used = {machine.definition for machine in asl.state_machines()}
    unused = [path.name for path in STATE_MACHINE_FILES if path.resolve() not in used]
    assert unused == [], f'not the DefinitionUri of any state machine: {unused}'


def test_every_definition_uri_exists():
    # THEN no state machine points at a missing file
    missing = [machine.logical_id for machine in asl.state_machines() if not machine.definition.is_file()]
    assert missing == []


def test_every_state_machine_loads_its_definition_from_a_file():
    # THEN definitions live in statemachines/*.asl.json, where the checks above can see them
    inline = [
        name
        for name, spec in resources(asl.STATE_MACHINE).items()
        if not isinstance(spec['Properties'].get('DefinitionUri'), str)
    ]
    assert inline == []


# ---------------------------------------------------------------- the checker itself
def machine(states: dict[str, Any], start: str = 'Start') -> dict[str, Any]:
    return {'StartAt': start, 'States': states}


GOOD = machine(
    {
        'Start': {
            'Type': 'Task',
            'Resource': '${AckFunctionArn}',
            'Next': 'Route',
            'Catch': [{'ErrorEquals': ['States.ALL'], 'Next': 'Failed'}],
        },
        'Route': {
            'Type': 'Choice',
            'Choices': [{'Variable': '$.chunks', 'NumericGreaterThan': 0, 'Next': 'Chunks'}],
            'Default': 'Both',
        },
        'Chunks': {
            'Type': 'Map',
            'ItemsPath': '$.chunks',
            'ItemProcessor': machine(
                {
                    'Start chunk': {'Type': 'Pass', 'Next': 'Process chunk'},
                    'Process chunk': {'Type': 'Task', 'Resource': 'arn:aws:states:::lambda:invoke', 'End': True},
                },
                start='Start chunk',
            ),
            'Next': 'Both',
        },
        'Both': {
            'Type': 'Parallel',
            'Branches': [
                machine({'Left': {'Type': 'Pass', 'End': True}}, start='Left'),
                machine({'Right': {'Type': 'Wait', 'SecondsPath': '$.wait', 'End': True}}, start='Right'),
            ],
            'Next': 'Done',
        },
        'Done': {'Type': 'Succeed'},
        'Failed': {'Type': 'Fail', 'Error': 'JobFailed'},
    }
)


def test_checker_accepts_a_sound_definition():
    assert asl.check_definition(GOOD, {'AckFunctionArn'}) == []


def mutated(change) -> dict[str, Any]:
    definition = json.loads(json.dumps(GOOD))
    change(definition)
    return definition


@pytest.mark.parametrize(
    ('change', 'problem'),
    [
        pytest.param(
            lambda d: d['States']['Start'].update(Next='Nowhere'),
            "StateMachine.Start: Next 'Nowhere' is not a state of this scope",
            id='missing Next target',
        ),
        pytest.param(
            lambda d: d.update(StartAt='Begin'),
            "StateMachine: StartAt 'Begin' is not a state of this scope",
            id='dangling StartAt',
        ),
        pytest.param(
            lambda d: d['States']['Route'].update(Default='Gone'),
            "StateMachine.Route: Default 'Gone' is not a state of this scope",
            id='missing Default target',
        ),
        pytest.param(
            lambda d: d['States']['Route']['Choices'][0].update(Next='Gone'),
            "StateMachine.Route: Choices[0].Next 'Gone' is not a state of this scope",
            id='missing Choice target',
        ),
        pytest.param(
            lambda d: d['States']['Start']['Catch'][0].update(Next='Gone'),
            "StateMachine.Start: Catch[0].Next 'Gone' is not a state of this scope",
            id='missing Catch target',
        ),
        pytest.param(
            lambda d: d['States']['Chunks']['ItemProcessor']['States']['Start chunk'].update(Next='Done'),
            "StateMachine.Chunks.ItemProcessor.Start chunk: Next 'Done' is not a state of this scope",
            id='Map state leaving its ItemProcessor',
        ),
        pytest.param(
            lambda d: d['States']['Chunks']['ItemProcessor']['States']['Process chunk'].pop('End'),
            'StateMachine.Chunks.ItemProcessor.Process chunk: needs Next, or End: true',
            id='Map state that never ends',
        ),
        pytest.param(
            lambda d: d['States']['Chunks']['ItemProcessor'].update(StartAt='Nope'),
            "StateMachine.Chunks.ItemProcessor: StartAt 'Nope' is not a state of this scope",
            id='Map with a dangling StartAt',
        ),
        pytest.param(
            lambda d: d['States']['Both']['Branches'][1]['States']['Right'].update(Type='Sleep'),
            "StateMachine.Both.Branches[1].Right: unknown Type 'Sleep'",
            id='unknown Type in a Parallel branch',
        ),
        pytest.param(
            lambda d: d['States']['Chunks'].pop('ItemProcessor'),
            'StateMachine.Chunks: a Map state needs an ItemProcessor',
            id='Map without a processor',
        ),
        pytest.param(
            lambda d: d['States']['Both'].pop('Next'),
            'StateMachine.Both: needs Next, or End: true',
            id='non-terminal state without Next',
        ),
        pytest.param(
            lambda d: d['States']['Done'].update(Next='Failed'),
            'StateMachine.Done: a Succeed state takes neither Next nor End',
            id='Succeed with Next',
        ),
        pytest.param(
            lambda d: d['States'].update(Orphan={'Type': 'Pass', 'End': True}),
            'StateMachine.Orphan: is not reachable from StartAt',
            id='unreachable state',
        ),
        pytest.param(
            lambda d: d['States']['Start'].update(Resource='ack-function'),
            "StateMachine.Start: Resource must be an ARN or a ${Placeholder}, not 'ack-function'",
            id='Task Resource that is no ARN',
        ),
        pytest.param(
            lambda d: d['States']['Both']['Branches'][0]['States'].update(Done={'Type': 'Succeed'}),
            'StateMachine.Both.Branches[0].Done: the name is also used in StateMachine;'
            ' state names are unique per machine',
            id='state name used twice',
        ),
        pytest.param(
            lambda d: d['States']['Chunks']['ItemProcessor']['States']['Process chunk'].update(
                Resource='${ChunkFunctionArn}'
            ),
            'placeholder ${ChunkFunctionArn} is not in DefinitionSubstitutions',
            id='unknown placeholder',
        ),
        pytest.param(lambda d: d.pop('States'), 'StateMachine: has no States', id='no States'),
    ],
)
def test_checker_reports(change, problem: str):
    # GIVEN a sound definition with one mistake
    definition = mutated(change)

    # WHEN it is checked
    problems = asl.check_definition(definition, {'AckFunctionArn'})

    # THEN the mistake is reported, by where it is
    assert problem in problems


def test_checker_reports_a_file_that_is_not_json(tmp_path: Path):
    path = tmp_path / 'broken.asl.json'
    path.write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Resource": ${Arn}, "End": true}}}')
    assert [problem.split(':')[0] for problem in asl.check_file(path, {'Arn'})] == ['broken.asl.json is not valid JSON']


def test_checker_finds_state_machines_and_their_substitutions(tmp_path: Path):
    # GIVEN a template with one file-based and one inline state machine
    (tmp_path / 'statemachines').mkdir()
    (tmp_path / 'statemachines' / 'job.asl.json').write_text(json.dumps(GOOD))
    (tmp_path / 'template.yaml').write_text(
        'Resources:\n'
        '  JobMachine:\n'
        '    Type: AWS::Serverless::StateMachine\n'
        '    Properties:\n'
        '      DefinitionUri: statemachines/job.asl.json\n'
        '      DefinitionSubstitutions:\n'
        '        AckFunctionArn: !GetAtt AckFunction.Arn\n'
        '  InlineMachine:\n'
        '    Type: AWS::Serverless::StateMachine\n'
        '    Properties:\n'
        '      Definition: {StartAt: A, States: {A: {Type: Succeed}}}\n'
    )

    # WHEN the template is read
    found = asl.state_machines(tmp_path / 'template.yaml')

    # THEN the file-based machine is found with its substitution names, and its file checks clean
    assert found == [
        asl.StateMachineRef('JobMachine', tmp_path / 'statemachines' / 'job.asl.json', frozenset({'AckFunctionArn'}))
    ]
    assert asl.check_file(found[0].definition, found[0].substitutions) == []


def test_substitute_fills_placeholders_and_refuses_unknown_ones():
    text = json.dumps(GOOD)
    filled = json.loads(asl.substitute(text, {'AckFunctionArn': 'arn:aws:lambda:us-east-1:1:function:ack'}))
    assert filled['States']['Start']['Resource'] == 'arn:aws:lambda:us-east-1:1:function:ack'
    with pytest.raises(KeyError, match='AckFunctionArn'):
        asl.substitute(text, {})


# ---------------------------------------------------------------- the table
def test_table_streams_both_images_bills_on_demand_and_is_protected():
    properties = jobs_table()
    assert properties['StreamSpecification']['StreamViewType'] == 'NEW_AND_OLD_IMAGES'
    assert properties['BillingMode'] == 'PAY_PER_REQUEST'
    assert properties['PointInTimeRecoverySpecification']['PointInTimeRecoveryEnabled'] is True
    assert properties['TimeToLiveSpecification']['Enabled'] is True
    assert properties['TimeToLiveSpecification']['AttributeName']
    assert properties['DeletionProtectionEnabled'] is True


def store_index_names() -> set[str]:
    """Every index name (a string literal `by…`) in the store's source, so a new one cannot go unchecked."""
    tree = ast.parse(Path(store.__file__).read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r'by[A-Z]\w*', node.value)
    }


def test_store_indexes_are_all_known_here():
    # THEN the index names in store.py are exactly INDEXES plus the unfiltered ones checked below
    known = {name for _, name, _ in store.INDEXES} | {name for name, _ in UNFILTERED_INDEXES}
    assert store_index_names() == known


@pytest.mark.parametrize(
    ('index', 'partition'),
    [
        pytest.param(name, attribute, id=name)
        for name, attribute in [(name, attribute) for _, name, attribute in store.INDEXES] + list(UNFILTERED_INDEXES)
    ],
)
def test_every_index_the_store_queries_exists(index: str, partition: str):
    # GIVEN the table's indexes
    properties = jobs_table()
    indexes = {spec['IndexName']: spec for spec in properties['GlobalSecondaryIndexes']}
    defined = {spec['AttributeName']: spec['AttributeType'] for spec in properties['AttributeDefinitions']}

    # THEN the index the store queries is there, keyed as the store expects, projecting everything
    assert index in indexes
    keys = {key['KeyType']: key['AttributeName'] for key in indexes[index]['KeySchema']}
    assert keys == {'HASH': partition, 'RANGE': store.SORT_KEY}
    assert indexes[index]['Projection']['ProjectionType'] == 'ALL'
    assert defined[partition] == 'S'
    assert defined[store.SORT_KEY] == 'S'


# ---------------------------------------------------------------- functions
def test_globals_trace_and_configure_powertools():
    function_globals = load()['Globals']['Function']
    assert function_globals['Tracing'] == 'Active'
    variables = function_globals['Environment']['Variables']
    assert variables['POWERTOOLS_SERVICE_NAME']
    assert variables['POWERTOOLS_LOG_LEVEL']


def policy_statements(node: Any, where: str = '') -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere under `node`, with where it was found."""
    found = []
    if isinstance(node, dict):
        statements = node.get('Statement')
        if statements is not None:
            for position, statement in enumerate(statements if isinstance(statements, list) else [statements]):
                found.append((f'{where}.Statement[{position}]', statement))
        for key, value in node.items():
            if key != 'Statement':
                found.extend(policy_statements(value, f'{where}.{key}' if where else key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            found.extend(policy_statements(value, f'{where}[{position}]'))
    return found


def test_no_policy_allows_a_wildcard_action():
    # GIVEN every IAM statement in the template (function and state machine policies, roles, resource policies)
    statements = policy_statements(load()['Resources'])

    # THEN none allows an action with a wildcard, or allows everything but some actions
    wildcards = [
        (where, statement.get('Action', statement.get('NotAction')))
        for where, statement in statements
        if statement.get('Effect') == 'Allow'
        and (
            'NotAction' in statement
            or any('*' in action for action in _as_list(statement.get('Action')) if isinstance(action, str))
        )
    ]
    assert wildcards == []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_policy_walk_sees_function_policies():
    # The check above is not vacuous: the api function's statement is among those it reads.
    wheres = [where for where, _ in policy_statements(load()['Resources'])]
    assert any(where.startswith('ApiFunction.Properties.Policies') for where in wheres)


@pytest.mark.parametrize('name', sorted(functions()))
def test_function_code_has_its_handler(name: str):
    # GIVEN the function's CodeUri and Handler
    spec = functions()[name]
    module, _, handler = spec.handler.rpartition('.')
    source = spec.code_uri / f'{module.replace(".", "/")}.py'

    # THEN the folder holds the module, and the module defines the handler at top level
    assert spec.code_uri.is_dir(), f'{name}: CodeUri {spec.code_uri} is not a folder'
    assert source.is_file(), f'{name}: {source} does not exist'
    tree = ast.parse(source.read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)} | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert handler in defined, f'{name}: {source.name} defines no {handler}'


@pytest.mark.parametrize('name', sorted(resources('AWS::Serverless::LayerVersion')))
def test_layer_content_exists(name: str):
    content = ROOT / resources('AWS::Serverless::LayerVersion')[name]['Properties']['ContentUri']
    assert content.is_dir()
    assert (content / 'python').is_dir() or (content / 'requirements.txt').is_file()


def test_outputs_name_the_api_and_the_table():
    outputs = load()['Outputs']
    assert {'ApiUrl', 'TableName'} <= outputs.keys()
