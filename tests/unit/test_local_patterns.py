"""The local stack's event pattern matcher: what Lambda's FilterCriteria (and EventBridge rules) match."""

import pytest

from jobs_local.patterns import PatternError, check, matches, parse

JOB_INSERT = {
    'eventName': 'INSERT',
    'dynamodb': {
        'NewImage': {'entity': {'S': 'job'}, 'status': {'S': 'ready'}, 'progress': {'N': '10'}},
        'Keys': {'pk': {'S': 'JOB#1'}},
    },
    'tags': ['a', 'b'],
    'count': 5,
    'ratio': 0.5,
    'flag': True,
    'nothing': None,
    'ip': '10.0.0.7',
    'parts': [{'name': 'x'}, {'name': 'y'}],
}


@pytest.mark.parametrize(
    ('pattern', 'expected'),
    [
        # the two filters of the publisher's stream event
        ({'dynamodb': {'NewImage': {'entity': {'S': ['job']}}}}, True),
        ({'eventName': ['REMOVE'], 'dynamodb': {'OldImage': {'entity': {'S': ['job']}}}}, False),
        # literals, lists as OR, keys as AND
        ({'eventName': ['MODIFY', 'INSERT']}, True),
        ({'eventName': ['INSERT'], 'count': [6]}, False),
        ({'count': [5.0]}, True),
        ({'count': ['5']}, False),
        ({'flag': [True]}, True),
        ({'flag': [1]}, False),
        ({'nothing': [None]}, True),
        ({'tags': ['b']}, True),
        ({'tags': ['c']}, False),
        # a missing field matches only exists: false
        ({'absent': ['x']}, False),
        ({'absent': [{'exists': False}]}, True),
        ({'eventName': [{'exists': False}]}, False),
        ({'eventName': [{'exists': True}]}, True),
        ({'dynamodb': [{'exists': True}]}, True),
        # operators
        ({'eventName': [{'prefix': 'INS'}]}, True),
        ({'eventName': [{'prefix': {'equals-ignore-case': 'ins'}}]}, True),
        ({'eventName': [{'suffix': 'ERT'}]}, True),
        ({'eventName': [{'suffix': 'ins'}]}, False),
        ({'eventName': [{'equals-ignore-case': 'insert'}]}, True),
        ({'eventName': [{'wildcard': 'I*T'}]}, True),
        ({'eventName': [{'wildcard': 'I*X'}]}, False),
        ({'eventName': [{'anything-but': 'REMOVE'}]}, True),
        ({'eventName': [{'anything-but': ['INSERT', 'MODIFY']}]}, False),
        ({'eventName': [{'anything-but': {'prefix': 'IN'}}]}, False),
        ({'count': [{'numeric': ['>', 4, '<=', 5]}]}, True),
        ({'count': [{'numeric': ['=', 4]}]}, False),
        ({'ratio': [{'numeric': ['<', 1]}]}, True),
        ({'eventName': [{'numeric': ['>', 0]}]}, False),
        ({'ip': [{'cidr': '10.0.0.0/24'}]}, True),
        ({'ip': [{'cidr': '10.0.1.0/24'}]}, False),
        # objects inside a list: any element may match
        ({'parts': {'name': ['y']}}, True),
        ({'parts': {'name': ['z']}}, False),
        # $or
        ({'$or': [{'eventName': ['REMOVE']}, {'count': [5]}]}, True),
        ({'$or': [{'eventName': ['REMOVE']}, {'count': [6]}]}, False),
        # a nested pattern where the event has a leaf, and a leaf where it has an object
        ({'eventName': {'inner': ['x']}}, False),
        ({'dynamodb': ['x']}, False),
    ],
)
def test_matches(pattern, expected):
    check(pattern)
    assert matches(pattern, JOB_INSERT) is expected


@pytest.mark.parametrize(
    'pattern',
    [
        {},
        [],
        {'a': 'x'},
        {'a': []},
        {'a': [{'prefix': 1}]},
        {'a': [{'numeric': ['>']}]},
        {'a': [{'numeric': ['~', 1]}]},
        {'a': [{'exists': 'yes'}]},
        {'a': [{'anything-but': {'numeric': ['>', 1]}}]},
        {'a': [{'cidr': 'nope'}]},
        {'a': [{'regex': '.*'}]},
        {'a': [{'prefix': 'x', 'suffix': 'y'}]},
        {'$or': [{'a': ['x']}]},
    ],
)
def test_a_pattern_lambda_would_refuse_is_refused(pattern):
    with pytest.raises(PatternError):
        check(pattern)


def test_parse_reads_the_json_text_filter_criteria_carry():
    assert parse('{"eventName": ["INSERT"]}') == {'eventName': ['INSERT']}
    with pytest.raises(PatternError, match='not JSON'):
        parse('{eventName')


def test_a_record_that_is_not_an_object_matches_nothing():
    assert matches({'a': [{'exists': False}]}, ['a']) is False
