"""sheet:ai-assist through the real state machine: categories written with their confidence, exact
counts, bad targets that fail with a reason and write nothing, a step run twice, cancel, and Bedrock
(stubbed) as the provider."""

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from jobs_core import bedrock
from jobs_core.bedrock import BedrockCategorizer
from jobs_core.categorize import LocalCategorizer
from jobs_core.data_jobs import data_plane
from jobs_core.errors import ServiceUnavailable
from jobs_core.records_store import RecordStore
from jobs_core.system import ai_assist
from jobs_core.system.ai_assist import AiAssist
from jobs_local.template import functions, parameter_defaults, resolve
from tests.builders import TENANT
from tests.unit import system_fixtures
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.system_fixtures import (
    all_records,
    dynamodb_fixture,  # noqa: F401 - fixture
    system_fixture,  # noqa: F401 - fixture
)

COMPANIES = {
    'name': 'Companies',
    'slug': 'companies',
    'fields': [
        {'key': 'name', 'type': 'string'},
        {'key': 'sector', 'type': 'string'},
        {
            'key': 'industry',
            'type': 'enum',
            'config': {
                'options': [
                    {'value': 'tech', 'label': 'Technology'},
                    {'value': 'health', 'label': 'Healthcare'},
                    {'value': 'finance', 'label': 'Financial Services'},
                ]
            },
        },
        {'key': 'size', 'type': 'enum', 'config': {'options': [{'value': 1, 'label': 'Small'}, {'value': 2}]}},
        {'key': 'employees', 'type': 'number'},
    ],
}
ROWS = [
    {'name': 'Acme', 'sector': 'technology'},
    {'name': 'Globex', 'sector': 'Health care'},
    {'name': 'Initech', 'sector': 'Technolgy'},
    {'name': 'Umbrella', 'sector': 'Agriculture'},
    {'name': 'Hooli', 'sector': 'TECHNOLOGY', 'industry': 'finance'},  # a valid value: kept
    {'name': 'Stark', 'sector': 'Financial services', 'industry': 'banking'},  # not an option: categorised
    {'name': 'Wayne'},  # nothing to categorise
]
MODEL = 'anthropic.claude-3-haiku-20240307-v1:0'


@pytest.fixture(name='sized')
def sized_fixture(system, monkeypatch):
    """The system fixture's catalog, with ai-assist in pages of the test's size and a categorizer the
    test may swap (the local one unless it does)."""
    chosen: dict[str, Any] = {'categorizer': LocalCategorizer()}
    catalog = system_fixtures.operations

    def operations() -> dict[str, Any]:
        def assist() -> AiAssist:
            wired = data_plane()
            return AiAssist(
                wired.records,
                wired.snapshots,
                wired.jobs,
                chosen['categorizer'],
                page_size=system.sizes.page_size,
                min_records=system.sizes.min_rows,
            )

        return {**catalog(), 'sheet:ai-assist': assist}

    monkeypatch.setattr(system_fixtures, 'operations', operations)
    return chosen


def companies(system, rows: list[dict[str, Any]]) -> dict[str, Any]:
    sheet = dict(system.data_api.workbook(sheets=[COMPANIES])['sheets'][0])
    reply = system.data_api.insert(sheet['id'], rows)
    assert reply.status == 201, reply.body
    return sheet


def assist(system, sheet_id: str, **config: Any) -> dict[str, Any]:
    job = system.create(type='sheet', operation='ai-assist', source=sheet_id, config=config)
    return system.run(job['id'])


def by_name(system, sheet_id: str) -> dict[str, dict[str, Any]]:
    return {record['values']['name']['value']: record for record in all_records(system.data_api, sheet_id)}


def industries(system, sheet_id: str) -> dict[str, Any]:
    return {
        name: record['values'].get('industry', {}).get('value') for name, record in by_name(system, sheet_id).items()
    }


def commit_counts(system) -> list[int]:
    return [
        int(item['count']['N'])
        for item in system.data_api.dynamodb.scan(TableName='jobs-test')['Items']
        if item['entity']['S'] == 'commit' and item['kind']['S'] == 'update' and 'jobId' in item
    ]


