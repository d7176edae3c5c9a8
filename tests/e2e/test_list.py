"""GET /v1/jobs over HTTP: filters, page numbers, the cursor and sorting.

Every test lists jobs of its own fresh source id, so jobs other tests create never show up.
"""

import uuid

import pytest

from tests.e2e.conftest import assert_errors

pytestmark = pytest.mark.xdist_group('localstack')


@pytest.fixture
def source():
    return f'us_wb_{uuid.uuid4().hex[:16]}'


def listed(client, **params):
    response = client.get('/v1/jobs', params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_by_number(client, create_job, source):
    # GIVEN seven jobs of one source
    created = [create_job(source=source)['id'] for _ in range(7)]

    # WHEN they are listed three at a time, by page number
    pages = [listed(client, source=source, pageSize=3, pageNumber=number) for number in (1, 2, 3, 4)]

    # THEN the pages hold 3, 3, 1 and 0 jobs, every job once, with the pagination of each page
    assert [len(page['data']) for page in pages] == [3, 3, 1, 0]
    ids = [job['id'] for page in pages for job in page['data']]
    assert sorted(ids) == sorted(created)
    for number, page in enumerate(pages, start=1):
        assert page['pagination']['currentPage'] == number
        assert page['pagination']['pageCount'] == 3
        assert page['pagination']['totalCount'] == 7


def test_cursor_walks_every_page_without_duplicates(client, create_job, source):
    # GIVEN eleven jobs of one source
    created = {create_job(source=source)['id'] for _ in range(11)}

    # WHEN the list is followed by its cursor, four at a time
    seen: list[str] = []
    token = None
    for _ in range(10):
        params = {'source': source, 'pageSize': 4} | ({'pageToken': token} if token else {})
        page = listed(client, **params)
        seen += [job['id'] for job in page['data']]
        token = page['pagination'].get('nextPageToken')
        if not token:
            break

    # THEN every job came exactly once, in three pages
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == created


def test_a_foreign_or_garbled_page_token_is_400(client, create_job, source):
    for _ in range(3):
        create_job(source=source)
    token = listed(client, source=source, pageSize=2)['pagination']['nextPageToken']
    assert_errors(client.get('/v1/jobs', params={'pageToken': 'not-a-token'}), 400, 'pageToken')
    assert_errors(client.get('/v1/jobs', params={'status': 'ready', 'pageToken': token}), 400, 'pageToken')


def test_sort_direction(client, create_job, source):
    for _ in range(4):
        create_job(source=source)
    newest_first = listed(client, source=source)['data']
    oldest_first = listed(client, source=source, sortDirection='asc')['data']

    assert [job['id'] for job in oldest_first] == [job['id'] for job in reversed(newest_first)]
    stamps = [job['createdAt'] for job in oldest_first]
    assert stamps == sorted(stamps)


def test_status_filter(client, create_job, source):
    ready = {create_job(source=source, trigger='immediate')['id'] for _ in range(2)}
    created = {create_job(source=source)['id'] for _ in range(3)}

    assert {job['id'] for job in listed(client, source=source, status='ready')['data']} == ready
    assert {job['id'] for job in listed(client, source=source, status='created')['data']} == created
    assert listed(client, source=source, status='complete')['data'] == []


def test_status_filter_follows_transitions(client, create_job, source):
    job = create_job(source=source)
    assert client.post(f'/v1/jobs/{job["id"]}/execute').status_code == 200
    assert listed(client, source=source, status='created')['data'] == []
    assert [found['id'] for found in listed(client, source=source, status='ready')['data']] == [job['id']]


def test_exclude_child_jobs_and_parent_filter(client, create_job, source):
    # GIVEN a parent with two children, all of one source
    parent = create_job(source=source)
    children = {create_job(source=source, parentId=parent['id'], part=part)['id'] for part in (0, 1)}

    # THEN the list of the source holds all three, without children only the parent,
    # and by parent only the children
    assert {job['id'] for job in listed(client, source=source)['data']} == children | {parent['id']}
    top_level = listed(client, source=source, excludeChildJobs='true')['data']
    assert [job['id'] for job in top_level] == [parent['id']]
    assert {job['id'] for job in listed(client, parentId=parent['id'])['data']} == children


def test_space_and_file_filters(client, create_job, source):
    space = f'us_sp_{uuid.uuid4().hex[:16]}'
    file_id = f'us_fl_{uuid.uuid4().hex[:16]}'
    in_space = create_job(source=source, spaceId=space)
    of_file = create_job(source=file_id, type='file', operation='extract')
    create_job(source=source)

    assert [job['id'] for job in listed(client, spaceId=space)['data']] == [in_space['id']]
    assert [job['id'] for job in listed(client, fileId=file_id)['data']] == [of_file['id']]
    assert [job['id'] for job in listed(client, workbookId=source, spaceId=space)['data']] == [in_space['id']]


@pytest.mark.parametrize(
    ('params', 'key'),
    [
        ({'pageSize': 0}, 'pageSize'),
        ({'pageSize': 'many'}, 'pageSize'),
        ({'pageNumber': 0}, 'pageNumber'),
        ({'status': 'sleeping'}, 'status'),
        ({'sortDirection': 'sideways'}, 'sortDirection'),
        ({'excludeChildJobs': 'maybe'}, 'excludeChildJobs'),
    ],
)
def test_invalid_list_queries_are_400(client, params, key):
    assert_errors(client.get('/v1/jobs', params=params), 400, key)
