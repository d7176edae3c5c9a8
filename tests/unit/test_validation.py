"""The validation rules: what each field type takes, coerces, or stores as given and marks invalid."""

import pytest
from pydantic import ValidationError

from jobs_core.models.workbook import SheetConfig, SheetField, WorkbookCreate
from jobs_core.validation import record_valid, storable, unique_value, validate, validate_record


def field(kind: str, **extra) -> SheetField:
    return SheetField.model_validate({'key': 'f', 'type': kind, 'label': 'F', **extra})


ENUM = {'config': {'options': [{'value': 'gold', 'label': 'Gold'}, {'value': 1, 'label': 'One'}]}}


@pytest.mark.parametrize(
    ('kind', 'extra', 'given', 'stored'),
    [
        ('string', {}, 'text', 'text'),
        ('string', {}, 42, '42'),
        ('string', {}, 1.5, '1.5'),
        ('string', {}, True, 'true'),
        ('number', {}, 42, 42),
        ('number', {}, 2.5, 2.5),
        ('number', {}, ' 42 ', 42),
        ('number', {}, '3.25', 3.25),
        ('number', {}, '1e3', 1000.0),
        ('boolean', {}, True, True),
        ('boolean', {}, 'Yes', True),
        ('boolean', {}, 'false', False),
        ('boolean', {}, 0, False),
        ('date', {}, '2024-02-29', '2024-02-29'),
        ('date', {}, '2024-02-29T00:00:00', '2024-02-29'),
        ('date', {}, '2024-02-29T10:30:00+01:00', '2024-02-29T10:30:00+01:00'),
        ('date', {}, '02/29/2024', '2024-02-29'),
        ('date', {}, 'Feb 29, 2024', '2024-02-29'),
        ('enum', ENUM, 'gold', 'gold'),
        ('enum', ENUM, 'GOLD', 'gold'),
        ('enum', ENUM, 'One', 1),
        ('enum', ENUM, '1', 1),
        ('reference', {'config': {'ref': 'companies', 'key': 'name'}}, 'Acme', 'Acme'),
        ('reference', {'config': {'ref': 'companies', 'key': 'id'}}, 7, '7'),
        ('string-list', {}, ['a', 2], ['a', '2']),
        ('string-list', {}, 'single', ['single']),
        ('enum-list', ENUM, ['gold', 'One'], ['gold', 1]),
    ],
)
def test_values_of_the_type_or_readable_as_it_are_valid_and_coerced(kind, extra, given, stored):
    # WHEN a value is validated against its field
    cell = validate(field(kind, **extra), given)

    # THEN it is valid, stored as the field's type
    assert cell == {'value': stored, 'valid': True, 'messages': []}


@pytest.mark.parametrize(
    ('kind', 'extra', 'given', 'message'),
    [
        ('string', {}, {'a': 1}, 'F must be text'),
        ('number', {}, 'old', 'F must be a number'),
        ('number', {}, True, 'F must be a number'),
        ('number', {}, 'nan', 'F must be a number'),
        ('number', {}, 10**40, 'F is outside the range of numbers that can be stored'),
        ('boolean', {}, 'maybe', 'F must be true or false'),
        ('boolean', {}, 2, 'F must be true or false'),
        ('date', {}, '31/31/2024', 'F must be a date (YYYY-MM-DD)'),
        ('date', {}, 20240101, 'F must be a date (YYYY-MM-DD)'),
        ('enum', ENUM, 'bronze', "F: 'bronze' is not one of the options (gold, 1)"),
        ('reference', {'config': {'ref': 'companies', 'key': 'id'}}, [1], 'F must be the id or key of a companies'),
        ('string-list', {}, [['nested']], 'F must be a list of text values'),
        ('enum-list', ENUM, ['gold', 'bronze'], "F: 'bronze' is not one of the options (gold, 1)"),
    ],
)
def test_a_value_of_the_wrong_type_is_kept_as_given_and_marked_invalid(kind, extra, given, message):
    # WHEN a value that cannot be read as the field's type is validated
    cell = validate(field(kind, **extra), given)

    # THEN it is kept (as text when DynamoDB could not hold it), invalid, with a message saying why
    assert cell['valid'] is False
    assert cell['value'] == storable(given)
    assert len(cell['messages']) == 1
    assert cell['messages'][0]['type'] == 'error'
    assert cell['messages'][0]['message'].startswith(message)


def test_an_invalid_option_names_its_source():
    assert validate(field('enum', **ENUM), 'x')['messages'][0]['source'] == 'invalid-option'


