"""Records through the API: validation on every write, exact counts, queries, and what bad input does."""

from collections import Counter

import pytest

from jobs_core.records_store import RecordStore
from tests.builders import OTHER_TENANT
from tests.unit.data_fixtures import data_api_fixture, stored_items  # noqa: F401 - fixtures

PEOPLE = [
    {'name': 'Ann', 'email': 'ann@example.com', 'age': 31, 'active': True, 'tier': 'gold'},
    {'name': 'Bob', 'email': 'bob@example.com', 'age': 'forty', 'active': 'yes', 'tier': 'Silver'},
    {'name': '', 'email': 'cy@example.com', 'age': '27'},
    {'name': 'Dee', 'email': 'dee@example.com', 'tier': 'bronze'},
]


def values(record: dict) -> dict:
    return {key: cell['value'] for key, cell in record['values'].items()}


def test_insert_validates_every_value_and_counts(data_api):
    # GIVEN a sheet
    sheet = data_api.sheet()

    # WHEN records with good, coercible and wrong values are inserted
    reply = data_api.insert(sheet['id'], PEOPLE)

    # THEN each value is a cell: coerced when it can be, kept and marked invalid when not
    assert reply.status == 201, reply.body
    ann, bob, cy, dee = reply.data['records']
    assert ann['valid'] is True
    assert ann['values']['age'] == {'value': 31, 'valid': True, 'messages': []}
    assert bob['values']['active'] == {'value': True, 'valid': True, 'messages': []}
    assert bob['values']['tier'] == {'value': 'silver', 'valid': True, 'messages': []}
    assert bob['values']['age']['value'] == 'forty'
    assert bob['values']['age']['valid'] is False
    assert bob['values']['age']['messages'][0]['message'] == 'age must be a number'
    assert cy['values']['name']['messages'][0]['source'] == 'required-constraint'
    assert cy['values']['age']['value'] == 27
    assert dee['values']['tier']['messages'][0]['source'] == 'invalid-option'
    assert [record['valid'] for record in reply.data['records']] == [True, False, False, False]
    # AND the ids sort in insertion order, one commit names the write, the counts are exact
    ids = [record['id'] for record in reply.data['records']]
    assert ids == sorted(ids) and all(record_id.startswith('us_rc_') for record_id in ids)
    assert reply.data['commitId'].startswith('us_vr_')
    assert reply.data['counts'] == {'total': 4, 'valid': 1, 'error': 3}
    assert data_api.counts(sheet['id']) == {'total': 4, 'valid': 1, 'error': 3}
    assert data_api.call('GET', f'/v1/sheets/{sheet["id"]}').data['countRecords'] == reply.data['counts']


def test_filters_find_valid_and_error_records(data_api):
    sheet = data_api.sheet()
    data_api.insert(sheet['id'], PEOPLE)

    def names(**query) -> list:
        reply = data_api.records(sheet['id'], **query)
        assert reply.status == 200, reply.body
        return [record['values'].get('name', {}).get('value') for record in reply.data['records']]

    assert names() == ['Ann', 'Bob', '', 'Dee']
    assert names(filter='all') == ['Ann', 'Bob', '', 'Dee']
    assert names(filter='valid') == ['Ann']
    assert names(filter='error') == ['Bob', '', 'Dee']
    assert names(filter='none') == []
    assert names(filter='error', filterField='age') == ['Bob']
    assert names(filter='valid', filterField='age') == ['Ann', '', 'Dee']
    assert names(sortDirection='desc') == ['Dee', '', 'Bob', 'Ann']


def test_search_contains_exact_and_empty(data_api):
    sheet = data_api.sheet()
    data_api.insert(sheet['id'], PEOPLE)

    def names(**query) -> list:
        reply = data_api.records(sheet['id'], **query)
        assert reply.status == 200, reply.body
        return [record['values'].get('name', {}).get('value') for record in reply.data['records']]

    assert names(searchField='email', searchValue='example') == ['Ann', 'Bob', '', 'Dee']
    assert names(searchField='email', searchValue='"bob@example.com"') == ['Bob']
    assert names(searchField='email', searchValue='"bob"') == []
    assert names(searchField='age', searchValue='"27"') == ['']  # stored as the number 27
    assert names(searchField='name', searchValue='""') == ['']
    assert names(searchField='tier', searchValue='""') == ['']  # left out counts as empty
    assert names(searchValue='Dee') == ['Dee']  # every field when none is named


