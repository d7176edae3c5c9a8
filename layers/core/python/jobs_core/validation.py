"""Validation of record values against their fields (pure: no I/O).

A value of the wrong type is not refused: it is stored as given, marked invalid with a message, as
Flatfile does. A value that can be read as the field's type is stored as that type ("42" in a
number field becomes 42). Uniqueness needs the other records, so the record service judges it with
the store and adds its message here (`unique_message`).
"""

import hashlib
import json
import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from jobs_core.models.workbook import SheetField

Cell = dict[str, Any]  # {'value': …, 'valid': bool, 'messages': [{'type', 'message', 'source'?}]}

_TRUE: Final = frozenset({'true', 'yes', 'y', '1', 'on', 't'})
_FALSE: Final = frozenset({'false', 'no', 'n', '0', 'off', 'f'})
_DATE_FORMATS: Final = ('%m/%d/%Y', '%Y/%m/%d', '%d.%m.%Y', '%b %d, %Y', '%d %b %Y', '%B %d, %Y')
# DynamoDB numbers: 38 significant digits, magnitude from 1e-130 to below 1e126.
_MAX_DIGITS: Final = 38
_MAX_MAGNITUDE: Final = Decimal('9.9999999999999999999999999999999999999E+125')
_MIN_MAGNITUDE: Final = Decimal('1E-130')
_LISTED_OPTIONS: Final = 10


class _Invalid(Exception):
    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


def is_empty(value: Any) -> bool:
    return value is None or value in ('', [])


def text_of(value: Any) -> str:
    """A value as text: a boolean as JSON writes it (`true`), anything else as Python does."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def message(text: str, source: str | None = None) -> dict[str, str]:
    found = {'type': 'error', 'message': text}
    if source:
        found['source'] = source
    return found


def validate(field: 'SheetField', raw: Any) -> Cell:
    """The cell for `raw` in `field`: the value as stored, whether it is valid, and why not."""
    if is_empty(raw):
        if field.has_constraint('required'):
            return {
                'value': raw,
                'valid': False,
                'messages': [message(f'{field.title} is required', 'required-constraint')],
            }
        return {'value': raw, 'valid': True, 'messages': []}
    try:
        value = _COERCE[field.type](field, raw)
    except _Invalid as invalid:
        return {'value': storable(raw), 'valid': False, 'messages': [message(invalid.message, invalid.source)]}
    return {'value': value, 'valid': True, 'messages': []}


def validate_record(fields: dict[str, 'SheetField'], values: dict[str, Any]) -> dict[str, Cell]:
    """Every given value as a cell, and an invalid empty cell for each required field left out."""
    cells = {key: validate(fields[key], raw) for key, raw in values.items()}
    for key, field in fields.items():
        if key not in cells and field.has_constraint('required'):
            cells[key] = validate(field, None)
    return cells


def record_valid(cells: dict[str, Cell]) -> bool:
    return all(cell['valid'] for cell in cells.values())


# ---------------------------------------------------------------- uniqueness
def unique_value(field: 'SheetField', value: Any) -> str | None:
    """What two values of a unique field are compared by (a hash, to bound key size), or None when
    the value takes no part: empty values are never duplicates unless config.ignoreEmpty is false."""
    constraint = field.constraint('unique')
    if constraint is None:
        return None
    config = constraint.config or {}
    if is_empty(value) and config.get('ignoreEmpty', True) is not False:
        return None
    if isinstance(value, str) and config.get('caseSensitive', True) is False:
        value = value.casefold()
    canonical = json.dumps(value, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def unique_message(field: 'SheetField') -> dict[str, str]:
    return message(f'{field.title} must be unique: another record has this value', 'unique-constraint')


def mark_duplicate(cell: Cell, field: 'SheetField') -> Cell:
    return {**cell, 'valid': False, 'messages': [*cell['messages'], unique_message(field)]}


# ---------------------------------------------------------------- storable values
def storable(value: Any) -> Any:
    """`value` with every number DynamoDB cannot hold turned into its text (so it is kept, as given)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return value if _fits(value) else _number_text(value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): storable(item) for key, item in value.items()}
    return str(value)


