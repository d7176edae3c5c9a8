"""sheet:export and workbook:export through the real state machine: CSV by multipart upload over many
steps, the record query of ExportJobConfig.options, XLSX, the files they register, and failures."""

import csv
import io
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from jobs_core.object_store import ObjectStore
from tests.builders import TENANT
from tests.unit.data_fixtures import BUCKET, data_api_fixture  # noqa: F401 - fixtures
from tests.unit.system_fixtures import (
    dynamodb_fixture,  # noqa: F401 - fixture
    system_fixture,  # noqa: F401 - fixture
)

PEOPLE = [
    {'name': 'Ann', 'email': 'ann@x', 'age': 31, 'active': 'yes', 'tier': 'gold'},
    {'name': 'Bob', 'email': 'bob@x', 'age': 'forty'},
    {'name': 'Cy', 'age': 19, 'tier': 'silver'},
    {'name': 'Dee, "the third"', 'email': 'dee@x', 'age': 52.5, 'active': 'no'},
]
LABELS = ['Name', 'email', 'age', 'active', 'tier']


def sheet_with(system, rows: list[dict[str, Any]]) -> dict[str, Any]:
    sheet = system.data_api.sheet()
    for start in range(0, len(rows), 1000):
        assert system.data_api.insert(sheet['id'], rows[start : start + 1000]).status == 201
    return sheet


def export(system, source: str, job_type: str = 'sheet', **options: Any) -> dict[str, Any]:
    job = system.create(type=job_type, operation='export', source=source, config={'options': options})
    return system.run(job['id'])


def stored(system, file_id: str) -> bytes:
    key = f'files/{TENANT.environment_id}/{file_id}'
    return system.data_api.s3.get_object(Bucket=BUCKET, Key=key)['Body'].read()


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_a_sheet_is_exported_to_a_csv_file_with_a_download(system):
    # GIVEN a sheet of four records, one invalid
    sheet = sheet_with(system, PEOPLE)
    # WHEN it is exported
    done = export(system, sheet['id'])
    # THEN the job completed with a download of the CSV: labels as header, every record in order
    assert done['status'] == 'complete', done
    assert done['info'] == 'Exported 4 records'
    [file_id] = done['result']['fileIds']
    nxt = done['outcome']['next']
    assert (nxt['type'], nxt['fileName'], nxt['label']) == ('download', 'Contacts.csv', 'Download')
    assert f'{file_id}' in nxt['url']
    assert rows_of(stored(system, file_id)) == [
        LABELS,
        ['Ann', 'ann@x', '31', 'true', 'gold'],
        ['Bob', 'bob@x', 'forty', '', ''],
        ['Cy', '', '19', '', 'silver'],
        ['Dee, "the third"', 'dee@x', '52.5', 'false', ''],
    ]
    # AND the file is registered, complete, in export mode, beside the sheet
    file = system.data_api.call('GET', f'/v1/files/{file_id}').data
    assert {key: file[key] for key in ('mode', 'status', 'name', 'mimetype', 'sheetId', 'workbookId')} == {
        'mode': 'export',
        'status': 'complete',
        'name': 'Contacts.csv',
        'mimetype': 'text/csv',
        'sheetId': sheet['id'],
        'workbookId': sheet['workbookId'],
    }
    assert file['size'] == len(stored(system, file_id))
    listed = system.data_api.call('GET', '/v1/files', query={'mode': 'export'}).data
    assert [item['id'] for item in listed] == [file_id]