def test_ids_select_records_and_are_exceptions_under_a_filter(data_api):
    sheet = data_api.sheet()
    ids = [record['id'] for record in data_api.insert(sheet['id'], PEOPLE).data['records']]
    chosen = data_api.call('GET', f'/v1/sheets/{sheet["id"]}/records', query={'ids': ids[2]})
    assert [record['id'] for record in chosen.data['records']] == [ids[2]]
    excluded = data_api.records(sheet['id'], filter='error', ids=ids[1])
    assert [record['id'] for record in excluded.data['records']] == ids[2:]


def test_sort_by_a_field_puts_empty_values_last(data_api):
    sheet = data_api.sheet()
    data_api.insert(sheet['id'], [{'name': 'b', 'age': 3}, {'name': 'a'}, {'name': 'c', 'age': 1}])
    ascending = data_api.records(sheet['id'], sortField='age')
    descending = data_api.records(sheet['id'], sortField='age', sortDirection='desc')
    assert [values(record)['name'] for record in ascending.data['records']] == ['c', 'b', 'a']
    assert [values(record)['name'] for record in descending.data['records']] == ['b', 'c', 'a']


def test_pages_by_number_and_by_cursor(data_api):
    # GIVEN 25 records
    sheet = data_api.sheet()
    data_api.insert(sheet['id'], [{'name': f'n{index:02d}'} for index in range(25)])

    # WHEN they are read 10 a page, by page number and by following the cursor
    by_number = [
        [
            values(record)['name']
            for record in data_api.records(sheet['id'], pageSize='10', pageNumber=str(page)).data['records']
        ]
        for page in (1, 2, 3)
    ]
    by_cursor = []
    query = {'pageSize': '10'}
    while True:
        page = data_api.records(sheet['id'], **query).data
        by_cursor.append([values(record)['name'] for record in page['records']])
        if 'nextPageToken' not in page:
            break
        query['pageToken'] = page['nextPageToken']

    # THEN both give every record once, in order
    expected = [[f'n{index:02d}' for index in range(start, min(start + 10, 25))] for start in (0, 10, 20)]
    assert by_number == expected
    assert by_cursor == expected


def test_update_replaces_the_given_cells_and_recounts(data_api):
    # GIVEN Bob, invalid for his age
    sheet = data_api.sheet()
    bob = data_api.insert(sheet['id'], PEOPLE[:2]).data['records'][1]

    # WHEN his age is corrected and metadata set
    reply = data_api.call(
        'PUT',
        f'/v1/sheets/{sheet["id"]}/records',
        [{'id': bob['id'], 'values': {'age': {'value': '44'}}, 'metadata': {'source': 'crm'}}],
    )

    # THEN the cell is valid, the other cells stay, and the counts move from error to valid
    assert reply.status == 200, reply.body
    updated = reply.data['records'][0]
    assert values(updated) == {**values(bob), 'age': 44}
    assert updated['valid'] is True
    assert updated['metadata'] == {'source': 'crm'}
    assert updated['commitId'] == reply.data['commitId'] != bob['commitId']
    assert data_api.counts(sheet['id']) == {'total': 2, 'valid': 2, 'error': 0}

    # WHEN a value is made wrong again, it flips back
    data_api.call('PUT', f'/v1/sheets/{sheet["id"]}/records', [{'id': bob['id'], 'values': {'active': {'value': 'x'}}}])
    assert data_api.counts(sheet['id']) == {'total': 2, 'valid': 1, 'error': 1}
    assert [record['id'] for record in data_api.records(sheet['id'], filter='error').data['records']] == [bob['id']]


def test_delete_removes_records_and_their_counts(data_api):
    sheet = data_api.sheet()
    ids = [record['id'] for record in data_api.insert(sheet['id'], PEOPLE).data['records']]

    reply = data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': f'{ids[0]},{ids[1]}'})

    assert reply.status == 200, reply.body
    assert reply.body == {'data': {'success': True}}
    assert [record['id'] for record in data_api.records(sheet['id']).data['records']] == ids[2:]
    assert data_api.counts(sheet['id']) == {'total': 2, 'valid': 0, 'error': 2}
    # AND deleting them again (or an unknown id) changes nothing
    again = data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': ids[0]})
    assert again.status == 200
    assert data_api.counts(sheet['id']) == {'total': 2, 'valid': 0, 'error': 2}


