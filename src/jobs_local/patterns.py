"""EventBridge-style event patterns, as Lambda applies them to event source records (FilterCriteria).

A pattern is a JSON object whose keys are fields of the record. A nested object descends into the
field; a list holds the matchers of a leaf, any of which may match. The record's value may be a list,
and then any of its elements may match. Several keys must all match, and `$or` takes a list of
patterns, one of which must match. The leaf matchers: a literal (string, number, boolean or null;
numbers compare as numbers), `prefix`, `suffix`, `equals-ignore-case`, `wildcard`, `anything-but`,
`numeric`, `exists` and `cidr`. A pattern that uses anything else is refused when it is checked,
as Lambda refuses it when the mapping is created.
"""

import ipaddress
import json
import re
from collections.abc import Callable
from typing import Any, Final

_MISSING: Final = object()
_COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    '=': lambda value, bound: value == bound,
    '<': lambda value, bound: value < bound,
    '<=': lambda value, bound: value <= bound,
    '>': lambda value, bound: value > bound,
    '>=': lambda value, bound: value >= bound,
}


class PatternError(ValueError):
    """The pattern is not one Lambda or EventBridge would accept."""


def parse(pattern: str | dict[str, Any]) -> dict[str, Any]:
    """A pattern from its JSON text (as FilterCriteria carries it) or as a dict, checked."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as error:
            raise PatternError(f'pattern is not JSON: {error}') from None
    check(pattern)
    assert isinstance(pattern, dict)
    return pattern


def check(pattern: Any) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError(f'a pattern is a non-empty JSON object, not {pattern!r}')
    for key, expected in pattern.items():
        if key == '$or':
            if not isinstance(expected, list) or len(expected) < 2:
                raise PatternError('$or takes a list of at least two patterns')
            for alternative in expected:
                check(alternative)
        elif isinstance(expected, dict):
            check(expected)
        elif isinstance(expected, list):
            if not expected:
                raise PatternError(f'{key}: a list of matchers may not be empty')
            for matcher in expected:
                _check_matcher(key, matcher)
        else:
            raise PatternError(f'{key}: a leaf is a list of matchers, not {expected!r}')


def _check_matcher(key: str, matcher: Any) -> None:
    if matcher is None or isinstance(matcher, str | int | float | bool):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise PatternError(f'{key}: {matcher!r} is not a matcher')
    ((operator, operand),) = matcher.items()
    checker = _OPERAND_CHECKS.get(operator)
    if checker is None:
        raise PatternError(f'{key}: unknown operator {operator!r}')
    checker(key, operator, operand)


def _check_affix(key: str, operator: str, operand: Any) -> None:
    if not (isinstance(operand, str) or _is_ignore_case(operand)):
        raise PatternError(f'{key}: {operator} takes a string or {{"equals-ignore-case": string}}')


def _check_string(key: str, operator: str, operand: Any) -> None:
    if not isinstance(operand, str):
        raise PatternError(f'{key}: {operator} takes a string')


def _check_exists(key: str, operator: str, operand: Any) -> None:
    if not isinstance(operand, bool):
        raise PatternError(f'{key}: exists takes true or false')


def _check_cidr(key: str, operator: str, operand: Any) -> None:
    try:
        ipaddress.ip_network(operand, strict=False)
    except (TypeError, ValueError):
        raise PatternError(f'{key}: cidr takes a network such as "10.0.0.0/24"') from None


def _is_ignore_case(operand: Any) -> bool:
    return (
        isinstance(operand, dict)
        and set(operand) == {'equals-ignore-case'}
        and isinstance(operand['equals-ignore-case'], str)
    )


def _check_numeric(key: str, operator: str, operand: Any) -> None:
    if not isinstance(operand, list) or not operand or len(operand) % 2:
        raise PatternError(f'{key}: numeric takes pairs of operator and number')
    for comparison, bound in zip(operand[::2], operand[1::2], strict=True):
        if comparison not in _COMPARISONS or isinstance(bound, bool) or not isinstance(bound, int | float):
            raise PatternError(f'{key}: {operator} {comparison!r} {bound!r} is not a comparison')


def _check_anything_but(key: str, operator: str, operand: Any) -> None:
    if isinstance(operand, list):
        if not operand or not all(isinstance(value, str | int | float) for value in operand):
            raise PatternError(f'{key}: anything-but takes a non-empty list of strings or numbers')
    elif isinstance(operand, dict):
        if len(operand) != 1 or next(iter(operand)) not in {'prefix', 'suffix', 'equals-ignore-case', 'wildcard'}:
            raise PatternError(f'{key}: anything-but takes prefix, suffix, equals-ignore-case or wildcard')
        _check_matcher(key, operand)
    elif not isinstance(operand, str | int | float):
        raise PatternError(f'{key}: anything-but takes a value, a list of values or an operator')


# ---------------------------------------------------------------- matching
def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` (a JSON object) matches the checked `pattern`."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        if key == '$or':
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(key, _MISSING)
        if isinstance(expected, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(matches(expected, candidate) for candidate in candidates):
                return False
        elif not _leaf_matches(expected, value):
            return False
    return True


def _leaf_matches(matchers: list[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(matcher == {'exists': False} for matcher in matchers)
    if isinstance(value, dict):
        # An object where a leaf was expected: only "exists" can say anything about it.
        return any(matcher == {'exists': True} for matcher in matchers)
    values = value if isinstance(value, list) else [value]
    return any(_matcher_matches(matcher, item) for matcher in matchers for item in values)


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    ((operator, operand),) = matcher.items()
    if operator == 'exists':
        return bool(operand)
    if operator == 'anything-but':
        return _anything_but(operand, value)
    return _string_or_number_matches(operator, operand, value)


def _string_or_number_matches(operator: str, operand: Any, value: Any) -> bool:
    if operator == 'numeric':
        return _is_number(value) and all(
            _COMPARISONS[op](float(value), float(bound)) for op, bound in zip(operand[::2], operand[1::2], strict=True)
        )
    if operator == 'cidr':
        return isinstance(value, str) and _in_network(value, operand)
    if not isinstance(value, str):
        return False
    if operator == 'equals-ignore-case':
        return value.casefold() == str(operand).casefold()
    if operator == 'wildcard':
        return re.fullmatch('.*'.join(re.escape(part) for part in operand.split('*')), value, re.DOTALL) is not None
    folded = _is_ignore_case(operand)
    text, wanted = (value.casefold(), operand['equals-ignore-case'].casefold()) if folded else (value, operand)
    return text.startswith(wanted) if operator == 'prefix' else text.endswith(wanted)


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        return not _matcher_matches(operand, value)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_equal(item, value) for item in excluded)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value
    return type(expected) is type(value) and bool(expected == value)


_OPERAND_CHECKS: Final[dict[str, Callable[[str, str, Any], None]]] = {
    'prefix': _check_affix,
    'suffix': _check_affix,
    'equals-ignore-case': _check_string,
    'wildcard': _check_string,
    'exists': _check_exists,
    'numeric': _check_numeric,
    'anything-but': _check_anything_but,
    'cidr': _check_cidr,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _in_network(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