def test_a_big_export_is_a_multipart_upload_over_many_steps(system):
    # GIVEN a step stops as soon as it sent a part (1 KiB parts, pages of 10 records)
    system.sizes.budget_seconds = 0
    rows = [{'name': f'Person {index:03d}', 'email': f'p{index}@example.com', 'age': index} for index in range(300)]
    sheet = sheet_with(system, rows)
    parts: list[int] = []
    upload_part = ObjectStore.upload_part

    def counting(self, key, upload_id, number, body):
        parts.append(number)
        return upload_part(self, key, upload_id, number, body)

    ObjectStore.upload_part = counting  # type: ignore[method-assign]
    try:
        done = export(system, sheet['id'])
    finally:
        ObjectStore.upload_part = upload_part  # type: ignore[method-assign]
    # THEN it took many steps and parts, and the file is every record once, in order
    assert done['status'] == 'complete', done
    process_steps = [
        event
        for event in system.history(done['id'])
        if '"step":"process"' in (event.get('taskScheduledEventDetails') or {}).get('parameters', '').replace(' ', '')
    ]
    assert len(process_steps) > 5
    assert len(parts) > 5 and parts == sorted(set(parts))
    exported = rows_of(stored(system, done['result']['fileIds'][0]))
    assert exported[0] == LABELS
    assert [row[0] for row in exported[1:]] == [row['name'] for row in rows]


def test_a_step_that_runs_again_sends_its_parts_again_without_duplicating_rows(system, monkeypatch):
    system.sizes.budget_seconds = 0
    rows = [{'name': f'Person {index:03d}', 'email': f'p{index}@x'} for index in range(120)]
    sheet = sheet_with(system, rows)
    upload_part = ObjectStore.upload_part
    calls = {'count': 0}

    def failing_once(self, key, upload_id, number, body):
        calls['count'] += 1
        etag = upload_part(self, key, upload_id, number, body)
        if calls['count'] == 3:
            from jobs_core.errors import ServiceUnavailable

            raise ServiceUnavailable('S3 is busy')  # the part went up, but the step fails: it runs again
        return etag

    monkeypatch.setattr(ObjectStore, 'upload_part', failing_once)
    done = export(system, sheet['id'])
    assert done['status'] == 'complete', done
    exported = rows_of(stored(system, done['result']['fileIds'][0]))
    assert [row[0] for row in exported[1:]] == [row['name'] for row in rows]


@pytest.mark.parametrize(
    ('options', 'names'),
    [
        ({'filter': 'valid'}, ['Ann', 'Cy', 'Dee, "the third"']),
        ({'filter': 'error'}, ['Bob']),
        ({'filter': 'error', 'filterField': 'email'}, []),
        ({'searchField': 'email', 'searchValue': 'x'}, ['Ann', 'Bob', 'Dee, "the third"']),
        ({'searchField': 'name', 'searchValue': '"Cy"'}, ['Cy']),
        ({'searchField': 'tier', 'searchValue': '""'}, ['Bob', 'Dee, "the third"']),
        ({'sortField': 'name', 'sortDirection': 'desc'}, ['Dee, "the third"', 'Cy', 'Bob', 'Ann']),
        ({'sortField': 'age'}, ['Cy', 'Ann', 'Dee, "the third"', 'Bob']),
        ({'filter': 'all', 'sortField': 'tier'}, ['Ann', 'Cy', 'Bob', 'Dee, "the third"']),
    ],
)
def test_the_options_select_and_sort_what_is_exported(system, options, names):
    sheet = sheet_with(system, PEOPLE)
    done = export(system, sheet['id'], **options)
    assert done['status'] == 'complete', done
    assert [row[0] for row in rows_of(stored(system, done['result']['fileIds'][0]))[1:]] == names


def test_ids_are_the_records_without_a_filter_and_those_left_out_with_one(system):
    sheet = sheet_with(system, PEOPLE)
    ids = [record['id'] for record in system.data_api.records(sheet['id']).data['records']]
    done = export(system, sheet['id'], ids=[ids[2], ids[0]])
    assert [row[0] for row in rows_of(stored(system, done['result']['fileIds'][0]))[1:]] == ['Cy', 'Ann']
    done = export(system, sheet['id'], filter='valid', ids=[ids[0]])
    assert [row[0] for row in rows_of(stored(system, done['result']['fileIds'][0]))[1:]] == ['Cy', 'Dee, "the third"']


