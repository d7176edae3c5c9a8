"""The categorizers of sheet:ai-assist: the local one (string similarity) and Amazon Bedrock's Converse
API, the latter through botocore's Stubber (Bedrock cannot be reached from here)."""

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from jobs_core import bedrock
from jobs_core.bedrock import BedrockCategorizer
from jobs_core.categorize import LOCAL, Category, LocalCategorizer, configured_categorizer, normalized
from jobs_core.errors import ServiceUnavailable
from jobs_core.models.workbook import EnumOption
from jobs_core.settings import assist_settings
from jobs_core.system.operations import OperationFailed

INDUSTRIES = [
    EnumOption(value='tech', label='Technology'),
    EnumOption(value='health', label='Healthcare'),
    EnumOption(value='finance', label='Financial Services'),
    EnumOption(value='cafe', label='Café & Restaurant'),
]
MODEL = 'anthropic.claude-3-haiku-20240307-v1:0'


# ---------------------------------------------------------------- local
def test_normalising_sets_case_accents_punctuation_and_spacing_aside():
    assert normalized('  Crème-Brûlée,  SARL ') == 'creme brulee sarl'
    assert normalized('ÉCOLE') == 'ecole'


@pytest.mark.parametrize(
    ('value', 'option', 'confidence'),
    [
        ('Technology', 'tech', 1.0),  # the label
        ('tech', 'tech', 1.0),  # the value
        ('  TECHNOLOGY!', 'tech', 1.0),  # case and punctuation
        ('cafe restaurant', 'cafe', 1.0),  # accents and "&"
        ('CAFÉ & RESTAURANT', 'cafe', 1.0),
    ],
)
def test_an_exact_match_after_normalising_is_certain(value, option, confidence):
    # WHEN the local provider categorises a value that is an option's label or value but for form
    [category] = LocalCategorizer().categorize([value], INDUSTRIES).values()
    # THEN it picks that option with confidence 1
    assert category == Category(option, confidence)


@pytest.mark.parametrize(
    ('value', 'option'),
    [
        ('Technolgy', 'tech'),
        ('Health care', 'health'),
        ('Services, Financial', 'finance'),
        ('healthcare inc', 'health'),
    ],
)
def test_a_near_match_is_categorised_with_less_than_full_confidence(value, option):
    [category] = LocalCategorizer().categorize([value], INDUSTRIES).values()
    assert category.option == option
    assert 0.75 <= category.confidence < 1.0


@pytest.mark.parametrize('value', ['Agriculture', 'HR', 'a', 'zzz', '   '])
def test_what_matches_no_option_well_enough_is_left_uncategorised(value):
    # GIVEN values far from every option (or synonyms only a language model would know)
    [category] = LocalCategorizer().categorize([value], INDUSTRIES).values()
    # THEN no option is given: below the threshold is no category, not a guess
    assert category.option is None
    assert not category.found


def test_the_threshold_decides_what_is_close_enough():
    strict = LocalCategorizer(threshold=0.99).categorize(['Technolgy'], INDUSTRIES)
    loose = LocalCategorizer(threshold=0.5).categorize(['Technolgy'], INDUSTRIES)
    assert strict['Technolgy'].option is None
    assert loose['Technolgy'].option == 'tech'


def test_options_whose_values_are_numbers_or_booleans_keep_their_type():
    sizes = [EnumOption(value=1, label='Small'), EnumOption(value=2, label='Large'), EnumOption(value=2.5)]
    flags = [EnumOption(value=True, label='Yes'), EnumOption(value=False)]
    by_size = LocalCategorizer().categorize(['1', 'large', 'SMALL', '2.5'], sizes)
    assert {value: category.option for value, category in by_size.items()} == {
        '1': 1,
        'large': 2,
        'SMALL': 1,
        '2.5': 2.5,
    }
    assert all(category.confidence == 1.0 for category in by_size.values())
    by_flag = LocalCategorizer().categorize(['yes', 'false', 'TRUE'], flags)
    answers = {value: category.option for value, category in by_flag.items()}
    assert answers == {'yes': True, 'false': False, 'TRUE': True}
    assert all(isinstance(option, bool) for option in answers.values())


def test_each_distinct_value_is_answered_once():
    answers = LocalCategorizer().categorize(['tech', 'tech', 'Healthcare'], INDUSTRIES)
    assert list(answers) == ['tech', 'Healthcare']