def test_values_are_categorised_into_the_enum_with_their_confidence(system, sized):
    # GIVEN companies whose free-text sector is to become an industry
    sheet = companies(system, ROWS)
    # WHEN ai-assist runs with the local provider
    done = assist(system, sheet['id'], sourceField='sector', targetField='industry')
    # THEN matching values got their option; a valid value was kept; what fits nothing was left empty
    assert done['status'] == 'complete', done
    assert industries(system, sheet['id']) == {
        'Acme': 'tech',
        'Globex': 'health',
        'Initech': 'tech',
        'Umbrella': None,
        'Hooli': 'finance',
        'Stark': 'finance',
        'Wayne': None,
    }
    assert done['outcome']['message'] == (
        'Categorised 4 records of sheet companies into industry (local); left 1 uncategorised'
    )
    # AND the confidence and the provider are in each categorised record's metadata
    records = by_name(system, sheet['id'])
    acme = records['Acme']['metadata']['aiAssist']['industry']
    assert acme == {'value': 'tech', 'confidence': 1.0, 'provider': 'local', 'jobId': done['id']}
    initech = records['Initech']['metadata']['aiAssist']['industry']
    assert 0.75 <= initech['confidence'] < 1.0
    assert 'aiAssist' not in records['Umbrella']['metadata']
    assert 'aiAssist' not in records['Hooli']['metadata']
    # AND the records are valid, counted, and the job's change is one commit
    assert records['Stark']['values']['industry']['valid'] is True
    assert system.data_api.counts(sheet['id']) == {'total': 7, 'valid': 7, 'error': 0}
    assert commit_counts(system) == [4]


def test_overwrite_recategorises_valid_values_and_keeps_other_metadata(system, sized):
    sheet = companies(system, ROWS)
    hooli = by_name(system, sheet['id'])['Hooli']
    update = [{'id': hooli['id'], 'values': {}, 'metadata': {'crm': 'sf-1'}}]
    assert system.data_api.call('PUT', f'/v1/sheets/{sheet["id"]}/records', update).status == 200
    done = assist(system, sheet['id'], sourceField='sector', targetField='industry', overwrite=True)
    assert done['outcome']['message'].startswith('Categorised 5 records')
    hooli = by_name(system, sheet['id'])['Hooli']
    assert hooli['values']['industry']['value'] == 'tech'
    assert hooli['metadata']['crm'] == 'sf-1'
    assert hooli['metadata']['aiAssist']['industry']['confidence'] == 1.0


def test_a_field_can_be_categorised_into_itself_and_numeric_options_keep_their_type(system, sized):
    # GIVEN an enum field holding text that is not an option (invalid), and options that are numbers
    rows = [{'name': 'A', 'size': 'Smal'}, {'name': 'B', 'size': 'huge'}, {'name': 'C', 'size': 2}]
    sheet = companies(system, rows)
    assert system.data_api.counts(sheet['id'])['error'] == 2
    done = assist(system, sheet['id'], sourceField='size', targetField='size')
    assert done['status'] == 'complete', done
    sizes = {name: record['values']['size'] for name, record in by_name(system, sheet['id']).items()}
    assert {name: cell['value'] for name, cell in sizes.items()} == {'A': 1, 'B': 'huge', 'C': 2}
    assert [name for name, cell in sizes.items() if not cell['valid']] == ['B']
    assert done['outcome']['message'] == (
        'Categorised 1 records of sheet companies into size (local); left 1 uncategorised'
    )


def test_the_selection_narrows_the_records(system, sized):
    sheet = companies(system, ROWS)
    ids = {name: record['id'] for name, record in by_name(system, sheet['id']).items()}
    done = assist(system, sheet['id'], sourceField='sector', targetField='industry', ids=[ids['Acme'], ids['Globex']])
    assert done['outcome']['message'].startswith('Categorised 2 records')
    assert industries(system, sheet['id'])['Initech'] is None
    done = assist(
        system, sheet['id'], sourceField='sector', targetField='industry', searchField='name', searchValue='Ini'
    )
    assert done['outcome']['message'].startswith('Categorised 1 records')
    assert industries(system, sheet['id'])['Initech'] == 'tech'


