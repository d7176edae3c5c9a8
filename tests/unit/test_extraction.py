"""Reading files for extract jobs: formats, encodings, header rows, resuming, and bad input."""

import io
import json

import pytest
import xlsxwriter

from jobs_core.extraction import Layout, format_of, layout_of, rows
from jobs_core.system.operations import OperationFailed


def read(data: bytes, fmt: str = 'csv', start_at: int | None = None) -> list:
    layout = layout_of(fmt, data[:65536], io.BytesIO(data))
    if fmt in {'xlsx', 'json'}:
        return list(rows(layout, io.BytesIO(data), 0, 1))
    if start_at is None:
        return list(rows(layout, io.BytesIO(data[layout.data_offset :]), layout.data_offset, layout.data_line))
    previous = next(row for row in read(data, fmt) if row.end == start_at)
    return list(rows(layout, io.BytesIO(data[start_at:]), start_at, previous.next_line))


@pytest.mark.parametrize(
    ('name', 'mimetype', 'fmt'),
    [
        ('a.csv', None, 'csv'),
        ('A.TSV', None, 'tsv'),
        ('a.jsonl', None, 'jsonl'),
        ('a.ndjson', None, 'jsonl'),
        ('a.json', None, 'json'),
        ('a.xlsx', None, 'xlsx'),
        ('upload', 'text/csv; charset=utf-8', 'csv'),
    ],
)
def test_format_of(name, mimetype, fmt):
    assert format_of(name, mimetype) == fmt


def test_unknown_formats_are_refused_with_a_message():
    with pytest.raises(OperationFailed, match='not a file this platform extracts'):
        format_of('report.pdf', 'application/pdf')


@pytest.mark.parametrize(('delimiter', 'text'), [(',', 'a,b\n1,2\n'), (';', 'a;b\n1;2\n'), ('|', 'a|b\n1|2\n')])
def test_delimiters_are_sniffed(delimiter, text):
    layout = layout_of('csv', text.encode())
    assert layout.delimiter == delimiter
    assert [row.values for row in read(text.encode())] == [{'a': '1', 'b': '2'}]


def test_quoted_fields_embedded_newlines_and_doubled_quotes():
    data = b'name,notes\n"Smith, Ann","line one\nline two"\nBob,"He said ""hi"""\n'
    assert [row.values for row in read(data)] == [
        {'name': 'Smith, Ann', 'notes': 'line one\nline two'},
        {'name': 'Bob', 'notes': 'He said "hi"'},
    ]


def test_bom_and_windows_line_endings():
    data = '\ufeffname,city\r\nAnn,Paris\r\n'.encode()
    layout = layout_of('csv', data)
    assert layout.headers == ('name', 'city')
    assert [row.values for row in read(data)] == [{'name': 'Ann', 'city': 'Paris'}]


def test_latin_1_is_read_when_the_file_is_not_utf_8():
    data = 'nom,ville\nJosé,Zürich\n'.encode('latin-1')
    assert layout_of('csv', data).encoding == 'latin-1'
    assert [row.values for row in read(data)] == [{'nom': 'José', 'ville': 'Zürich'}]


def test_the_header_row_is_detected_below_a_preamble():
    data = b'Contacts export\nGenerated 2024-01-01\n\nfirst,last,age\nAnn,Lee,31\nBob,Ray,42\n'
    layout = layout_of('csv', data)
    assert (layout.header_row, layout.headers) == (3, ('first', 'last', 'age'))  # the blank line is a row
    assert [(row.number, row.values['first']) for row in read(data)] == [(5, 'Ann'), (6, 'Bob')]


def test_reading_resumes_at_the_offset_after_any_row():
    data = b'a,b\n1,"x\ny"\n2,z\n3,w\n'
    everything = read(data)
    for index, row in enumerate(everything):
        rest = read(data, start_at=row.end)
        assert [r.values for r in rest] == [r.values for r in everything[index + 1 :]]


def test_blank_lines_and_short_rows():
    data = b'a,b,c\n\n1,2\n,,\n3,4,5\n'
    assert [row.values for row in read(data)] == [{'a': '1', 'b': '2'}, {'a': '3', 'b': '4', 'c': '5'}]