def test_allow_custom_takes_any_scalar_option():
    custom = field('enum', config={'options': [{'value': 'a'}], 'allowCustom': True})
    assert validate(custom, 'zzz') == {'value': 'zzz', 'valid': True, 'messages': []}


@pytest.mark.parametrize('empty', [None, '', []])
def test_required_fields_refuse_empty_values_and_others_take_them(empty):
    required = field('string', constraints=[{'type': 'required'}])
    assert validate(required, empty) == {
        'value': empty,
        'valid': False,
        'messages': [{'type': 'error', 'message': 'F is required', 'source': 'required-constraint'}],
    }
    assert validate(field('number'), empty) == {'value': empty, 'valid': True, 'messages': []}


def test_a_record_gets_an_invalid_cell_for_each_required_field_left_out():
    # GIVEN a sheet with a required and an optional field
    config = SheetConfig.model_validate(
        {
            'name': 'People',
            'fields': [
                {'key': 'name', 'type': 'string', 'constraints': [{'type': 'required'}]},
                {'key': 'age', 'type': 'number'},
            ],
        }
    )

    # WHEN a record gives only the optional one
    cells = validate_record(config.field_map(), {'age': '7'})

    # THEN the required one is there, empty and invalid, and the record is invalid
    assert cells['age'] == {'value': 7, 'valid': True, 'messages': []}
    assert cells['name']['value'] is None
    assert cells['name']['valid'] is False
    assert record_valid(cells) is False


def test_storable_turns_numbers_dynamodb_cannot_hold_into_text():
    assert storable({'a': [10**40, 1.5, float('inf')]}) == {'a': [str(10**40), 1.5, 'inf']}
    assert storable(10**37) == 10**37


def test_unique_values_compare_by_value_and_case_as_configured():
    strict = field('string', constraints=[{'type': 'unique'}])
    loose = field('string', constraints=[{'type': 'unique', 'config': {'caseSensitive': False}}])
    counting_empty = field('string', constraints=[{'type': 'unique', 'config': {'ignoreEmpty': False}}])
    assert unique_value(strict, 'A') != unique_value(strict, 'a')
    assert unique_value(loose, 'A') == unique_value(loose, 'a')
    assert unique_value(strict, 1) != unique_value(strict, '1')
    assert unique_value(strict, '') is None
    assert unique_value(counting_empty, '') is not None
    assert unique_value(field('string'), 'A') is None  # not a unique field


# ---------------------------------------------------------------- field definitions
@pytest.mark.parametrize(
    ('definition', 'problem'),
    [
        ({'key': 'f', 'type': 'enum'}, 'needs config.options'),
        ({'key': 'f', 'type': 'enum-list', 'config': {'options': []}}, 'needs config.options'),
        ({'key': 'f', 'type': 'enum', 'config': {'options': [{'value': 'a'}, {'value': 'a'}]}}, 'values repeat'),
        ({'key': 'f', 'type': 'reference', 'config': {'ref': 'x'}}, 'needs config.ref'),
        ({'key': 'f', 'type': 'decimal'}, "Input should be 'string'"),
        ({'key': 'f', 'type': 'string', 'constraints': [{'type': 'sometimes'}]}, "Input should be 'required'"),
        ({'key': '', 'type': 'string'}, 'at least 1 character'),
    ],
)
def test_invalid_field_definitions_are_refused(definition, problem):
    with pytest.raises(ValidationError, match=problem):
        SheetField.model_validate(definition)


def test_repeated_field_keys_and_sheet_slugs_are_refused():
    fields = [{'key': 'email', 'type': 'string'}, {'key': 'email', 'type': 'string'}]
    with pytest.raises(ValidationError, match="field key 'email' is used twice"):
        SheetConfig.model_validate({'name': 'People', 'fields': fields})
    sheets = [{'name': 'People', 'fields': []}, {'name': 'people', 'fields': []}]
    with pytest.raises(ValidationError, match='same slug'):
        WorkbookCreate.model_validate({'name': 'W', 'spaceId': 'us_sp_1', 'sheets': sheets})


def test_configuration_keeps_keys_it_does_not_interpret():
    # Flatfile configurations carry many keys (appearance, treatments…): kept and returned as given.
    definition = {'key': 'f', 'type': 'string', 'appearance': {'size': 'm'}, 'alternativeNames': ['g']}
    assert SheetField.model_validate(definition).model_dump(exclude_none=True) == definition