@pytest.mark.parametrize(
    ('config', 'message'),
    [
        (
            {'sourceField': 'sector', 'targetField': 'name'},
            "'name' is a string field of sheet companies; ai-assist categorises into the options of an enum field",
        ),
        ({'sourceField': 'sector', 'targetField': 'segment'}, "'segment' is not a field of sheet companies"),
        ({'sourceField': 'vertical', 'targetField': 'industry'}, "'vertical' is not a field of sheet companies"),
    ],
)
def test_a_target_that_is_not_an_enum_or_a_missing_field_fails_the_job_and_writes_nothing(
    system, sized, config, message
):
    sheet = companies(system, ROWS)
    before = all_records(system.data_api, sheet['id'])
    failed = assist(system, sheet['id'], **config)
    assert failed['status'] == 'failed'
    assert failed['outcome']['message'] == message
    assert all_records(system.data_api, sheet['id']) == before
    assert commit_counts(system) == []


@pytest.mark.parametrize(
    ('config', 'key'),
    [
        ({'targetField': 'industry'}, 'sourceField'),
        ({'sourceField': 'sector'}, 'targetField'),
        ({'sourceField': 'sector', 'targetField': 'industry', 'instructions': 'x' * 2001}, 'instructions'),
        ({'sourceField': 'sector', 'targetField': 'industry', 'prompt': 'hi'}, 'prompt'),
    ],
)
def test_a_config_it_cannot_run_is_refused_at_create(system, config, key):
    reply = system.data_api.call(
        'POST', '/v1/jobs', {'type': 'sheet', 'operation': 'ai-assist', 'source': 'us_sh_1', 'config': config}
    )
    assert reply.status == 400, reply.body
    [error] = reply.body['errors']
    assert error['key'] == 'config'
    assert key in error['message']
    assert system.data_api.call('GET', '/v1/jobs').data == []


def test_many_steps_ask_each_value_once_a_step_and_count_exactly(system, sized):
    # GIVEN 45 records over 5 pages with 3 distinct values, and a categorizer that counts what it is asked
    system.sizes.budget_seconds = 0
    rows = [
        {'name': f'C{index:02d}', 'sector': ['technology', 'healthcare', 'mining'][index % 3]} for index in range(45)
    ]
    sheet = companies(system, rows)
    questions: list[list[str]] = []

    class Counting(LocalCategorizer):
        def categorize(self, values, options, instructions=None):
            questions.append(list(values))
            return super().categorize(values, options, instructions)

    sized['categorizer'] = Counting()
    done = assist(system, sheet['id'], sourceField='sector', targetField='industry')
    # THEN every step (one page each here) asked each of its distinct values once
    assert len(questions) == 5
    assert all(sorted(asked) == ['healthcare', 'mining', 'technology'] for asked in questions)
    assert done['outcome']['message'] == (
        'Categorised 30 records of sheet companies into industry (local); left 15 uncategorised'
    )
    assert commit_counts(system) == [30]


def test_a_step_that_runs_again_writes_nothing_twice_and_counts_right(system, sized, monkeypatch):
    system.sizes.budget_seconds = 0
    rows = [{'name': f'C{index:02d}', 'sector': 'technology' if index % 2 else 'mining'} for index in range(30)]
    sheet = companies(system, rows)
    write = RecordStore.write
    calls = {'count': 0}

    def failing_after(self, *args, **kwargs):
        write(self, *args, **kwargs)
        calls['count'] += 1
        if calls['count'] == 2:
            raise ServiceUnavailable('busy')  # written, but the step fails: Step Functions runs it again

    monkeypatch.setattr(RecordStore, 'write', failing_after)
    done = assist(system, sheet['id'], sourceField='sector', targetField='industry')
    assert done['status'] == 'complete', done
    assert done['outcome']['message'] == (
        'Categorised 15 records of sheet companies into industry (local); left 15 uncategorised'
    )
    categorised = [record for record in all_records(system.data_api, sheet['id']) if record['values'].get('industry')]
    assert len(categorised) == 15
    assert commit_counts(system) == [15]


