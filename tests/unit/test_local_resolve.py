"""Intrinsics the local stack resolves from template.yaml: Ref, GetAtt, Sub and Join, and nothing it would guess."""

import pytest

from jobs_local.template import resolve, resolve_tree

REFS = {'JobsBus': 'jobs-local-jobs', 'AWS::Region': 'us-east-1', 'AWS::StackName': 'jobs-local'}
ATTRIBUTES = {'GatesQueue': {'Arn': 'arn:aws:sqs:us-east-1:123456789012:jobs-local-GatesQueue'}}


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        ('plain', 'plain'),
        (5, '5'),
        (True, 'true'),
        ({'Ref': 'JobsBus'}, 'jobs-local-jobs'),
        ({'Ref': 'EventRetentionDays'}, '30'),  # a parameter: its Default
        ({'Fn::GetAtt': ['GatesQueue', 'Arn']}, ATTRIBUTES['GatesQueue']['Arn']),
        ({'Fn::GetAtt': 'GatesQueue.Arn'}, ATTRIBUTES['GatesQueue']['Arn']),
        ({'Fn::Sub': '${AWS::StackName}-jobs'}, 'jobs-local-jobs'),
        ({'Fn::Sub': '${GatesQueue.Arn}/x'}, ATTRIBUTES['GatesQueue']['Arn'] + '/x'),
        ({'Fn::Sub': ['${Bus}:${AWS::Region}', {'Bus': {'Ref': 'JobsBus'}}]}, 'jobs-local-jobs:us-east-1'),
        ({'Fn::Sub': 'literal ${!NotAPlaceholder}'}, 'literal ${NotAPlaceholder}'),
        ({'Fn::Join': ['-', ['a', {'Ref': 'JobsBus'}]]}, 'a-jobs-local-jobs'),
    ],
)
def test_resolves(value, expected):
    assert resolve(value, REFS, attributes=ATTRIBUTES) == expected


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ({'Ref': 'Nowhere'}, 'Nowhere'),
        ({'Fn::GetAtt': ['Nowhere', 'Arn']}, 'Nowhere is not a local resource'),
        ({'Fn::GetAtt': ['GatesQueue', 'Shape']}, 'does not know this attribute'),
        ({'Fn::Sub': '${AWS::AccountId}'}, 'AWS::AccountId'),
        ({'Fn::If': ['Cond', 'a', 'b']}, 'Fn::If is not supported'),
        ({'Fn::GetAtt': ['GatesQueue', 'Arn'], 'Other': 1}, 'to a scalar'),
    ],
)
def test_what_the_stack_cannot_know_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        resolve(value, REFS, attributes=ATTRIBUTES)


def test_resolve_tree_resolves_inside_dicts_and_lists():
    policy = {
        'deadLetterTargetArn': {'Fn::GetAtt': ['GatesQueue', 'Arn']},
        'maxReceiveCount': 5,
        'list': [{'Ref': 'JobsBus'}],
    }
    assert resolve_tree(policy, REFS, attributes=ATTRIBUTES) == {
        'deadLetterTargetArn': ATTRIBUTES['GatesQueue']['Arn'],
        'maxReceiveCount': 5,
        'list': ['jobs-local-jobs'],
    }
