"""file:extract through the real state machine: an import upload's job, the workbook it makes, every
format, resuming across steps, retries that never duplicate a record, cancel, and bad files."""

import io
import json
from typing import Any

import pytest
import xlsxwriter

from jobs_core.errors import ServiceUnavailable
from jobs_core.records_store import RecordStore
from tests.builders import TENANT
from tests.unit.data_fixtures import DATA_TABLE, data_api_fixture  # noqa: F401 - fixtures
from tests.unit.system_fixtures import (
    all_records,
    csv_bytes,
    dynamodb_fixture,  # noqa: F401 - fixture
    system_fixture,  # noqa: F401 - fixture
    values_of,
)

HEADER = ['name', 'email', 'city']


def people(count: int) -> list[list[str]]:
    return [[f'Person {index}', f'p{index}@example.com', ['Paris', 'Lyon', ''][index % 3]] for index in range(count)]


def upload(system, content: bytes, name: str = 'contacts.csv', content_type: str = 'text/csv') -> dict[str, Any]:
    space = system.data_api.space()
    reply = system.data_api.upload(content, space_id=space['id'], name=name, content_type=content_type)
    assert reply.status == 201, reply.body
    return dict(reply.data)


def extracted(system, job: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    workbook = system.data_api.call('GET', f'/v1/workbooks/{job["result"]["workbookId"]}').data
    return workbook, [all_records(system.data_api, sheet['id']) for sheet in workbook['sheets']]


def commits(system, kind: str = 'insert') -> list[dict[str, Any]]:
    return [
        item
        for item in system.data_api.dynamodb.scan(TableName='jobs-test')['Items']
        if item['entity']['S'] == 'commit' and item['kind']['S'] == kind
    ]


# ---------------------------------------------------------------- the happy path
def test_an_import_upload_is_extracted_into_a_new_workbook(system):
    # GIVEN a CSV uploaded in import mode
    rows = people(35)
    file = upload(system, csv_bytes([HEADER, *rows]))

    # THEN the upload created a managed, immediate file:extract job for it
    job = system.extract_job(file['id'])
    assert {key: job[key] for key in ('source', 'fileId', 'managed', 'trigger', 'status', 'mode')} == {
        'source': file['id'],
        'fileId': file['id'],
        'managed': True,
        'trigger': 'immediate',
        'status': 'ready',
        'mode': 'foreground',
    }

    # WHEN it runs
    done = system.run(job['id'])

    # THEN it completed, with the workbook as the outcome's next and the header row it detected
    assert done['status'] == 'complete', done
    assert done['progress'] == 100
    assert done['info'] == 'Extracted 35 rows'
    assert done['config'] == {'driver': 'csv', 'detectedHeaderRow': 0}
    assert done['result']['rows'] == 35
    assert done['outcome']['next'] == {'type': 'id', 'id': done['result']['workbookId'], 'label': 'Open the workbook'}
    assert done['outcome']['message'] == 'Extracted 35 rows from contacts.csv'

    # AND the workbook has one sheet named after the file, of string fields named after the headers
    workbook, [records] = extracted(system, done)
    assert workbook['name'] == 'contacts.csv'
    [sheet] = workbook['sheets']
    assert (sheet['name'], sheet['slug']) == ('contacts', 'contacts')
    assert [(field['key'], field['label'], field['type']) for field in sheet['config']['fields']] == [
        (key, key, 'string') for key in HEADER
    ]
    # AND a record per row, in order, empty cells left out, counted and committed once
    assert values_of(records) == [{key: value for key, value in zip(HEADER, row, strict=True) if value} for row in rows]
    assert sheet['countRecords'] == {'total': 35, 'valid': 35, 'error': 0}
    assert [(commit['count']['N'], commit['jobId']['S']) for commit in commits(system)] == [('35', job['id'])]
    assert {record['commitId'] for record in records} == {commits(system)[0]['id']['S']}
    # AND the file knows the workbook it was extracted into
    assert system.data_api.call('GET', f'/v1/files/{file["id"]}').data['workbookId'] == workbook['id']
    # AND the payloads carried ids and a small cursor, never data
    for event in system.history(job['id']):
        details = event.get('taskScheduledEventDetails') or {}
        assert len(details.get('parameters', '')) < 2048


def test_an_export_upload_is_not_extracted(system):
    space = system.data_api.space()
    file = system.data_api.upload(csv_bytes([HEADER]), space_id=space['id'], mode='export').data
    assert system.data_api.call('GET', '/v1/jobs', query={'fileId': file['id']}).data == []


def test_a_presigned_upload_is_extracted_once_it_is_complete(system):
    space = system.data_api.space()
    content = csv_bytes([HEADER, *people(3)])
    reply = system.data_api.call(
        'POST', '/v1/files/uploads', {'spaceId': space['id'], 'name': 'big.csv', 'size': len(content)}
    )
    file = reply.data['file']
    assert system.data_api.call('GET', '/v1/jobs', query={'fileId': file['id']}).data == []
    system.data_api.s3.put_object(
        Bucket='jobs-files-test', Key=f'files/{TENANT.environment_id}/{file["id"]}', Body=content
    )
    system.data_api.call('POST', f'/v1/files/{file["id"]}/complete')
    system.data_api.call('POST', f'/v1/files/{file["id"]}/complete')  # completing again starts nothing more
    job = system.extract_job(file['id'])
    assert system.run(job['id'])['result']['rows'] == 3


def test_a_big_file_is_extracted_over_many_steps_with_estimated_progress(system):
    # GIVEN every step stops after one batch of 10 rows
    system.sizes.budget_seconds = 0
    rows = people(95)
    file = upload(system, csv_bytes([HEADER, *rows]))
    job = system.extract_job(file['id'])
    progress: list[tuple[int, str]] = []

    def watch(payload):
        if payload['step'] == 'process':
            current = system.service.get(TENANT, job['id'])
            progress.append((current.progress, current.info))

    system.hooks['before'] = watch
    done = system.run(job['id'])

    # THEN it took a step per batch, and the records are all there, once, in order
    assert done['status'] == 'complete', done
    assert len(progress) == 10
    _, [records] = extracted(system, done)
    assert values_of(records) == [{key: value for key, value in zip(HEADER, row, strict=True) if value} for row in rows]
    assert len({record['id'] for record in records}) == 95
    # AND progress grew, read as an estimate from the bytes read ("of about")
    percents = [percent for percent, _ in progress]
    assert percents == sorted(percents)
    assert percents[-1] > 50
    assert any(info.startswith('Extracted 10 of about ') for _, info in progress)


# ---------------------------------------------------------------- formats
def test_tsv_semicolons_quotes_bom_and_latin_1(system):
    text = 'name\tnotes\nAnn\t"two\nlines"\nBob\tplain\n'
    done = system.run(system.extract_job(upload(system, text.encode(), name='notes.tsv')['id'])['id'])
    assert values_of(extracted(system, done)[1][0]) == [
        {'name': 'Ann', 'notes': 'two\nlines'},
        {'name': 'Bob', 'notes': 'plain'},
    ]

    latin = 'nom;ville\nZoé;Orléans\n'.encode('latin-1')
    done = system.run(system.extract_job(upload(system, latin, name='villes.csv')['id'])['id'])
    assert values_of(extracted(system, done)[1][0]) == [{'nom': 'Zoé', 'ville': 'Orléans'}]

    bom = '\ufeffa,b\r\n1,2\r\n'.encode()
    done = system.run(system.extract_job(upload(system, bom, name='bom.csv')['id'])['id'])
    assert values_of(extracted(system, done)[1][0]) == [{'a': '1', 'b': '2'}]


def test_a_header_row_below_a_title_is_detected(system):
    content = csv_bytes([['Quarterly report', '', ''], HEADER, *people(2)])
    done = system.run(system.extract_job(upload(system, content)['id'])['id'])
    assert done['config']['detectedHeaderRow'] == 1
    assert done['result']['detectedHeaderRow'] == 1
    workbook, [records] = extracted(system, done)
    assert [field['key'] for field in workbook['sheets'][0]['config']['fields']] == HEADER
    assert len(records) == 2


def test_json_lines_and_json_arrays_flatten_nested_objects(system):
    objects = [{'name': 'Ann', 'address': {'city': 'Paris'}, 'tags': ['a', 'b']}, {'name': 'Bob', 'age': 41}]
    jsonl = '\n'.join(json.dumps(item) for item in objects).encode()
    for name, content in (('people.jsonl', jsonl), ('people.json', json.dumps(objects).encode())):
        done = system.run(
            system.extract_job(upload(system, content, name=name, content_type='application/json')['id'])['id']
        )
        assert done['status'] == 'complete', done
        workbook, [records] = extracted(system, done)
        assert [field['key'] for field in workbook['sheets'][0]['config']['fields']] == [
            'name',
            'address.city',
            'tags',
            'age',
        ]
        assert values_of(records) == [
            {'name': 'Ann', 'address.city': 'Paris', 'tags': '["a","b"]'},
            {'name': 'Bob', 'age': '41'},
        ]


def test_a_workbook_becomes_a_sheet_per_worksheet(system):
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {'in_memory': True})
    first = book.add_worksheet('People')
    for index, row in enumerate([['name', 'age'], ['Ann', 31], ['Bob', 42.5]]):
        first.write_row(index, 0, row)
    book.add_worksheet('Empty')
    second = book.add_worksheet('Cities')
    for index, row in enumerate([['city'], ['Paris'], ['Lyon'], ['Nice']]):
        second.write_row(index, 0, row)
    book.close()
    job = system.extract_job(upload(system, buffer.getvalue(), name='book.xlsx')['id'])
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    workbook, records = extracted(system, done)
    assert [sheet['name'] for sheet in workbook['sheets']] == ['People', 'Cities']
    assert [values_of(sheet) for sheet in records] == [
        [{'name': 'Ann', 'age': '31'}, {'name': 'Bob', 'age': '42.5'}],
        [{'city': 'Paris'}, {'city': 'Lyon'}, {'city': 'Nice'}],
    ]
    assert done['info'] == 'Extracted 5 rows'
    assert len(commits(system)) == 2


