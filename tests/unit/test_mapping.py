"""The planner and the mapper of map jobs (pure): which fields match, how sure, and how values move."""

import pytest

from jobs_core.mapping import Mapper, certainty, match_option, propose, similarity, words
from jobs_core.models.plan import CategoryMapping, Edge, EnumDetails, JobExecutionPlan, Property
from jobs_core.models.workbook import SheetField

TIERS = {'options': [{'value': 'gold', 'label': 'Gold'}, {'value': 'silver', 'label': 'Silver'}, {'value': 3}]}


def field(key: str, kind: str = 'string', label: str | None = None, **config: object) -> SheetField:
    return SheetField(key=key, type=kind, label=label, config=config or None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('text', 'expected'),
    [
        ('firstName', 'first name'),
        ('First_Name', 'first name'),
        ('FIRST NAME', 'first name'),
        ('Prénom', 'prenom'),
        ('E-mail', 'e mail'),
        ('ZIPCode', 'zip code'),
        ('名前 (カナ)', '名前 カナ'),  # letters of any script are kept
        ('Фамилия', 'фамилия'),
    ],
)
def test_names_are_read_as_words(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize(
    ('a', 'b', 'low', 'high'),
    [
        ('First Name', 'firstName', 1.0, 1.0),
        ('名前', '名前', 1.0, 1.0),
        ('E-mail', 'email', 1.0, 1.0),
        ('Qty', 'quantity', 0.7, 0.8),  # an abbreviation
        ('Phone Number', 'phone', 0.9, 0.9),
        ('Phone Number', 'phone extension', 0.4, 0.6),
        ('Last Name', 'Surname', 0.9, 0.9),  # synonyms
        ('Telephone', 'phoneNumber', 0.9, 0.9),
        ('Postcode', 'ZIP', 0.9, 0.9),
        ('Surname', 'First Name', 0.3, 0.3),  # two fields known to differ
        ('zip', 'name', 0.0, 0.4),
    ],
)
def test_similarity_of_names(a, b, low, high):
    assert low <= similarity(a, b) <= high


def test_certainty_bands():
    assert [certainty(value) for value in (1.0, 0.9, 0.75, 0.6)] == ['absolute', 'strong', 'moderate', 'weak']


def test_an_option_is_found_by_value_label_or_close_spelling_and_types_are_kept_apart():
    options = field('tier', 'enum', **TIERS).options()
    assert match_option('gold', options) == ('gold', 1.0)
    assert match_option('GOLD', options) == ('gold', 1.0)
    assert match_option('Silvr', options)[0] == 'silver'
    assert match_option(3, options) == (3, 1.0)
    assert match_option('3', options) == (3, 1.0)  # the text of a number option
    assert match_option('platinum', options) is None
    assert match_option(True, options) is None


def test_the_plan_matches_one_to_one_best_first_and_leaves_the_rest_unmapped():
    sources = [field('Email Address'), field('email'), field('Notes')]
    destinations = [field('email', label='E-mail'), field('phone')]
    plan = propose(sources, [{'email': 'a@x', 'Email Address': 'b@x'}], destinations)
    [edge] = plan.field_mapping
    assert (edge.source_field.key, edge.destination_field.key) == ('email', 'email')
    assert edge.metadata is not None and edge.metadata.certainty == 'absolute'
    assert [unmapped.source_field.key for unmapped in plan.unmapped_source_fields] == ['Email Address', 'Notes']
    assert [unmapped.destination_field.key for unmapped in plan.unmapped_destination_fields] == ['phone']


def test_values_that_do_not_fit_a_typed_field_weaken_a_match_by_name():
    sources = [field('Amount')]
    fits = propose(sources, [{'Amount': '12'}, {'Amount': '3.5'}], [field('amounts', 'number')])
    misfits = propose(sources, [{'Amount': 'n/a'}, {'Amount': 'lots'}], [field('amounts', 'number')])
    assert fits.field_mapping[0].metadata.confidence > misfits.field_mapping[0].metadata.confidence  # type: ignore[union-attr]


def test_an_enum_destination_is_found_by_its_values_and_gets_enum_details():
    sources = [field('Level'), field('Name')]
    rows = [{'Level': level, 'Name': 'x'} for level in ('Gold', 'silver', 'GOLD', 'Platinum', '3')]
    plan = propose(sources, rows, [field('tier', 'enum', **TIERS)])
    [edge] = plan.field_mapping
    assert edge.source_field.key == 'Level'
    assert edge.metadata is not None and edge.metadata.source == 'values'
    assert edge.enum_details == EnumDetails(
        mapping=[
            CategoryMapping(source_value='Gold', destination_value='gold'),
            CategoryMapping(source_value='silver', destination_value='silver'),
            CategoryMapping(source_value='GOLD', destination_value='gold'),
            CategoryMapping(source_value='3', destination_value=3),
        ],
        unused_source_values=['Platinum'],
        unused_destination_values=[],
    )


def test_previews_hold_ten_distinct_values_at_most():
    rows = [{'Name': f'n{index % 15}'} for index in range(100)]
    plan = propose([field('Name')], rows, [field('name')])
    assert plan.field_mapping[0].preview == [f'n{index}' for index in range(10)]


def test_only_the_first_hundred_rows_are_sampled():
    rows = [{'Name': 'early'}] * 100 + [{'Name': 'late'}]
    plan = propose([field('Name')], rows, [field('name')])
    assert plan.field_mapping[0].preview == ['early']


def edge(source: str, destination: str, mapping: list[tuple[object, object]] | None = None) -> Edge:
    details = None
    if mapping is not None:
        details = EnumDetails(
            mapping=[CategoryMapping(source_value=s, destination_value=d) for s, d in mapping]  # type: ignore[arg-type]
        )
    return Edge(source_field=Property(key=source), destination_field=Property(key=destination), enum_details=details)


def test_the_mapper_moves_values_by_the_plan():
    destinations = {
        'name': field('name'),
        'tier': field('tier', 'enum', **TIERS),
        'tags': field('tags', 'string-list'),
        'tiers': field('tiers', 'enum-list', **TIERS),
    }
    plan = JobExecutionPlan(
        field_mapping=[
            edge('Name', 'name'),
            edge('Level', 'tier', [('Platinum', 'gold'), ('Bronze', None)]),
            edge('Tags', 'tags'),
            edge('Levels', 'tiers'),
        ],
        unmapped_source_fields=[],
        unmapped_destination_fields=[],
    )
    mapper = Mapper(plan, destinations)
    assert mapper({'Name': 'Ann', 'Level': 'Platinum', 'Tags': 'a, b;c', 'Levels': 'GOLD|silver', 'Other': 1}) == {
        'name': 'Ann',
        'tier': 'gold',  # the plan says so
        'tags': ['a', 'b', 'c'],
        'tiers': ['gold', 'silver'],
    }
    assert mapper({'Level': 'Silvr'}) == {'tier': 'silver'}  # not in the plan: matched to an option
    assert mapper({'Level': 'wood'}) == {'tier': 'wood'}  # nothing close: kept, for validation to mark
    assert mapper({'Level': 'Bronze', 'Name': ''}) == {}  # mapped to nothing; empty values stay out
