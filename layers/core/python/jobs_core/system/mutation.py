"""The `mutateRecord` of a MutateJobConfig: a JSONata expression, never code the platform runs.

Flatfile runs a JavaScript function here; this platform evaluates a JSONata expression (jsonata-python)
over each record, bounded in time and depth, so a caller's text can compute but never act.

The contract:
- input (`$`): the record's values, `{fieldKey: value}` (a field left empty is absent);
  bindings: `$id` (the record's id) and `$metadata` (its metadata object).
- result: an object whose keys are field keys of the sheet. Each returned key is set (validated like
  any write; `null` clears it); keys not returned keep their values. `{}` changes nothing.
- it fails on a record when it raises an error, runs longer than TIMEOUT_MS or nests deeper than
  MAX_DEPTH, returns anything but an object (undefined included), or returns a key that is not a field.
"""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import jsonata
from jsonata import JException

if TYPE_CHECKING:
    from jobs_core.sheets import SheetState

TIMEOUT_MS: Final = 1000  # per record: far above what a real mutation takes (tens of microseconds)
MAX_DEPTH: Final = 100  # JSONata evaluation depth; Python's own recursion limit is reached far later
MESSAGE_CHARS: Final = 300
TIMED_OUT: Final = 'D1012'


class MutationInvalid(ValueError):
    """The text is not a JSONata expression; `reason` says why, for the person who wrote it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Evaluated:
    """What the expression made of one record: the values to set, or why it failed."""

    values: dict[str, Any] | None = None
    error: str | None = None
    timed_out: bool = False


class Mutation:
    def __init__(self, text: str) -> None:
        try:
            self._expression = jsonata.Jsonata(text)
        except JException as invalid:
            raise MutationInvalid(_described(invalid, text)) from invalid
        except RecursionError as deep:
            raise MutationInvalid('it nests too deeply to parse') from deep
        if self._expression.errors:
            raise MutationInvalid(_described(self._expression.errors[0], text))

    def evaluate(self, record: dict[str, Any], sheet: 'SheetState', *, timeout_ms: int = TIMEOUT_MS) -> Evaluated:
        """The new values for `record` (a stored record: id, values, metadata), or the error."""
        frame = self._expression.create_frame(self._expression.environment)
        # A fresh bound per record: the Timebox's clock starts when it is set.
        frame.set_runtime_bounds(max(1, timeout_ms), MAX_DEPTH)
        frame.bind('id', record['id'])
        frame.bind('metadata', record.get('metadata') or {})
        try:
            result = self._expression.evaluate(record.get('values') or {}, frame)
        except JException as failed:
            return Evaluated(error=_clipped(str(failed)), timed_out=failed.error == TIMED_OUT)
        except RecursionError:
            return Evaluated(error=f'The expression nests deeper than {MAX_DEPTH} levels')
        except Exception as failed:
            return Evaluated(error=_clipped(f'The expression failed: {failed}'))
        return _checked(result, sheet)


def _checked(result: Any, sheet: 'SheetState') -> Evaluated:
    if not isinstance(result, dict):
        got = 'nothing (undefined)' if result is None else type(result).__name__
        return Evaluated(error=f'The expression must return an object of field keys; it returned {got}')
    unknown = [key for key in result if key not in sheet.fields]
    if unknown:
        listed = ', '.join(repr(key) for key in unknown[:5])
        return Evaluated(
            error=_clipped(f'The expression returned keys that are not fields of sheet {sheet.slug}: {listed}')
        )
    try:
        # JSON values only (no functions), as plain lists and dicts rather than JSONata's sequences.
        values: dict[str, Any] = json.loads(json.dumps(result))
    except (TypeError, ValueError) as odd:
        return Evaluated(error=_clipped(f'The expression returned a value that is not JSON: {odd}'))
    return Evaluated(values=values)


def _described(error: Exception, text: str) -> str:
    code = getattr(error, 'error', None)
    position = getattr(error, 'location', None)
    where = f', at character {position}' if isinstance(position, int) and 0 <= position <= len(text) else ''
    detail = f' ({code}{where})' if code else ''
    return _clipped(f'{error}{detail}')


def _clipped(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + '…'