def test_the_destination_workbooks_sheet_is_filled_by_key_or_label(system):
    # GIVEN a workbook whose contacts sheet has typed fields (name required, email unique, age a number)
    destination = system.data_api.workbook()
    sheet = destination['sheets'][0]
    content = csv_bytes([['NAME', 'Age', 'email', 'shoe size'], ['Ann', '31', 'a@x', '38'], ['', 'old', 'a@x', '']])
    file = upload(system, content, name='contacts.csv')
    # WHEN the file is extracted into it
    job = system.create(type='file', operation='extract', source=file['id'], destination=destination['id'])
    done = system.run(job['id'])
    # THEN the columns map onto its fields, values validated as any insert, the rest left out
    assert done['status'] == 'complete', done
    assert done['result']['sheetIds'] == [sheet['id']]
    assert 'left out: shoe size' in done['outcome']['message']
    records = all_records(system.data_api, sheet['id'])
    assert values_of(records) == [
        {'name': 'Ann', 'age': 31, 'email': 'a@x'},
        {'age': 'old', 'email': 'a@x', 'name': None},
    ]
    assert [record['valid'] for record in records] == [True, False]
    assert system.data_api.counts(sheet['id']) == {'total': 2, 'valid': 1, 'error': 1}
    assert done['result']['valid'] == 1 and done['result']['error'] == 1