def test_unique_fields_mark_later_holders_invalid(data_api):
    # GIVEN a sheet whose email is unique, with one record holding a@x
    sheet = data_api.sheet()
    first = data_api.insert(sheet['id'], [{'name': 'A', 'email': 'a@x'}]).data['records'][0]

    # WHEN two more records with a@x arrive, one of them in the same request as a fresh value
    reply = data_api.insert(sheet['id'], [{'name': 'B', 'email': 'a@x'}, {'name': 'C', 'email': 'c@x'}])
    second, third = reply.data['records']

    # THEN the first holder stays valid, the later one is invalid for uniqueness
    assert first['valid'] is True
    assert second['values']['email']['messages'][0]['source'] == 'unique-constraint'
    assert second['valid'] is False
    assert third['valid'] is True
    assert data_api.counts(sheet['id']) == {'total': 3, 'valid': 2, 'error': 1}

    # WHEN the first holder gives the value up, the value is free for the next writer
    data_api.call(
        'PUT', f'/v1/sheets/{sheet["id"]}/records', [{'id': first['id'], 'values': {'email': {'value': 'z@x'}}}]
    )
    data_api.call(
        'PUT', f'/v1/sheets/{sheet["id"]}/records', [{'id': second['id'], 'values': {'email': {'value': 'a@x'}}}]
    )
    refreshed = data_api.records(sheet['id']).data['records']
    assert [record['valid'] for record in refreshed] == [True, True, True]

    # AND a duplicate in one request, and after a delete, behave the same way
    reply = data_api.insert(sheet['id'], [{'name': 'D', 'email': 'd@x'}, {'name': 'E', 'email': 'd@x'}])
    assert [record['valid'] for record in reply.data['records']] == [True, False]
    data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': reply.data['records'][0]['id']})
    assert data_api.insert(sheet['id'], [{'name': 'F', 'email': 'd@x'}]).data['records'][0]['valid'] is False
    assert data_api.insert(sheet['id'], [{'name': 'G', 'email': 'g@x'}]).data['records'][0]['valid'] is True


# ---------------------------------------------------------------- bad input
def test_an_unknown_field_key_is_400_and_nothing_is_written(data_api):
    sheet = data_api.sheet()
    reply = data_api.insert(sheet['id'], [{'name': 'Ann'}, {'name': 'Bob', 'nickname': 'B'}])
    assert reply.status == 400
    assert reply.error_keys == ['values']
    assert "'nickname'" in reply.body['errors'][0]['message']
    assert data_api.counts(sheet['id']) == {'total': 0, 'valid': 0, 'error': 0}
    assert data_api.records(sheet['id']).data['records'] == []


@pytest.mark.parametrize(
    'body',
    [
        pytest.param({'name': {'value': 'x'}}, id='an object, not a list'),
        pytest.param([{'name': 'x'}], id='a bare value, not a cell'),
        pytest.param([{'': {'value': 1}}], id='an empty key'),
    ],
)
def test_malformed_insert_bodies_are_400(data_api, body):
    sheet = data_api.sheet()
    assert data_api.call('POST', f'/v1/sheets/{sheet["id"]}/records', body).status == 400


def test_too_many_records_in_one_request_is_400(data_api):
    sheet = data_api.sheet()
    reply = data_api.insert(sheet['id'], [{}] * 5001)
    assert reply.status == 400
    assert data_api.counts(sheet['id'])['total'] == 0


def test_updating_an_unknown_record_is_404_and_writes_nothing(data_api):
    sheet = data_api.sheet()
    ann = data_api.insert(sheet['id'], PEOPLE[:1]).data['records'][0]
    reply = data_api.call(
        'PUT',
        f'/v1/sheets/{sheet["id"]}/records',
        [
            {'id': ann['id'], 'values': {'age': {'value': 99}}},
            {'id': 'us_rc_missing', 'values': {'age': {'value': 1}}},
        ],
    )
    assert reply.status == 404
    assert 'us_rc_missing' in reply.body['errors'][0]['message']
    assert values(data_api.records(sheet['id']).data['records'][0])['age'] == 31