def test_repeated_and_empty_header_names_stay_distinct():
    assert layout_of('csv', b'name,name,,x\n1,2,3,4\n').headers == ('name', 'name_2', 'column_3', 'x')


def test_extra_values_fail_with_the_line():
    with pytest.raises(OperationFailed, match=r'^Line 3: 3 values, but the header names 2 fields$'):
        read(b'a,b\n1,2\n1,2,3\n')


def test_an_unterminated_quote_fails_with_the_line():
    with pytest.raises(OperationFailed, match=r'^Line 2: '):
        read(b'a,b\n1,"never closed\n2,3\n')


def test_invalid_utf_8_after_the_sample_fails_with_the_line():
    data = b'a,b\n' + b'1,2\n' * 30000 + b'3,\xff\xfe\n'
    layout = layout_of('csv', data[:65536])
    assert layout.encoding == 'utf-8'
    with pytest.raises(OperationFailed, match=r'^Line 30002: not valid utf-8'):
        list(rows(layout, io.BytesIO(data[layout.data_offset :]), layout.data_offset, 2))


def test_utf_16_is_refused_with_advice():
    with pytest.raises(OperationFailed, match='UTF-16'):
        layout_of('csv', 'a,b\n'.encode('utf-16'))


def test_tsv():
    assert [row.values for row in read(b'a\tb\n1,5\t2\n', 'tsv')] == [{'a': '1,5', 'b': '2'}]


def test_json_lines_resume_and_errors():
    data = b'{"a": 1}\n\n{"a": 2, "b": "x"}\n'
    found = read(data, 'jsonl')
    assert [row.values for row in found] == [{'a': 1}, {'a': 2, 'b': 'x'}]
    assert [row.values for row in read(data, 'jsonl', start_at=found[0].end)] == [{'a': 2, 'b': 'x'}]
    with pytest.raises(OperationFailed, match=r'^Line 2: not valid JSON'):
        read(b'{"a": 1}\n{"a": \n', 'jsonl')
    with pytest.raises(OperationFailed, match=r'^Line 1: a JSON object was expected, found list'):
        read(b'[1, 2]\n', 'jsonl')


def test_json_array_and_skipping_what_was_read():
    data = json.dumps([{'a': 1}, {'a': 2.5}, {'a': 'three'}]).encode()
    layout = layout_of('json', data)
    assert [row.values for row in rows(layout, io.BytesIO(data), 0, 1)] == [{'a': 1}, {'a': 2.5}, {'a': 'three'}]
    assert [row.values for row in rows(layout, io.BytesIO(data), 2, 1)] == [{'a': 'three'}]
    with pytest.raises(OperationFailed, match='not valid JSON'):
        list(rows(layout, io.BytesIO(b'[{"a": 1}, {"a"'), 0, 1))


def xlsx(rows_: list[list]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    for index, values in enumerate(rows_):
        sheet.write_row(index, 0, values)
    workbook.close()
    return buffer.getvalue()


def test_xlsx_with_a_title_row_numbers_and_blanks():
    data = xlsx([['Quarterly'], ['name', 'amount'], ['Ann', 12], [], ['Bob', 3.5]])
    layout = layout_of('xlsx', b'', io.BytesIO(data))
    assert (layout.header_row, layout.headers) == (1, ('name', 'amount'))
    assert [row.values for row in rows(layout, io.BytesIO(data), 0, 1)] == [
        {'name': 'Ann', 'amount': '12'},
        {'name': 'Bob', 'amount': '3.5'},
    ]
    assert [row.values for row in rows(layout, io.BytesIO(data), 1, 1)] == [{'name': 'Bob', 'amount': '3.5'}]


def test_a_damaged_xlsx_is_refused():
    with pytest.raises(OperationFailed, match='cannot be read'):
        layout_of('xlsx', b'', io.BytesIO(b'PK\x03\x04 not really a zip'))


def test_layout_round_trips_through_a_cursor():
    layout = layout_of('csv', b'a;b\n1;2\n')
    assert Layout.from_cursor(json.loads(json.dumps(layout.to_cursor()))) == layout