def test_the_provider_is_local_unless_a_model_is_configured(monkeypatch):
    # GIVEN no model (the template's default: an empty parameter)
    monkeypatch.setenv('ASSIST_MODEL_ID', '')
    assist_settings.cache_clear()
    configured_categorizer.cache_clear()
    try:
        assert configured_categorizer().name == LOCAL
        # WHEN a model is configured THEN Bedrock categorises, with that model
        monkeypatch.setenv('ASSIST_MODEL_ID', MODEL)
        assist_settings.cache_clear()
        configured_categorizer.cache_clear()
        chosen = configured_categorizer()
        assert isinstance(chosen, BedrockCategorizer)
        assert chosen.name == f'bedrock:{MODEL}'
    finally:
        assist_settings.cache_clear()
        configured_categorizer.cache_clear()


# ---------------------------------------------------------------- Bedrock
@pytest.fixture(name='client')
def client_fixture() -> Any:
    return boto3.client('bedrock-runtime', region_name='us-east-1', config=bedrock.CLIENT_CONFIG)


def converse_response(text: str, stop: str = 'end_turn') -> dict[str, Any]:
    return {
        'output': {'message': {'role': 'assistant', 'content': [{'text': text}]}},
        'stopReason': stop,
        'usage': {'inputTokens': 100, 'outputTokens': 50, 'totalTokens': 150},
        'metrics': {'latencyMs': 420},
    }


def answer(*entries: tuple[str, Any, Any]) -> str:
    return json.dumps({'categories': [{'value': v, 'option': o, 'confidence': c} for v, o, c in entries]})


