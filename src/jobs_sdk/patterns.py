"""EventBridge event patterns for a listener's registrations.

The publisher puts every event on the bus with `source: "jobs"`, `detail-type` = the topic and
`detail` = the Flatfile envelope. A listener's rule should deliver at least every event one of its
handlers matches, and as few others as EventBridge can tell apart:

- a topic becomes `detail-type`: a name as is, `job:*` as `{"wildcard": "job:*"}`, `job:read*` as
  `{"prefix": ...}`; `**` (or a glob EventBridge cannot express) leaves `detail-type` out;
- a filter value becomes the same kind of matcher on its field in `detail` (a list is OR, `None`
  is `[null, {"exists": false}]`, booleans and numbers are exact);
- a dotted key (`context.jobId`) names its field; a bare key (`job`) names the places the envelope
  defines it (`payload.job`; `domain` is both `domain` and `payload.domain`), alternatives
  becoming separate branches;
- what cannot be expressed (a key glob, a bare key the envelope does not define, `?` in a glob,
  two conditions on one field) is left out, which only makes the pattern broader.

EventBridge's `*` also matches `:`, so a wildcard is broader than Flatfile's `*`, never narrower.
One deliberate narrowing: a bare key is looked for where the envelope defines it, not inside the
job's free-form `payload.input`; to filter on input, name the path (`payload.input.region`).

All branches are combined into one pattern (with `$or`), so one rule delivers each event once.
"""

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from jobs_sdk.matching import Filter, flatten_filter, is_glob

SOURCE: Final = 'jobs'

_CONTEXT_FIELDS: Final = (
    'accountId',
    'environmentId',
    'spaceId',
    'workbookId',
    'sheetId',
    'sheetSlug',
    'fileId',
    'jobId',
    'commitId',
    'actorId',
)
_PAYLOAD_FIELDS: Final = (
    'operation',
    'job',
    'status',
    'info',
    'isPart',
    'progress',
    'managed',
    'inputOmitted',
    'count',  # commit:created
    'kind',
)
# Where a bare filter key can be in the envelopes the publisher writes (jobs_core.lifecycle_events).
ENVELOPE_PATHS: Final[dict[str, tuple[str, ...]]] = {
    'id': ('id',),
    'topic': ('topic',),
    'domain': ('domain', 'payload.domain'),
    'createdAt': ('createdAt',),
    'version': ('version',),
    **{name: (f'context.{name}',) for name in _CONTEXT_FIELDS},
    **{name: (f'context.slugs.{name}',) for name in ('space', 'workbook', 'sheet')},
    **{name: (f'payload.{name}',) for name in _PAYLOAD_FIELDS},
    **{name: (f'payload.parts.{name}',) for name in ('total', 'completed', 'failed', 'canceled')},
}

Matchers = list[Any]
Condition = tuple[str, Matchers]  # a dotted path in `detail`, and what its value may be
Registration = tuple[Sequence[str], Sequence[Filter]]  # topics, and filters that must all match


def glob_matcher(pattern: str) -> Any | None:
    """An EventBridge matcher that accepts at least what the Flatfile glob accepts; None if none does."""
    if not is_glob(pattern):
        return pattern
    if '?' not in pattern and '\\' not in pattern and '**' not in pattern:
        if pattern.endswith('*') and pattern.count('*') == 1:
            return {'prefix': pattern[:-1]} if pattern[:-1] else {'wildcard': '*'}
        return {'wildcard': pattern}
    # `**` may stand for nothing (`file:**` matches `file`); keep only the literal head.
    head = re.split(r'[*?\\]', pattern, maxsplit=1)[0].rstrip(':')
    return {'prefix': head} if head else None


def value_matchers(expected: Any) -> Matchers | None:
    """The EventBridge value list for a filter value; None when it cannot be expressed."""
    if isinstance(expected, list | tuple):
        matchers: Matchers = []
        for each in expected:
            one = value_matchers(each)
            if one is None:
                return None
            matchers += [item for item in one if item not in matchers]
        return matchers or None
    if expected is None:
        return [None, {'exists': False}]
    if isinstance(expected, str):
        matcher = glob_matcher(expected)
        return None if matcher is None else [matcher]
    if isinstance(expected, bool | int | float):
        return [expected]
    return None


def key_paths(key: str) -> tuple[str, ...] | None:
    if '*' in key:
        return None
    if '.' in key:
        return (key,)
    return ENVELOPE_PATHS.get(key)


def _branches(filters: Iterable[Filter]) -> list[list[Condition]]:
    branches: list[list[Condition]] = [[]]
    for event_filter in filters:
        for key, expected in flatten_filter(event_filter).items():
            matchers, paths = value_matchers(expected), key_paths(key)
            if matchers is not None and paths is not None:
                branches = [[*branch, (path, matchers)] for branch in branches for path in paths]
    return branches


def _fragment(topic_matchers: Matchers | None, conditions: list[Condition]) -> dict[str, Any]:
    fragment: dict[str, Any] = {}
    if topic_matchers is not None:
        fragment['detail-type'] = topic_matchers
    for path, matchers in conditions:
        node = fragment.setdefault('detail', {})
        *parents, leaf = path.split('.')
        for name in parents:
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                break  # a field already matched as a value: leave this condition out
            node = child
        else:
            if leaf not in node:  # two conditions on one field: keep the first
                node[leaf] = matchers
    return fragment


def _merge_topics(fragments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fragments that differ only in `detail-type` become one, with the topics together."""
    groups: dict[str, dict[str, Any]] = {}
    for fragment in fragments:
        rest = {key: value for key, value in fragment.items() if key != 'detail-type'}
        key = json.dumps(rest, sort_keys=True)
        if key not in groups:
            groups[key] = dict(fragment)
            continue
        merged = groups[key]
        if 'detail-type' not in merged or 'detail-type' not in fragment:
            merged.pop('detail-type', None)
        else:
            known = merged['detail-type']
            merged['detail-type'] = [*known, *(each for each in fragment['detail-type'] if each not in known)]
    return list(groups.values())


def event_patterns(registrations: Iterable[Registration], *, everything: bool = False) -> list[dict[str, Any]]:
    """One pattern covering every registration ([] when there are none; all jobs events when
    `everything`)."""
    registrations = list(registrations)
    if everything:
        return [{'source': [SOURCE]}]
    fragments = []
    for topics, filters in registrations:
        topic_matchers = value_matchers(list(topics))
        fragments += [_fragment(topic_matchers, branch) for branch in _branches(filters)]
    if not fragments:
        return []
    if any(not fragment for fragment in fragments):
        return [{'source': [SOURCE]}]
    merged = _merge_topics(fragments)
    if len(merged) == 1:
        return [{'source': [SOURCE], **merged[0]}]
    return [{'source': [SOURCE], '$or': merged}]