@pytest.mark.parametrize(
    ('query', 'key'),
    [
        ({'filterField': 'nope', 'filter': 'error'}, 'filterField'),
        ({'searchField': 'nope', 'searchValue': 'x'}, 'searchField'),
        ({'sortField': 'nope'}, 'sortField'),
        ({'q': 'name like "a"'}, 'q'),
        ({'filter': 'sometimes'}, 'filter'),
        ({'pageSize': '0'}, 'pageSize'),
        ({'pageToken': 'garbage'}, 'pageToken'),
        ({'sortField': 'age', 'pageToken': 'x'}, 'pageToken'),
    ],
)
def test_bad_queries_are_400_naming_the_parameter(data_api, query, key):
    sheet = data_api.sheet()
    reply = data_api.records(sheet['id'], **query)
    assert reply.status == 400, reply.body
    assert key in reply.error_keys


def test_a_cursor_of_another_sheet_is_refused(data_api):
    first, second = data_api.sheet(), data_api.sheet()
    for sheet in (first, second):
        data_api.insert(sheet['id'], [{'name': str(index)} for index in range(3)])
    token = data_api.records(first['id'], pageSize='1').data['nextPageToken']
    assert data_api.records(second['id'], pageSize='1', pageToken=token).status == 400


@pytest.mark.parametrize(
    ('method', 'suffix', 'body'),
    [
        ('GET', '/records', None),
        ('POST', '/records', [{'name': {'value': 'x'}}]),
        ('PUT', '/records', [{'id': 'us_rc_1', 'values': {}}]),
        ('GET', '/counts', None),
        ('GET', '', None),
    ],
)
def test_unknown_and_foreign_sheets_are_404(data_api, method, suffix, body):
    sheet = data_api.sheet()
    assert data_api.call(method, f'/v1/sheets/us_sh_unknown{suffix}', body).status == 404
    foreign = data_api.call(method, f'/v1/sheets/{sheet["id"]}{suffix}', body, tenant=OTHER_TENANT)
    assert foreign.status == 404
    assert foreign.error_keys == ['sheetId']


# ---------------------------------------------------------------- exact counts, all or nothing
def test_a_failed_bulk_insert_leaves_no_records_and_no_counts(data_api, monkeypatch):
    # GIVEN storage that fails the fourth batch for good
    sheet = data_api.sheet()
    real = data_api.store_client.batch_write_item
    calls = Counter()

    def flaky(**request):
        puts = [entry for entry in next(iter(request['RequestItems'].values())) if 'PutRequest' in entry]
        if puts:
            calls['put'] += 1
            if calls['put'] == 4:
                from botocore.exceptions import ClientError

                raise ClientError({'Error': {'Code': 'ThrottlingException', 'Message': 'slow down'}}, 'BatchWriteItem')
        return real(**request)

    monkeypatch.setattr(data_api.store_client, 'batch_write_item', flaky)
    before = len(stored_items(data_api.dynamodb))

    # WHEN 100 records are inserted (four batches)
    reply = data_api.insert(sheet['id'], [{'name': f'p{index}', 'email': f'{index}@x'} for index in range(100)])

    # THEN the caller is told to retry, and no record, count or unique value was left behind
    assert reply.status == 503
    assert reply.headers.get('Retry-After')
    assert data_api.counts(sheet['id']) == {'total': 0, 'valid': 0, 'error': 0}
    assert data_api.records(sheet['id']).data['records'] == []
    left = [item for item in stored_items(data_api.dynamodb) if item['sk']['S'].startswith('UNQ#')]
    assert all(int(item['holders']['N']) == 0 for item in left)
    assert len(stored_items(data_api.dynamodb)) - len(left) == before


def test_unprocessed_items_are_retried_until_written(data_api, monkeypatch):
    sheet = data_api.sheet()
    real = data_api.store_client.batch_write_item
    seen = Counter()

    def partial(**request):
        table, entries = next(iter(request['RequestItems'].items()))
        seen['calls'] += 1
        if len(entries) > 1 and seen['calls'] % 2:
            real(RequestItems={table: entries[:1]})
            return {'UnprocessedItems': {table: entries[1:]}}
        return real(**request)

    monkeypatch.setattr(data_api.store_client, 'batch_write_item', partial)
    monkeypatch.setattr('jobs_core.records_store.time.sleep', lambda _: None)
    reply = data_api.insert(sheet['id'], [{'name': f'p{index}'} for index in range(60)])
    assert reply.status == 201
    assert data_api.counts(sheet['id']) == {'total': 60, 'valid': 60, 'error': 0}
    assert len(data_api.records(sheet['id']).data['records']) == 60


