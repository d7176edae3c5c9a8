"""Flatfile's listener filters (spec §3.3): topic globs and filter objects matched against an event.

- Topics are globbed with `:` as the separator: `job:*`, `**` (everything), a list is any of them.
- A filter is matched against the *flattened* event (`topic`, `domain`, `context.jobId`,
  `payload.job`, …). A key with neither `*` nor `.` means that key anywhere (`**.<key>`); other
  keys are globs over the dotted paths (separator `.`).
- String values are globs (separator `:`), so `{'job': 'file:extract*'}` works; a list of values
  is OR; several keys are AND; other values are compared with strict equality (`True` is not
  `1`); `None` matches a field that is missing or null.

Globs follow the `wildcard-match` package Flatfile uses: `*` is any run of characters within a
segment, `?` one character within a segment, `**` as a whole segment any number of segments
(none included), `\\` escapes the next character; a separator in a pattern matches one or more
separators in the subject, and trailing separators in the subject are ignored.
"""

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final

TOPIC_SEPARATOR: Final = ':'
KEY_SEPARATOR: Final = '.'
MISSING: Final = object()

Filter = Mapping[str, Any]


@lru_cache(maxsize=1024)
def glob_regex(pattern: str, separator: str) -> re.Pattern[str]:
    sep = re.escape(separator)
    wildcard = f'[^{sep}]'
    required, optional = f'{sep}+?', f'{sep}*?'
    segments = pattern.split(separator)
    result = ''
    for index, segment in enumerate(segments):
        if not segment and index > 0:
            continue  # `a::b` is `a:b`, as a run of separators in a subject is one
        last = index == len(segments) - 1
        following = '' if last else segments[index + 1]
        after = optional if last else ('' if following == '**' else required)
        if segment == '**':
            if after:
                result += ('' if index == 0 else after) + f'(?:{wildcard}*?{after})*?'
            continue
        result += _segment(segment, wildcard) + after
    return re.compile(f'^{result}$', re.DOTALL)


def _segment(segment: str, wildcard: str) -> str:
    out = ''
    chars = iter(segment)
    for char in chars:
        if char == '\\':
            out += re.escape(next(chars, ''))
        elif char == '?':
            out += wildcard
        elif char == '*':
            out += f'{wildcard}*?'
        else:
            out += re.escape(char)
    return out


def glob(subject: str, pattern: str | Iterable[str], separator: str = TOPIC_SEPARATOR) -> bool:
    """`subject` matches the glob `pattern`, or any of a list of them."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    return any(glob_regex(each, separator).match(subject) is not None for each in patterns)


def is_glob(pattern: str) -> bool:
    return any(char in pattern for char in '*?\\')


def flatten(value: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    """`{'a': {'b': 1}, 'c': [2]}` → `{'a.b': 1, 'c.0': 2}`, as the `flat` package Flatfile uses
    (an empty object or list stays a value of its own)."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f'{prefix}{key}'
        if isinstance(item, Mapping) and item:
            flat.update(flatten(item, f'{path}.'))
        elif isinstance(item, list) and item:
            flat.update(flatten({str(index): element for index, element in enumerate(item)}, f'{path}.'))
        else:
            flat[path] = item
    return flat


def flatten_filter(value: Filter, prefix: str = '') -> dict[str, Any]:
    """A filter's nested objects become dotted keys; its lists stay lists (they mean OR)."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            flat.update(flatten_filter(item, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = item
    return flat


def key_pattern(key: str) -> str:
    """A bare key means that key anywhere in the event."""
    return key if ('*' in key or KEY_SEPARATOR in key) else f'**{KEY_SEPARATOR}{key}'


def value_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list | tuple):
        return any(value_matches(actual, each) for each in expected)
    if expected is None:
        return actual is None or actual is MISSING
    if actual is MISSING:
        return False
    if isinstance(expected, str):
        return isinstance(actual, str) and glob(actual, expected, TOPIC_SEPARATOR)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def filter_matches(flat_event: Mapping[str, Any], event_filter: Filter | None) -> bool:
    """Every key of the filter matches some field of the (flattened) event."""
    if not event_filter:
        return True
    for key, expected in flatten_filter(event_filter).items():
        pattern = key_pattern(key)
        found = [value for path, value in flat_event.items() if glob(path, pattern, KEY_SEPARATOR)]
        if not any(value_matches(value, expected) for value in found or [MISSING]):
            return False
    return True


def topic_matches(topic: str, topics: str | Iterable[str]) -> bool:
    return glob(topic, topics, TOPIC_SEPARATOR)
