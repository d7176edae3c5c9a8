"""System jobs in the local stack, over real HTTP, as a user runs them: a 50,000-row CSV uploaded in
import mode is extracted by its file:extract job (whose progress is watched to complete), the sheet
is exported, and the CSV downloaded from the outcome's link equals the input. Waits poll the job to
a bounded deadline.
"""

import csv
import io
import time
from typing import Any

import httpx
import pytest

from tests.e2e.polling import data

pytestmark = pytest.mark.xdist_group('localstack')

ROWS = 50_000
WITHIN_SECONDS = 300  # moto serves every call in Python: generous, and bounded


def watch(client: httpx.Client, job_id: str) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Poll the job until it is complete, failed or canceled; the job then, and the progress seen."""
    seen: list[tuple[int, str]] = []
    deadline = time.monotonic() + WITHIN_SECONDS
    while True:
        job = data(client.get(f'/v1/jobs/{job_id}'))
        if not seen or seen[-1] != (job['progress'], job.get('info', '')):
            seen.append((job['progress'], job.get('info', '')))
        if job['status'] in {'complete', 'failed', 'canceled'}:
            return job, seen
        if time.monotonic() > deadline:
            pytest.fail(f'job {job_id} did not finish within {WITHIN_SECONDS} s; last seen: {job!r}')
        time.sleep(0.25)  # the next poll


def people_csv(count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(['id', 'name', 'email', 'city', 'notes'])
    cities = ['Paris', 'Lyon', 'Zürich', 'São Paulo', '']
    for index in range(count):
        notes = 'says "hi", twice' if index % 97 == 0 else ('two\nlines' if index % 1001 == 0 else '')
        writer.writerow([index, f'Person {index}', f'person{index}@example.com', cities[index % 5], notes])
    return buffer.getvalue().encode()


def test_a_big_csv_is_extracted_with_progress_then_exported_to_the_same_csv(client: httpx.Client):
    # GIVEN a 50,000-row CSV (quotes, embedded newlines, UTF-8, empty cells) uploaded in import mode
    content = people_csv(ROWS)
    space = data(client.post('/v1/spaces', json={'name': 'Big import'}), 201)
    upload = client.post(
        '/v1/files',
        data={'spaceId': space['id'], 'mode': 'import'},
        files={'file': ('people.csv', content, 'text/csv')},
    )
    file = data(upload, 201)

    # WHEN its extract job runs, watched as a user watches it
    [job] = data(client.get('/v1/jobs', params={'fileId': file['id']}))
    assert (job['type'], job['operation'], job['managed']) == ('file', 'extract', True)
    extracted, progress = watch(client, job['id'])

    # THEN it completed, its progress rising on the way, and the sheet holds every row
    assert extracted['status'] == 'complete', extracted['outcome']
    assert extracted['info'] == f'Extracted {ROWS:,} rows'
    percents = [percent for percent, _ in progress]
    assert percents == sorted(percents) and percents[-1] == 100
    workbook_id = extracted['outcome']['next']['id']
    [sheet] = data(client.get(f'/v1/workbooks/{workbook_id}'))['sheets']
    assert sheet['countRecords'] == {'total': ROWS, 'valid': ROWS, 'error': 0}

    # WHEN the sheet is exported
    created = client.post(
        '/v1/jobs', json={'type': 'sheet', 'operation': 'export', 'source': sheet['id'], 'trigger': 'immediate'}
    )
    exported, _ = watch(client, data(created, 201)['id'])

    # THEN the download its outcome links to is the CSV that was uploaded
    assert exported['status'] == 'complete', exported['outcome']
    download = exported['outcome']['next']
    assert (download['type'], download['fileName']) == ('download', 'people.csv')
    body = httpx.get(download['url'], timeout=60)
    assert body.status_code == 200
    assert list(csv.reader(io.StringIO(body.content.decode()))) == list(csv.reader(io.StringIO(content.decode())))
    assert body.content == content  # byte for byte: the same header, rows, quoting and line endings