def asked(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON question a converse request carries."""
    [message] = request['messages']
    assert message['role'] == 'user'
    return dict(json.loads(message['content'][0]['text']))


def test_bedrock_asks_the_configured_model_with_the_values_options_and_instructions(client):
    # GIVEN a model that answers for both values
    requests: list[dict[str, Any]] = []
    client.meta.events.register(
        'provide-client-params.bedrock-runtime.Converse', lambda params, **_: requests.append(params)
    )
    with Stubber(client) as stub:
        stub.add_response(
            'converse',
            converse_response(answer(('Acme Bank', 'finance', 0.93), ('St. Mary clinic', 'health', 0.88))),
            {'modelId': MODEL, 'system': ANY, 'messages': ANY, 'inferenceConfig': ANY},
        )
        # WHEN it categorises
        found = BedrockCategorizer(MODEL, client).categorize(
            ['Acme Bank', 'St. Mary clinic', 'Acme Bank'], INDUSTRIES, 'Banks and insurers are finance'
        )
        stub.assert_no_pending_responses()
    # THEN one call carried the distinct values, every option (value and label) and the instructions
    [request] = requests
    question = asked(request)
    assert question['values'] == ['Acme Bank', 'St. Mary clinic']
    assert question['options'][0] == {'value': 'tech', 'label': 'Technology'}
    assert [option['value'] for option in question['options']] == ['tech', 'health', 'finance', 'cafe']
    assert question['instructions'] == 'Banks and insurers are finance'
    assert 'JSON' in request['system'][0]['text']
    assert request['inferenceConfig']['temperature'] == 0
    # AND the answer is read into categories
    assert found == {'Acme Bank': Category('finance', 0.93), 'St. Mary clinic': Category('health', 0.88)}


def test_bedrock_asks_in_batches_of_distinct_values(client):
    values = [f'company {index}' for index in range(7)]
    with Stubber(client) as stub:
        for start in (0, 3, 6):
            batch = values[start : start + 3]
            stub.add_response('converse', converse_response(answer(*[(v, 'tech', 0.9) for v in batch])))
        found = BedrockCategorizer(MODEL, client, batch=3).categorize(values, INDUSTRIES)
        stub.assert_no_pending_responses()
    assert {category.option for category in found.values()} == {'tech'}
    assert list(found) == values


def test_an_option_not_in_the_enum_leaves_that_value_uncategorised(client):
    # GIVEN a model that invents an option for one value, and names another by its label
    text = answer(('Acme Bank', 'banking', 0.9), ('Globex', 'Technology', 0.7), ('Initech', 1, 0.8))
    with Stubber(client) as stub:
        stub.add_response('converse', converse_response(text))
        found = BedrockCategorizer(MODEL, client).categorize(['Acme Bank', 'Globex', 'Initech'], INDUSTRIES)
    # THEN the invented one is no category; the label is read as its option
    assert found['Acme Bank'] == Category(None, 0.0)
    assert found['Globex'] == Category('tech', 0.7)
    assert found['Initech'].option is None


def test_a_malformed_answer_leaves_its_values_uncategorised_and_never_crashes(client):
    values = ['Acme Bank', 'Globex']
    answers = [
        'Sure! Here you go: {"categories": [{"value": "Acme Bank", "option": "fin',  # cut short
        'I cannot help with that.',
        json.dumps({'categories': 'finance'}),
        json.dumps([{'value': 'Acme Bank', 'option': 'finance', 'confidence': 'high'}]),
        json.dumps({'categories': [{'value': 'Acme Bank', 'option': 'finance', 'confidence': 7}]}),
    ]
    with Stubber(client) as stub:
        for text in answers:
            stub.add_response('converse', converse_response(text))
        for _ in answers:
            found = BedrockCategorizer(MODEL, client).categorize(values, INDUSTRIES)
            assert found == {'Acme Bank': Category(None, 0.0), 'Globex': Category(None, 0.0)}


def test_json_in_a_code_fence_and_values_not_asked_about_are_handled(client):
    text = (
        '```json\n' + answer(('Globex', 'tech', 0.61), ('Umbrella', 'health', 0.9), ('Globex', 'cafe', 0.2)) + '\n```'
    )
    with Stubber(client) as stub:
        stub.add_response('converse', converse_response(text))
        found = BedrockCategorizer(MODEL, client).categorize(['Globex', 'Acme Bank'], INDUSTRIES)
    # THEN the first answer for an asked value counts; an unasked value is ignored; an unanswered one is none
    assert found == {'Globex': Category('tech', 0.61), 'Acme Bank': Category(None, 0.0)}


def test_throttling_is_retried_by_botocores_retry_mode(client, monkeypatch):
    # GIVEN Bedrock throttles twice, then answers (served at botocore's before-send, so retries apply)
    import botocore.endpoint
    from botocore.awsrequest import AWSResponse

    sent: list[int] = []
    pauses: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, 'sleep', pauses.append)  # botocore's backoff, not waited here

    def reply(request: Any, **_: Any) -> AWSResponse:
        sent.append(1)
        if len(sent) <= 2:
            body = json.dumps({'message': 'Too many requests, please wait'}).encode()
            headers = {'x-amzn-ErrorType': 'ThrottlingException', 'Content-Type': 'application/json'}
            return AWSResponse(request.url, 429, headers, _Raw(body))
        body = json.dumps(converse_response(answer(('Acme Bank', 'finance', 0.9)))).encode()
        return AWSResponse(request.url, 200, {'Content-Type': 'application/json'}, _Raw(body))

    client.meta.events.register('before-send.bedrock-runtime.Converse', reply)
    # WHEN it categorises
    found = BedrockCategorizer(MODEL, client).categorize(['Acme Bank'], INDUSTRIES)
    # THEN botocore sent the request three times, backing off between them, and the answer was read
    assert found == {'Acme Bank': Category('finance', 0.9)}
    assert len(sent) == 3
    assert len(pauses) == 2
    assert client.meta.config.retries['mode'] == 'standard'


class _Raw:
    """The raw body botocore reads a response from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def test_throttling_left_after_botocores_retries_is_retried_by_the_state_machine(client):
    with Stubber(client) as stub:  # the Stubber answers after botocore's retries: this is what outlasts them
        stub.add_client_error('converse', 'ThrottlingException', 'Too many requests', http_status_code=429)
        # WHEN throttling outlasts them THEN the step fails with what the state machine retries with backoff
        with pytest.raises(ServiceUnavailable):
            BedrockCategorizer(MODEL, client).categorize(['Acme Bank'], INDUSTRIES)


def test_a_refusal_retrying_cannot_fix_fails_the_job_with_its_reason(client):
    with Stubber(client) as stub:
        stub.add_client_error(
            'converse', 'AccessDeniedException', 'You do not have access to the model', http_status_code=403
        )
        with pytest.raises(OperationFailed) as failed:
            BedrockCategorizer(MODEL, client).categorize(['Acme Bank'], INDUSTRIES)
    assert failed.value.message == (
        f'Amazon Bedrock refused to categorise with model {MODEL}: AccessDeniedException '
        'You do not have access to the model'
    )
