"""Reading tabular files for extract jobs: CSV (delimiter sniffing, quotes, embedded newlines, BOM,
UTF-8 or Latin-1), TSV, JSON, JSON Lines and XLSX.

Text formats are read as a stream of byte lines, so memory holds one record at a time and every
row comes with the byte offset just past it: an extract that runs out of time hands that offset
to the next invocation, which reads on from there with a ranged GET. Pure: the caller supplies
the bytes (from S3, or a file in tests).
"""

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any, Final, Literal

from jobs_core.system.operations import OperationFailed

Format = Literal['csv', 'tsv', 'json', 'jsonl', 'xlsx']
SNIFF_BYTES: Final = 64 * 1024
HEADER_SEARCH_ROWS: Final = 10
DELIMITERS: Final = ',;\t|'
MAX_FIELD_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Layout:
    """What prepare learns of a file, carried in the job's cursor to every later step."""

    format: Format
    encoding: str = 'utf-8'
    delimiter: str = ','
    header_row: int = 0  # 0-based: the row that holds the field names
    headers: tuple[str, ...] = ()
    data_offset: int = 0  # byte offset of the first data row (text formats)
    data_line: int = 1  # 1-based line of the first data row (text formats)
    worksheet: int = 0  # XLSX: which worksheet (0-based)

    def to_cursor(self) -> dict[str, Any]:
        return {**asdict(self), 'headers': list(self.headers)}

    @classmethod
    def from_cursor(cls, cursor: dict[str, Any]) -> 'Layout':
        return cls(**{**cursor, 'headers': tuple(cursor['headers'])})


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # 1-based line or row number in the file, for messages a person can find
    values: dict[str, Any]
    end: int  # byte offset just past this row (text formats); the row index for others
    next_line: int = 0  # the line the next row starts on (text formats), to resume numbering


# ---------------------------------------------------------------- format and encoding
def format_of(name: str, mimetype: str | None = None) -> Format:
    lowered = name.lower()
    for suffix, found in (('.tsv', 'tsv'), ('.tab', 'tsv'), ('.jsonl', 'jsonl'), ('.ndjson', 'jsonl')):
        if lowered.endswith(suffix):
            return found  # type: ignore[return-value]
    for suffix, found in (('.json', 'json'), ('.xlsx', 'xlsx'), ('.csv', 'csv'), ('.txt', 'csv')):
        if lowered.endswith(suffix):
            return found  # type: ignore[return-value]
    by_type = {
        'text/csv': 'csv',
        'text/tab-separated-values': 'tsv',
        'application/json': 'json',
        'application/x-ndjson': 'jsonl',
        'application/jsonl': 'jsonl',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
    }
    if mimetype and mimetype.split(';')[0].strip() in by_type:
        return by_type[mimetype.split(';')[0].strip()]  # type: ignore[return-value]
    raise OperationFailed(f'{name}: not a file this platform extracts (CSV, TSV, JSON, JSON Lines or XLSX)')


def encoding_of(head: bytes) -> str:
    """UTF-8 (with or without a BOM) when the first bytes decode as UTF-8, else Latin-1."""
    if head.startswith(codecs.BOM_UTF8):
        return 'utf-8-sig'
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise OperationFailed('The file is UTF-16; save it as UTF-8 (or Latin-1) and upload it again')
    try:
        codecs.getincrementaldecoder('utf-8')().decode(head, final=False)
    except UnicodeDecodeError:
        return 'latin-1'
    return 'utf-8'


# ---------------------------------------------------------------- text lines with offsets
class _Lines:
    """Decoded lines of a byte stream, each with its line ending, counting the bytes consumed."""

    def __init__(self, stream: IO[bytes], encoding: str, start: int) -> None:
        self._stream = stream
        self._encoding = 'utf-8' if encoding == 'utf-8-sig' and start else encoding
        self.consumed = start
        self.line = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline()
        if not raw:
            raise StopIteration
        self.consumed += len(raw)
        self.line += 1
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError as error:
            raise OperationFailed(f'Line {self.line}: not valid {self._encoding} text ({error.reason})') from error


def _rows_of_csv(lines: _Lines, delimiter: str) -> Iterator[tuple[int, list[str], int]]:
    """(first line, values, offset after) of each record; a record may span lines."""
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        start_line = lines.line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise OperationFailed(f'Line {start_line}: {error}') from error
        yield start_line, values, lines.consumed