def test_a_cancel_stops_the_writes_in_their_own_transaction(system, sized, monkeypatch):
    # GIVEN the job is canceled just before its third transaction is sent
    rows = [{'name': f'C{index:02d}', 'sector': 'technology'} for index in range(50)]
    sheet = companies(system, rows)
    write = RecordStore.write
    calls = {'count': 0}
    canceled = {}

    def canceling(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 3:
            canceled['job'] = system.service.cancel(TENANT, job['id'], None)
        write(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, 'write', canceling)
    job = system.create(
        type='sheet',
        operation='ai-assist',
        source=sheet['id'],
        config={'sourceField': 'sector', 'targetField': 'industry'},
    )
    assert system.run(job['id'])['status'] == 'canceled'
    # THEN that transaction was refused: two pages categorised, the rest untouched, the job too
    assert sum(1 for value in industries(system, sheet['id']).values() if value) == 20
    assert system.service.get(TENANT, job['id']) == canceled['job']
    assert system.wait(job['id'])['status'] == 'SUCCEEDED'


def test_bedrock_as_the_provider_writes_its_categories_and_confidences(system, sized):
    # GIVEN the deployment's model is Bedrock's (stubbed), answering for the distinct values it is asked
    sheet = companies(system, ROWS[:4])
    client = boto3.client('bedrock-runtime', region_name='us-east-1', config=bedrock.CLIENT_CONFIG)
    sized['categorizer'] = BedrockCategorizer(MODEL, client)
    requests: list[dict[str, Any]] = []
    client.meta.events.register(
        'provide-client-params.bedrock-runtime.Converse', lambda params, **_: requests.append(params)
    )
    categories = [
        {'value': 'technology', 'option': 'tech', 'confidence': 0.97},
        {'value': 'Health care', 'option': 'health', 'confidence': 0.9},
        {'value': 'Technolgy', 'option': 'tech', 'confidence': 0.8},
        {'value': 'Agriculture', 'option': 'farming', 'confidence': 0.6},  # not an option
    ]
    answer = {
        'output': {'message': {'role': 'assistant', 'content': [{'text': json.dumps({'categories': categories})}]}},
        'stopReason': 'end_turn',
        'usage': {'inputTokens': 1, 'outputTokens': 1, 'totalTokens': 2},
        'metrics': {'latencyMs': 1},
    }
    with Stubber(client) as stub:
        stub.add_response('converse', answer)
        done = assist(
            system, sheet['id'], sourceField='sector', targetField='industry', instructions='By main business'
        )
        stub.assert_no_pending_responses()
    assert done['status'] == 'complete', done
    question = json.loads(requests[0]['messages'][0]['content'][0]['text'])
    assert question['values'] == ['technology', 'Health care', 'Technolgy', 'Agriculture']
    assert question['instructions'] == 'By main business'
    assert industries(system, sheet['id']) == {'Acme': 'tech', 'Globex': 'health', 'Initech': 'tech', 'Umbrella': None}
    initech = by_name(system, sheet['id'])['Initech']['metadata']['aiAssist']['industry']
    assert initech == {'value': 'tech', 'confidence': 0.8, 'provider': f'bedrock:{MODEL}', 'jobId': done['id']}
    assert done['outcome']['message'] == (
        f'Categorised 3 records of sheet companies into industry (bedrock:{MODEL}); left 1 uncategorised'
    )


def test_a_step_floor_of_the_local_provider_is_done_within_the_workers_safety_margin():
    # Like the other operations' floors (test_system_job_limits): 10 million records stay far below
    # Step Functions' history limit, and a step's floor takes far less than the worker's safety margin.
    from tests.unit.test_system_job_limits import (
        CONSERVATIVE_UNITS_PER_SECOND,
        DEFINITION,
        HISTORY_LIMIT,
        TEN_MILLION,
        fixed_events,
        loop_events,
    )

    floor = LocalCategorizer.step_floor
    steps = -(-TEN_MILLION // floor)
    assert fixed_events(DEFINITION['States']) + steps * loop_events(DEFINITION['States']) < HISTORY_LIMIT / 5
    assert floor / CONSERVATIVE_UNITS_PER_SECOND <= 60
    assert BedrockCategorizer.page_size // bedrock.BATCH <= 5  # model calls a page: a page stays well inside it
    assert ai_assist.METADATA_KEY == 'aiAssist'


def test_the_local_stack_and_a_default_deploy_use_the_local_provider():
    # GIVEN the worker's environment in template.yaml, resolved as a deploy without overrides does
    worker = functions()['WorkerFunction']
    assert parameter_defaults()['AssistModelId'] == ''
    assert resolve(worker.environment['ASSIST_MODEL_ID'], {}) == ''