def _fits(number: float) -> bool:
    if isinstance(number, float) and not math.isfinite(number):
        return False
    decimal = Decimal(str(number))
    if decimal == 0:
        return True
    magnitude = abs(decimal)
    digits = len(decimal.as_tuple().digits)  # as boto3 serialises it: every digit written counts
    return digits <= _MAX_DIGITS and _MIN_MAGNITUDE <= magnitude <= _MAX_MAGNITUDE


def _number_text(number: float) -> str:
    return str(number)


# ---------------------------------------------------------------- coercion by type
def _text(field: 'SheetField', raw: Any) -> Any:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return 'true' if raw else 'false'
    if isinstance(raw, int | float):
        return _number_text(raw)
    raise _Invalid(f'{field.title} must be text')


def _number(field: 'SheetField', raw: Any) -> Any:
    if isinstance(raw, bool):
        raise _Invalid(f'{field.title} must be a number')
    if isinstance(raw, int | float):
        number: int | float = raw
    elif isinstance(raw, str) and (parsed := _parse_number(raw.strip())) is not None:
        number = parsed
    else:
        raise _Invalid(f'{field.title} must be a number')
    if not _fits(number):
        raise _Invalid(f'{field.title} is outside the range of numbers that can be stored')
    return number


def _parse_number(text: str) -> int | float | None:
    try:
        decimal = Decimal(text)
    except InvalidOperation:
        return None
    if not decimal.is_finite():
        return None
    if decimal == decimal.to_integral_value() and 'e' not in text.lower() and '.' not in text:
        return int(decimal)
    return float(decimal)


def _boolean(field: 'SheetField', raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in {0, 1}:
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Invalid(f'{field.title} must be true or false')


def _date(field: 'SheetField', raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid(f'{field.title} must be a date (YYYY-MM-DD)')
    text = raw.strip()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        midnight = moment.time() == datetime.min.time() and moment.tzinfo is None
        return moment.date().isoformat() if midnight else moment.isoformat()
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise _Invalid(f'{field.title} must be a date (YYYY-MM-DD)')


def _option(field: 'SheetField', raw: Any) -> Any:
    options = field.options()
    for option in options:
        if raw == option.value and type(raw) is type(option.value):
            return option.value
    text = str(raw).strip() if isinstance(raw, str | int | float) and not isinstance(raw, bool) else None
    if text is not None:
        for option in options:
            if text == str(option.value) or (option.label and text.casefold() == option.label.casefold()):
                return option.value
    if (field.config or {}).get('allowCustom') is True and isinstance(raw, str | int | float | bool):
        return raw
    listed = ', '.join(str(option.value) for option in options[:_LISTED_OPTIONS])
    more = ', …' if len(options) > _LISTED_OPTIONS else ''
    raise _Invalid(f'{field.title}: {raw!r} is not one of the options ({listed}{more})', 'invalid-option')


def _reference(field: 'SheetField', raw: Any) -> str:
    if isinstance(raw, str) or (isinstance(raw, int) and not isinstance(raw, bool)):
        return str(raw)
    raise _Invalid(f'{field.title} must be the id or key of a {field.config and field.config.get("ref")} record')


def _items(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _string_list(field: 'SheetField', raw: Any) -> list[str]:
    items = []
    for item in _items(raw):
        if isinstance(item, dict | list) or item is None:
            raise _Invalid(f'{field.title} must be a list of text values')
        items.append(_text(field, item))
    return items


def _enum_list(field: 'SheetField', raw: Any) -> list[Any]:
    chosen = []
    for item in _items(raw):
        if isinstance(item, dict | list) or item is None:
            raise _Invalid(f'{field.title} must be a list of options', 'invalid-option')
        chosen.append(_option(field, item))
    return chosen


_COERCE: Final = {
    'string': _text,
    'number': _number,
    'boolean': _boolean,
    'date': _date,
    'enum': _option,
    'reference': _reference,
    'string-list': _string_list,
    'enum-list': _enum_list,
}
