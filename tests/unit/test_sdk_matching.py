"""Flatfile's filter semantics (spec §3.3): topic globs, value globs, bare and dotted keys."""

import pytest

from jobs_sdk.matching import filter_matches, flatten, glob, topic_matches
from tests.unit.sdk_fixtures import envelope

EVENT = flatten(
    envelope(
        'job:ready',
        job='workbook:export',
        context={'workbook_id': 'us_wb_1', 'space_id': 'us_sp_1'},
        input={'region': 'eu', 'rows': [10, 20]},
        info=None,
    )
)


@pytest.mark.parametrize(
    ('topic', 'pattern', 'expected'),
    [
        ('job:ready', 'job:ready', True),
        ('job:ready', 'job:completed', False),
        ('job:ready', 'job:*', True),
        ('job:outcome-acknowledged', 'job:*', True),
        ('commit:created', 'job:*', False),
        ('job:ready', '**', True),
        ('job:ready', '*', False),  # `*` stays within one segment
        ('job:ready', '*:ready', True),
        ('job:ready', 'job:read?', True),
        ('job:ready', 'job:rea?', False),
        ('job:ready', 'job:**', True),
        ('job', 'job:**', True),  # `**` may be no segment at all
        ('job:parts-completed', 'job:parts-*', True),
        ('job:ready', 'JOB:READY', False),  # case matters
        ('job:ready', r'job:\*', False),
        ('job:*', r'job:\*', True),  # an escaped star is a star
    ],
)
def test_topic_globs_use_colon_as_separator(topic, pattern, expected):
    assert topic_matches(topic, pattern) is expected


def test_a_list_of_topics_is_any_of_them():
    assert topic_matches('job:failed', ['job:completed', 'job:failed'])
    assert not topic_matches('job:ready', ['job:completed', 'job:failed'])


@pytest.mark.parametrize(
    ('subject', 'pattern', 'expected'),
    [
        ('file:extract-plugin-zip', 'file:extract*', True),
        ('file:extract', 'file:extract*', True),
        ('sheet:extract', 'file:extract*', False),
        ('workbook:export', 'workbook:*', True),
        ('workbook:export', '*:export', True),
        ('workbook:export', '*', False),
        ('workbook:export', '*:*', True),
    ],
)
def test_value_globs(subject, pattern, expected):
    assert glob(subject, pattern) is expected


@pytest.mark.parametrize(
    ('event_filter', 'expected'),
    [
        # a bare key is that key anywhere: payload.job
        ({'job': 'workbook:export'}, True),
        ({'job': 'sheet:export'}, False),
        ({'job': 'workbook:*'}, True),
        ({'job': 'file:extract*'}, False),
        # a list is OR
        ({'job': ['sheet:export', 'workbook:export']}, True),
        ({'job': ['sheet:export', 'file:extract']}, False),
        # several keys are AND
        ({'job': 'workbook:export', 'isPart': False}, True),
        ({'job': 'workbook:export', 'isPart': True}, False),
        ({'operation': 'export', 'domain': 'workbook'}, True),
        # `domain` is both the envelope's ("job") and the payload's (the job type)
        ({'domain': 'job'}, True),
        ({'domain': 'workbook'}, True),
        ({'domain': 'sheet'}, False),
        # bare keys reach the context too, and nested data
        ({'workbookId': 'us_wb_1'}, True),
        ({'jobId': 'us_jb_test00000001'}, True),
        ({'region': 'eu'}, True),
        # dotted keys are paths from the envelope's root
        ({'context.workbookId': 'us_wb_1'}, True),
        ({'context.workbookId': 'us_wb_2'}, False),
        ({'payload.job': 'workbook:export'}, True),
        ({'payload.input.rows.1': 20}, True),
        ({'context.job': 'workbook:export'}, False),
        # nested filter objects are the same as dotted keys
        ({'payload': {'job': 'workbook:export', 'isPart': False}}, True),
        ({'context': {'spaceId': 'us_sp_2'}}, False),
        # key globs
        ({'context.*Id': 'us_sp_1'}, True),
        ({'payload.*': 'workbook:export'}, True),
        # non-strings are compared strictly: False is not 0, 0 is not "0"
        ({'isPart': 0}, False),
        ({'progress': 0}, True),
        ({'progress': 0.0}, True),
        ({'progress': '0'}, False),
        ({'version': 2}, True),
        ({'managed': False}, True),
        # None matches a missing or null field
        ({'sheetId': None}, True),
        ({'info': None}, True),
        ({'spaceId': None}, False),
        ({'sheetId': [None, 'us_sh_1']}, True),
        ({'fileId': 'us_fl_1'}, False),
        # strings never match non-strings
        ({'isPart': 'false'}, False),
        ({}, True),
    ],
)
def test_filters(event_filter, expected):
    assert filter_matches(EVENT, event_filter) is expected


def test_flatten_is_the_flat_package_shape():
    assert flatten({'a': {'b': 1, 'c': [2, {'d': 3}]}, 'e': {}, 'f': []}) == {
        'a.b': 1,
        'a.c.0': 2,
        'a.c.1.d': 3,
        'e': {},
        'f': [],
    }