# ---------------------------------------------------------------- retries and cancel
def test_a_step_that_fails_after_writing_a_batch_runs_again_without_duplicates(system, monkeypatch):
    # GIVEN counting the third batch fails once, after its records were written (a throttled call)
    count_batch = RecordStore.count_batch
    calls = {'count': 0}

    def failing_once(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 3:
            raise ServiceUnavailable('The record store is busy')
        return count_batch(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, 'count_batch', failing_once)
    rows = people(45)
    job = system.extract_job(upload(system, csv_bytes([HEADER, *rows]))['id'])
    # WHEN it runs (Step Functions retries the step that failed)
    done = system.run(job['id'])
    # THEN every row is a record once, and the counts are exact
    assert done['status'] == 'complete', done
    assert any(
        event['type'] == 'LambdaFunctionFailed' or 'Failed' in event['type'] for event in system.history(job['id'])
    )
    workbook, [records] = extracted(system, done)
    assert len(records) == 45 and len({record['id'] for record in records}) == 45
    assert workbook['sheets'][0]['countRecords'] == {'total': 45, 'valid': 45, 'error': 0}
    assert done['result']['rows'] == 45


def test_a_failed_job_retried_rewrites_nothing_it_had_written(system, monkeypatch):
    # GIVEN the extract fails in the middle of its fourth batch, once (a bug, not retried by the machine)
    system.sizes.budget_seconds = 0
    put_records = RecordStore.put_records
    calls = {'count': 0}

    def failing(self, environment_id, sheet_id, records):
        calls['count'] += 1
        if calls['count'] == 4:
            put_records(self, environment_id, sheet_id, records[:5])
            raise RuntimeError('the disk caught fire')
        put_records(self, environment_id, sheet_id, records)

    monkeypatch.setattr(RecordStore, 'put_records', failing)
    rows = people(65)
    job = system.extract_job(upload(system, csv_bytes([HEADER, *rows]))['id'])
    failed = system.run(job['id'])
    assert failed['status'] == 'failed', failed
    assert failed['outcome']['acknowledge'] is True
    sheet_id = failed['id'] and system.data_api.call('GET', '/v1/workbooks').data[0]['sheets'][0]['id']
    assert system.data_api.counts(sheet_id)['total'] == 30  # three batches, counted; the fourth taken back
    # WHEN the job is retried
    assert system.data_api.call('POST', f'/v1/jobs/{job["id"]}/retry').status == 200
    done = system.run(job['id'])
    # THEN it completes with each row once, the same workbook, exact counts
    assert done['status'] == 'complete', done
    workbook, [records] = extracted(system, done)
    assert workbook['sheets'][0]['id'] == sheet_id
    assert len(records) == 65 and len({record['id'] for record in records}) == 65
    assert values_of(records)[-1] == {'name': 'Person 64', 'email': 'p64@example.com', 'city': 'Lyon'}
    assert system.data_api.counts(sheet_id) == {'total': 65, 'valid': 65, 'error': 0}
    assert len(system.data_api.call('GET', '/v1/workbooks').data) == 1


def test_a_cancel_mid_batch_leaves_nothing_written_after_it(system, monkeypatch):
    # GIVEN the job is canceled while its third batch is being written
    put_records = RecordStore.put_records
    calls = {'count': 0}
    canceled = {}

    def canceling(self, environment_id, sheet_id, records):
        calls['count'] += 1
        put_records(self, environment_id, sheet_id, records)
        if calls['count'] == 3:
            canceled['job'] = system.service.cancel(TENANT, job['id'], None)
            canceled['sheet'] = sheet_id

    monkeypatch.setattr(RecordStore, 'put_records', canceling)
    job = system.extract_job(upload(system, csv_bytes([HEADER, *people(60)]))['id'])
    execution = system.run(job['id'])
    # THEN the execution stopped quietly, and the batch written as it was canceled was taken back
    assert system.wait(job['id'])['status'] == 'SUCCEEDED'
    assert execution['status'] == 'canceled'
    assert system.service.get(TENANT, job['id']) == canceled['job']  # never written after the cancel
    records = all_records(system.data_api, canceled['sheet'])
    assert len(records) == 20
    assert system.data_api.counts(canceled['sheet']) == {'total': 20, 'valid': 20, 'error': 0}
    assert calls['count'] == 3


# ---------------------------------------------------------------- bad files
@pytest.mark.parametrize(
    ('name', 'content', 'message'),
    [
        ('bad.csv', b'a,b\n1,2\n3,4,5\n', 'Line 3: 3 values, but the header names 2 fields'),
        ('bad.csv', b'a,b\n"1,2\n', 'Line 2: unexpected end of data'),
        ('bad.jsonl', b'{"a": 1}\n{"a": \n', 'Line 2: not valid JSON'),
        ('bad.json', b'[{"a": 1}, 2]', 'Item 2: a JSON object was expected, found int'),
        ('utf16.csv', 'a,b\n'.encode('utf-16'), 'The file is UTF-16'),
        ('report.pdf', b'%PDF-1.4', 'report.pdf: not a file this platform extracts'),
        ('empty.csv', b'', 'empty.csv is empty'),
        ('broken.xlsx', b'PK\x03\x04 not really a workbook', 'The workbook cannot be read'),
    ],
)
def test_a_bad_file_fails_the_job_with_the_line_and_the_reason(system, name, content, message):
    job = system.extract_job(upload(system, content, name=name, content_type='application/octet-stream')['id'])
    failed = system.run(job['id'])
    assert failed['status'] == 'failed', failed
    assert failed['outcome']['acknowledge'] is True
    assert message in failed['outcome']['message'], failed['outcome']


def test_rows_before_a_bad_line_stay_extracted_and_counted(system):
    rows = people(25)
    content = csv_bytes([HEADER, *rows]) + b'"unterminated,x,y\n'
    job = system.extract_job(upload(system, content)['id'])
    failed = system.run(job['id'])
    assert failed['outcome']['message'].startswith('Line 27: ')
    sheet_id = system.data_api.call('GET', '/v1/workbooks').data[0]['sheets'][0]['id']
    assert system.data_api.counts(sheet_id)['total'] == len(all_records(system.data_api, sheet_id))


def test_extract_of_a_missing_file_or_destination_fails_with_a_reason(system):
    job = system.create(type='file', operation='extract', source='us_fl_missing00001')
    assert system.run(job['id'])['outcome']['message'] == 'File us_fl_missing00001 not found'
    file = upload(system, csv_bytes([HEADER, *people(1)]))
    job = system.create(type='file', operation='extract', source=file['id'], destination='us_wb_missing00001')
    assert system.run(job['id'])['outcome']['message'] == 'Destination workbook us_wb_missing00001 not found'


def test_the_extracted_data_items_are_all_accounted_for(system):
    """Nothing but records, the sheet and the workbook in the data table: no stray batches."""
    job = system.extract_job(upload(system, csv_bytes([HEADER, *people(12)]))['id'])
    system.run(job['id'])
    kinds = sorted(
        item['entity']['S']
        for item in system.data_api.dynamodb.scan(TableName=DATA_TABLE)['Items']
        if item['entity']['S'] != 'space'
    )
    assert kinds == ['file'] + ['record'] * 12 + ['sheet', 'workbook']
    sheet = next(
        item for item in system.data_api.dynamodb.scan(TableName=DATA_TABLE)['Items'] if item['entity']['S'] == 'sheet'
    )
    assert not [name for name in sheet if name.startswith('import#')]  # the high-water mark is cleared


def test_the_header_row_and_delimiter_can_be_given(system):
    # GIVEN a file whose second row names the fields, separated by pipes the sniffer would not pick
    content = b'exported 2024-01-01|\nname|city\nAnn|Paris\n'
    file = upload(system, content, name='odd.csv')
    config = {'driver': 'csv', 'options': {'headerRow': 1, 'delimiter': '|'}}
    job = system.create(type='file', operation='extract', source=file['id'], config=config)
    done = system.run(job['id'])
    assert done['status'] == 'complete', done
    assert done['config'] == {**config, 'detectedHeaderRow': 1}
    assert values_of(extracted(system, done)[1][0]) == [{'name': 'Ann', 'city': 'Paris'}]


def test_a_batch_written_again_keeps_its_unique_values_its_own(system, monkeypatch):
    # GIVEN a destination sheet whose email is unique, and the second batch's count failing once
    destination = system.data_api.workbook()
    sheet = destination['sheets'][0]
    count_batch = RecordStore.count_batch
    calls = {'count': 0}

    def failing_once(self, *args, **kwargs):
        calls['count'] += 1
        if calls['count'] == 2:
            raise ServiceUnavailable('The record store is busy')
        return count_batch(self, *args, **kwargs)

    monkeypatch.setattr(RecordStore, 'count_batch', failing_once)
    rows = [[f'Person {index}', f'p{index}@example.com'] for index in range(25)]
    file = upload(system, csv_bytes([['name', 'email'], *rows]), name='contacts.csv')
    job = system.create(type='file', operation='extract', source=file['id'], destination=destination['id'])
    # WHEN it runs, the failed step running again
    done = system.run(job['id'])
    # THEN no record is a duplicate of itself: each unique value is held once
    assert done['status'] == 'complete', done
    records = all_records(system.data_api, sheet['id'])
    assert len(records) == 25
    assert all(record['valid'] for record in records), [r['values']['email'] for r in records if not r['valid']]
    assert system.data_api.counts(sheet['id']) == {'total': 25, 'valid': 25, 'error': 0}