def test_writes_racing_on_the_same_records_keep_counts_exact(data_api, monkeypatch):
    # GIVEN a record, and a writer that changes it between another writer's read and write
    sheet = data_api.sheet()
    bob = data_api.insert(sheet['id'], [PEOPLE[1]]).data['records'][0]  # invalid age
    real_write = RecordStore.write
    raced = []

    def write_after_a_rival(self, environment_id, sheet_id, *rest, **options):
        if not raced:
            raced.append(True)
            # the rival makes Bob valid first
            reply = data_api.call(
                'PUT', f'/v1/sheets/{sheet_id}/records', [{'id': bob['id'], 'values': {'age': {'value': 50}}}]
            )
            assert reply.status == 200
        return real_write(self, environment_id, sheet_id, *rest, **options)

    monkeypatch.setattr(RecordStore, 'write', write_after_a_rival)

    # WHEN the first writer, having read Bob invalid, deletes him
    reply = data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}/records', query={'ids': bob['id']})

    # THEN its write is refused, Bob is read again and deleted as he now is: the counts are exact
    assert reply.status == 200
    assert data_api.counts(sheet['id']) == {'total': 0, 'valid': 0, 'error': 0}


def test_an_insert_into_a_sheet_deleted_meanwhile_takes_its_records_back(data_api, monkeypatch):
    sheet = data_api.sheet()
    real_batch = RecordStore._batch
    deleted = []

    def delete_sheet_first(self, requests):
        if not deleted:
            deleted.append(data_api.call('DELETE', f'/v1/sheets/{sheet["id"]}').status)
        return real_batch(self, requests)

    monkeypatch.setattr(RecordStore, '_batch', delete_sheet_first)
    reply = data_api.insert(sheet['id'], [{'name': 'late'}])
    assert deleted == [200]
    assert reply.status == 404
    assert [item for item in stored_items(data_api.dynamodb) if item['sk']['S'].startswith('REC#')] == []


def test_a_page_is_one_query_and_an_insert_one_call_per_25_records(data_api):
    # GIVEN 1,000 records, and every DynamoDB call counted
    sheet = data_api.sheet(sheets=[{'name': 'Plain', 'fields': [{'key': 'n', 'type': 'number'}]}])
    calls = Counter()
    data_api.store_client.meta.events.register('before-call.dynamodb.*', lambda model, **_: calls.update([model.name]))

    # WHEN they are inserted in one request
    assert data_api.insert(sheet['id'], [{'n': index} for index in range(1000)]).status == 201

    # THEN it took 40 BatchWriteItem, the sheet's read, one transaction (counts and commit) and the
    # counts read back for the answer
    assert calls == {'BatchWriteItem': 40, 'GetItem': 2, 'TransactWriteItems': 1}

    # WHEN a page of 100 is read, whatever the sheet holds: one GetItem (the sheet), one Query
    for query in ({'pageSize': '100'}, {'pageSize': '100', 'filter': 'error'}):
        calls.clear()
        assert len(data_api.records(sheet['id'], **query).data['records']) == (100 if 'filter' not in query else 0)
        assert calls == {'GetItem': 1, 'Query': 1}


def test_a_page_too_big_for_one_response_is_cut_and_its_cursor_resumes(data_api, monkeypatch):
    # GIVEN 30 records, and responses that hold about ten of them
    monkeypatch.setattr(data_api.module.record_routes, 'MAX_RESPONSE_BYTES', 2_000)
    sheet = data_api.sheet()
    reply = data_api.insert(
        sheet['id'], [{'name': f'person {index:02d}', 'email': f'{index}@x'} for index in range(30)]
    )

    # THEN the write's answer leaves the records out rather than fail
    assert reply.status == 201
    assert (reply.data['records'], reply.data['counts']['total']) == ([], 30)

    # WHEN all of them are read in pages of 100
    seen, query, pages = [], {'pageSize': '100'}, 0
    while True:
        page = data_api.records(sheet['id'], **query).data
        pages += 1
        seen += [values(record)['name'] for record in page['records']]
        if 'nextPageToken' not in page:
            break
        query['pageToken'] = page['nextPageToken']

    # THEN each page is cut to fit, and the cursors give every record once, in order
    assert pages > 2
    assert seen == [f'person {index:02d}' for index in range(30)]
    # AND a sorted page, which has no cursor to resume from, is refused instead
    assert data_api.records(sheet['id'], sortField='name').status == 413
