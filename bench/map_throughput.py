"""Map throughput: records/s of a workbook:map job against raw BatchWriteItem, in the same run.

The source sheet is an extracted 20,000-row CSV (five text columns); the destination has typed fields
(a number, two texts, an enum whose options the cities are, a text). The job runs through the
worker's steps as the state machine drives them, with the real operation: its plan proposed at
prepare (trigger immediate), then pages of 250 source records read, moved by the plan, validated and
written through the record service (a read of the job and one counting UpdateItem per batch). The
baseline, against the same backend in the same run, reads the same pages and writes the same values
into the destination with raw BatchWriteItem and nothing else (the extract benchmark's baseline).
The destination is emptied before each. moto in process; garbage collection paused while timing.

Checked claim (issue 6): the map's records/s are at least 0.6 of the baseline's (as extract's).

    python bench/map_throughput.py [--rows 20000] [--rounds 2]
"""

import argparse
import time
from typing import Any

import system_job_setup as setup
from extract_throughput import empty

MIN_RATIO = 0.6
DESTINATION = {
    'name': 'People',
    'slug': 'people',
    'fields': [
        {'key': 'personId', 'type': 'number', 'label': 'Id'},
        {'key': 'fullName', 'type': 'string', 'label': 'Name'},
        {'key': 'email', 'type': 'string', 'label': 'Email'},
        {
            'key': 'city',
            'type': 'enum',
            'label': 'City',
            'config': {'options': [{'value': city.lower(), 'label': city} for city in setup.CITIES if city]},
        },
        {'key': 'notes', 'type': 'string'},
    ],
}


def destination(space_id: str) -> Any:
    from jobs_core.data_jobs import data_plane
    from jobs_core.models.workbook import WorkbookCreate

    workbook = data_plane().workbooks.create(
        setup.tenant(), WorkbookCreate.model_validate({'name': 'Target', 'spaceId': space_id, 'sheets': [DESTINATION]})
    )
    return workbook


def mapped(source_sheet: str, source_workbook: str, target: Any) -> float:
    job_id = setup.create_job(
        type='workbook',
        operation='map',
        source=source_workbook,
        destination=target.id,
        config={'sourceSheetId': source_sheet, 'destinationSheetId': target.sheets[0].id},
    )
    with setup.paused_gc():
        started = time.perf_counter()
        job = setup.run(job_id)
        seconds = time.perf_counter() - started
    assert job.result and job.result['records'] > 0, job
    return seconds


def baseline(client: Any, source_sheet: str, target_sheet: str) -> float:
    """Read the source a page at a time; write the same values with raw BatchWriteItem."""
    from jobs_core.data_jobs import data_plane

    plane = data_plane()
    store = plane.record_store
    environment = setup.tenant().environment_id
    sheet = plane.records.sheet(setup.tenant(), source_sheet)
    renamed = {'id': 'personId', 'name': 'fullName', 'email': 'email', 'city': 'city', 'notes': 'notes'}
    with setup.paused_gc():
        started = time.perf_counter()
        writer = setup.RawWriter(client)
        position = 0
        for page, _ in plane.records.scan(setup.tenant(), sheet, page_size=250):
            for record in page:
                values = {renamed[key]: value for key, value in record['values'].items()}
                writer.put(store.record_item(environment, target_sheet, setup.baseline_record(position, values)))
                position += 1
        writer.flush()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rows', type=int, default=20_000)
    parser.add_argument('--rounds', type=int, default=2)
    arguments = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        setup.create_resources()
        from jobs_core.dynamo import dynamodb_client

        client = dynamodb_client()
        calls = setup.Calls(client)
        space_id = setup.space()
        empty(client)
        extracted = setup.run(setup.extract_job(setup.upload(space_id, setup.people_csv(arguments.rows))))
        source_sheet = setup.sheet_of(extracted)
        source_workbook = str((extracted.result or {})['workbookId'])
        ours: list[float] = []
        base: list[float] = []
        for _ in range(arguments.rounds):
            target = destination(space_id)
            calls.counts.clear()
            ours.append(mapped(source_sheet, source_workbook, target))
            per_1000 = sum(calls.counts.values()) * 1000 / arguments.rows
            empty(client, keep=source_sheet)
            base.append(baseline(client, source_sheet, target.sheets[0].id))
            empty(client, keep=source_sheet)

    best, floor = min(ours), min(base)
    ratio = floor / best
    print(f'Mapping {arguments.rows:,} records onto typed fields; best of {arguments.rounds}; moto in process\n')
    header = f'{"path":<46} {"seconds":>8} {"records/s":>10} {"vs base":>8}'
    print(header)
    print('-' * len(header))
    print(f'{"baseline: read pages + raw BatchWriteItem":<46} {floor:>8.2f} {arguments.rows / floor:>10,.0f} {1:>8.2f}')
    print(f'{"workbook:map job (worker steps)":<46} {best:>8.2f} {arguments.rows / best:>10,.0f} {ratio:>8.2f}')
    print(f'\nmap DynamoDB calls: {per_1000:.1f} per 1,000 records')
    ok = ratio >= MIN_RATIO
    print('\n' + ('OK: every claim holds' if ok else f'FAIL: records/s {ratio:.2f} of the baseline < {MIN_RATIO}'))
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())