def _sniff_delimiter(sample: str, default: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return default


def _header_index(rows: list[list[str]]) -> int:
    """The row that holds the field names: the first of the leading rows whose cells are all
    filled with distinct text (no numbers) and that is as wide as the data below it."""
    width = max((sum(1 for value in row if str(value).strip()) for row in rows), default=0)
    for index, row in enumerate(rows):
        cells = [str(value).strip() for value in row if str(value).strip()]
        if len(cells) >= max(1, width * 0.8) and len(set(cells)) == len(cells) and not any(map(_numeric, cells)):
            return index
    return 0


def _numeric(text: str) -> bool:
    try:
        float(text.replace(',', ''))
    except ValueError:
        return False
    return True


def _field_names(row: list[Any]) -> tuple[str, ...]:
    names: list[str] = []
    for position, value in enumerate(row):
        name = str(value).strip() or f'column_{position + 1}'
        while name in names:  # repeated headers get a suffix rather than overwrite each other
            name = f'{name}_{position + 1}'
        names.append(name)
    while names and names[-1].startswith('column_') and not str(row[len(names) - 1]).strip():
        names.pop()  # trailing empty header cells (a spreadsheet's ragged right edge)
    return tuple(names)


# ---------------------------------------------------------------- the layout, learnt when a job prepares
def layout_of(
    fmt: Format,
    head: bytes,
    stream: IO[bytes] | None = None,
    *,
    worksheet: int = 0,
    header_row: int | None = None,
    delimiter: str | None = None,
) -> Layout:
    """The layout of a file from its first bytes (text formats) or the whole file (XLSX). `header_row`
    (0-based) overrides the detected header row, `delimiter` the sniffed one."""
    searched = max(HEADER_SEARCH_ROWS, (header_row or 0) + 1)
    if fmt == 'xlsx':
        assert stream is not None
        first = list(_xlsx_rows(stream, limit=searched, worksheet=worksheet))
        if not first:
            raise OperationFailed('The workbook has no rows')
        index = _chosen(header_row, first)
        return Layout(format='xlsx', header_row=index, headers=_field_names(first[index]), worksheet=worksheet)
    encoding = encoding_of(head)
    if fmt == 'jsonl':
        return Layout(format='jsonl', encoding=encoding)
    if fmt == 'json':
        return Layout(format='json', encoding=encoding)
    text = head.decode(encoding if encoding != 'utf-8-sig' else 'utf-8-sig', errors='ignore')
    delimiter = delimiter or ('\t' if fmt == 'tsv' else _sniff_delimiter(text, ','))
    lines = _Lines(io.BytesIO(head), encoding, 0)
    leading: list[tuple[list[str], int, int]] = []
    try:
        for _, values, end in _rows_of_csv(lines, delimiter):
            leading.append((values, end, lines.line + 1))
            if len(leading) > searched:
                break
    except OperationFailed:
        pass  # the sample may end inside a quoted field; what was read is enough to decide
    if not leading:
        raise OperationFailed('The file is empty')
    index = _chosen(header_row, [values for values, _, _ in leading])
    return Layout(
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        header_row=index,
        headers=_field_names(leading[index][0]),
        data_offset=leading[index][1],
        data_line=leading[index][2],
    )


def _chosen(header_row: int | None, leading: list[list[Any]]) -> int:
    if header_row is None:
        return _header_index(leading)
    if header_row >= len(leading):
        raise OperationFailed(f'Header row {header_row} is past the end of the file ({len(leading)} rows)')
    return header_row


def xlsx_worksheets(stream: IO[bytes]) -> list[tuple[int, str, int]]:
    """(index, name, rows) of each worksheet of a workbook that has rows."""
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 - only XLSX extracts need it

    try:
        book = CalamineWorkbook.from_filelike(stream)
        sheets = [(index, name, book.get_sheet_by_index(index).height) for index, name in enumerate(book.sheet_names)]
    except Exception as error:  # calamine raises its own error types for a damaged workbook
        raise OperationFailed(f'The workbook cannot be read: {error}') from error
    return [(index, name, height) for index, name, height in sheets if height]


def json_keys(values: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The field names of JSON objects: their keys in the order first seen, nested objects flattened
    with dots (`{"a": {"b": 1}}` is field `a.b`)."""
    seen: dict[str, None] = {}
    for value in values:
        for key in flatten(value):
            seen.setdefault(key, None)
    return tuple(seen)


def flatten(value: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, inner in value.items():
        name = f'{prefix}{key}'
        if isinstance(inner, dict) and inner:
            flat.update(flatten(inner, f'{name}.'))
        else:
            flat[name] = inner
    return flat


# ---------------------------------------------------------------- the rows, read as a job processes
def rows(layout: Layout, stream: IO[bytes], position: int, first_number: int) -> Iterator[Row]:
    """Data rows from `position` (a byte offset for text formats, a row index for JSON and XLSX).

    `stream` starts at `position` for text formats (a ranged read) and at the file's start
    otherwise; `first_number` is the line `position` is on (layout.data_line at first).
    """
    if layout.format in {'csv', 'tsv'}:
        yield from _csv_rows(layout, stream, position, first_number)
    elif layout.format == 'jsonl':
        yield from _jsonl_rows(layout, stream, position, first_number)
    elif layout.format == 'json':
        yield from _json_rows(stream, position)
    else:
        yield from _xlsx_data(layout, stream, position)


def _csv_rows(layout: Layout, stream: IO[bytes], offset: int, number: int) -> Iterator[Row]:
    lines = _Lines(stream, layout.encoding, offset)
    lines.line = number - 1
    width = len(layout.headers)
    for line, values, end in _rows_of_csv(lines, layout.delimiter):
        if not any(value.strip() for value in values):
            continue  # blank lines carry no record
        if len(values) > width and any(value.strip() for value in values[width:]):
            raise OperationFailed(f'Line {line}: {len(values)} values, but the header names {width} fields')
        yield Row(line, dict(zip(layout.headers, values, strict=False)), end, lines.line + 1)


def _jsonl_rows(layout: Layout, stream: IO[bytes], offset: int, number: int) -> Iterator[Row]:
    lines = _Lines(stream, layout.encoding, offset)
    lines.line = number - 1
    for text in lines:
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise OperationFailed(f'Line {lines.line}: not valid JSON ({error.msg}, column {error.colno})') from error
        if not isinstance(value, dict):
            raise OperationFailed(f'Line {lines.line}: a JSON object was expected, found {type(value).__name__}')
        yield Row(lines.line, value, lines.consumed, lines.line + 1)


def _json_rows(stream: IO[bytes], skip: int) -> Iterator[Row]:
    import ijson  # noqa: PLC0415 - only JSON extracts need it

    index = 0
    try:
        for value in ijson.items(stream, 'item', use_float=True):
            index += 1
            if index <= skip:
                continue  # a JSON array has no byte offset to resume from: it is re-read from the start
            if not isinstance(value, dict):
                raise OperationFailed(f'Item {index}: a JSON object was expected, found {type(value).__name__}')
            yield Row(index, value, index)
    except ijson.JSONError as error:
        raise OperationFailed(f'After item {index}: not valid JSON ({error})') from error


def _xlsx_rows(stream: IO[bytes], limit: int | None = None, worksheet: int = 0) -> Iterable[list[Any]]:
    from python_calamine import CalamineWorkbook  # noqa: PLC0415 - only XLSX extracts need it

    try:
        sheet = CalamineWorkbook.from_filelike(stream).get_sheet_by_index(worksheet)
    except Exception as error:  # calamine raises its own error types for a damaged workbook
        raise OperationFailed(f'The workbook cannot be read: {error}') from error
    for index, values in enumerate(sheet.iter_rows()):
        if limit is not None and index >= limit:
            return
        yield values


def _xlsx_data(layout: Layout, stream: IO[bytes], skip: int) -> Iterator[Row]:
    for index, values in enumerate(_xlsx_rows(stream, worksheet=layout.worksheet)):
        if index <= layout.header_row or index - layout.header_row <= skip:
            continue
        cells = [_cell(value) for value in values]
        if not any(cell.strip() for cell in cells):
            continue
        yield Row(index + 1, dict(zip(layout.headers, cells, strict=False)), index - layout.header_row)


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return '' if value is None else str(value)