def test_a_workbook_export_is_a_file_per_sheet(system):
    space = system.data_api.space()
    other = {'name': 'Cities', 'slug': 'cities', 'fields': [{'key': 'city', 'type': 'string'}]}
    workbook = system.data_api.workbook(
        space_id=space['id'],
        sheets=[
            {'name': 'Contacts', 'slug': 'contacts', 'fields': [{'key': 'name', 'type': 'string'}]},
            other,
        ],
    )
    contacts, cities = workbook['sheets']
    system.data_api.insert(contacts['id'], [{'name': 'Ann'}])
    system.data_api.insert(cities['id'], [{'city': 'Paris'}, {'city': 'Lyon'}])
    done = export(system, workbook['id'], job_type='workbook')
    assert done['status'] == 'complete', done
    nxt = done['outcome']['next']
    assert nxt['type'] == 'files'
    assert [file['label'] for file in nxt['files']] == ['Contacts.csv', 'Cities.csv']
    assert [rows_of(stored(system, file['fileId'])) for file in nxt['files']] == [
        [['name'], ['Ann']],
        [['city'], ['Paris'], ['Lyon']],
    ]
    assert done['outcome']['message'] == 'Exported 3 records to 2 files'


def test_xlsx_when_asked(system):
    sheet = sheet_with(system, PEOPLE)
    done = export(system, sheet['id'], format='xlsx')
    assert done['status'] == 'complete', done
    assert done['outcome']['next']['fileName'] == 'Contacts.xlsx'
    book = CalamineWorkbook.from_filelike(io.BytesIO(stored(system, done['result']['fileIds'][0])))
    assert book.sheet_names == ['Contacts']
    assert book.get_sheet_by_index(0).to_python() == [
        LABELS,
        ['Ann', 'ann@x', 31.0, True, 'gold'],
        ['Bob', 'bob@x', 'forty', '', ''],
        ['Cy', '', 19.0, '', 'silver'],
        ['Dee, "the third"', 'dee@x', 52.5, False, ''],
    ]
    file = system.data_api.call('GET', f'/v1/files/{done["result"]["fileIds"][0]}').data
    assert file['mimetype'] == 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'


def test_a_workbook_xlsx_has_a_worksheet_per_sheet(system):
    space = system.data_api.space()
    workbook = system.data_api.workbook(
        space_id=space['id'],
        name='Q3 / 2024',
        sheets=[
            {'name': 'Contacts: all', 'slug': 'contacts', 'fields': [{'key': 'name', 'type': 'string'}]},
            {'name': 'Cities', 'slug': 'cities', 'fields': [{'key': 'city', 'type': 'string'}]},
        ],
    )
    system.data_api.insert(workbook['sheets'][1]['id'], [{'city': 'Paris'}])
    done = export(system, workbook['id'], job_type='workbook', format='xlsx')
    assert done['status'] == 'complete', done
    assert done['outcome']['next']['fileName'] == 'Q3 - 2024.xlsx'
    book = CalamineWorkbook.from_filelike(io.BytesIO(stored(system, done['result']['fileIds'][0])))
    assert book.sheet_names == ['Contacts- all', 'Cities']
    assert book.get_sheet_by_index(1).to_python() == [['city'], ['Paris']]


def test_an_export_of_what_is_not_there_fails_with_a_reason(system):
    assert export(system, 'us_sh_missing00001')['outcome']['message'] == 'Sheet us_sh_missing00001 not found'
    missing = export(system, 'us_wb_missing00001', job_type='workbook')
    assert missing['outcome']['message'] == 'Workbook us_wb_missing00001 not found'
    sheet = sheet_with(system, PEOPLE)
    unknown = export(system, sheet['id'], searchField='shoeSize', searchValue='42')
    assert unknown['status'] == 'failed'
    assert unknown['outcome']['message'] == "'shoeSize' is not a field of sheet contacts"


def test_an_empty_sheet_exports_its_header(system):
    sheet = system.data_api.sheet()
    done = export(system, sheet['id'])
    assert rows_of(stored(system, done['result']['fileIds'][0])) == [LABELS]
