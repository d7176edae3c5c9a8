"""Mutate throughput: records/s of a sheet:mutate-records job against raw reads and BatchWriteItem, in
the same run; and what evaluating the JSONata expression costs a record against a plain dict update.

The job mutates every record of a 20,000-record sheet with `{"name": $uppercase(name), "age": age + 1}`,
driven through the worker's steps as the state machine drives them, with the real operation (pages of
96 records, one transaction each, the expression evaluated per record in its time bound, the new values validated and
written in transactions conditioned on the versions read and on the job still running, one commit)
and the worker's real budget. The baseline, against the same backend in the same run, reads the same
records page by page (one Query each), changes them with a plain dict update, and writes the same
items with raw BatchWriteItem: no expression, no validation, no counts, no conditions, no guard.
moto in process; garbage collection paused while timing.

    python bench/mutate_throughput.py [--records 20000] [--rounds 2]
"""

import argparse
import time
from collections import Counter
from typing import Any

import system_job_setup as setup

EXPRESSION = '{"name": $uppercase(name), "age": age + 1}'
FIELDS = [
    {'key': 'name', 'type': 'string'},
    {'key': 'email', 'type': 'string'},
    {'key': 'age', 'type': 'number'},
    {'key': 'city', 'type': 'string'},
]
CITIES = ['Paris', 'Lyon', 'Zürich', 'São Paulo', '']


def sheet(count: int) -> str:
    """A sheet of `count` people, inserted through the record service."""
    from jobs_core.data_jobs import data_plane
    from jobs_core.models.workbook import WorkbookCreate

    wired = data_plane()
    body = WorkbookCreate.model_validate(
        {'name': 'bench', 'spaceId': setup.space(), 'sheets': [{'name': 'people', 'fields': FIELDS}]}
    )
    sheet_id = wired.workbooks.create(setup.tenant(), body).sheets[0].id
    rows = [
        {'name': f'Person {index}', 'email': f'p{index}@example.com', 'age': index % 90, 'city': CITIES[index % 5]}
        for index in range(count)
    ]
    for start in range(0, count, 5000):
        wired.records.insert(setup.tenant(), sheet_id, rows[start : start + 5000])
    return str(sheet_id)


def mutate(sheet_id: str) -> float:
    job_id = setup.create_job(
        type='sheet',
        operation='mutate-records',
        source=sheet_id,
        config={'sheetId': sheet_id, 'mutateRecord': EXPRESSION},
    )
    with setup.paused_gc():
        started = time.perf_counter()
        setup.run(job_id)
        return time.perf_counter() - started


def baseline(client: Any, sheet_id: str) -> float:
    """Read every record a page at a time, update each dict in Python, write with raw BatchWriteItem."""
    from jobs_core.data_jobs import data_plane

    store = data_plane().record_store
    environment = setup.tenant().environment_id
    with setup.paused_gc():
        started = time.perf_counter()
        writer = setup.RawWriter(client)
        for page, _ in store.scan(environment, sheet_id, page_size=96):
            for record in page:
                values = record['values']
                new = {**record, 'values': {**values, 'name': values['name'].upper(), 'age': values['age'] + 1}}
                new['version'] = int(record['version']) + 1
                writer.put(store.record_item(environment, sheet_id, new))
            writer.flush()  # a page's writes before the next page is read, as the job does
        return time.perf_counter() - started


def evaluation(count: int) -> tuple[float, float]:
    """Seconds per record: the expression evaluated in its time bound, and a plain dict update."""
    from jobs_core.sheets import SheetState
    from jobs_core.system.mutation import Mutation

    state = SheetState({'id': 'us_sh_bench', 'slug': 'people', 'config': {'name': 'people', 'fields': FIELDS}})
    mutation = Mutation(EXPRESSION)
    records = [{'id': f'r{index}', 'values': {'name': f'Person {index}', 'age': index % 90}} for index in range(count)]
    with setup.paused_gc():
        started = time.perf_counter()
        for record in records:
            mutation.evaluate(record, state)
        jsonata_seconds = (time.perf_counter() - started) / count
        started = time.perf_counter()
        for record in records:
            values = record['values']
            _ = {**values, 'name': values['name'].upper(), 'age': values['age'] + 1}
        plain_seconds = (time.perf_counter() - started) / count
    return jsonata_seconds, plain_seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--records', type=int, default=20_000)
    parser.add_argument('--rounds', type=int, default=2)
    arguments = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        setup.create_resources()
        from jobs_core.dynamo import dynamodb_client

        client = dynamodb_client()
        calls = setup.Calls(client)
        sheet_id = sheet(arguments.records)
        ours: list[float] = []
        base: list[float] = []
        counted: Counter[str] = Counter()
        for _ in range(arguments.rounds):
            calls.counts.clear()
            ours.append(mutate(sheet_id))
            counted = Counter(calls.counts)
            base.append(baseline(client, sheet_id))
    jsonata_seconds, plain_seconds = evaluation(arguments.records)

    best, floor = min(ours), min(base)
    count = arguments.records
    print(f'Mutating {count:,} records with {EXPRESSION}; best of {arguments.rounds}; moto in process\n')
    header = f'{"path":<52} {"seconds":>8} {"records/s":>10} {"vs base":>8}'
    print(header)
    print('-' * len(header))
    for name, seconds in (
        ('baseline: Query pages + dict update + BatchWriteItem', floor),
        ('sheet:mutate-records job (worker steps)', best),
    ):
        print(f'{name:<52} {seconds:>8.2f} {count / seconds:>10,.0f} {floor / seconds:>8.2f}')
    print(
        f'\njob DynamoDB calls: {sum(counted.values()) * 1000 / count:.1f} per 1,000 records ('
        + ', '.join(f'{name} {calls}' for name, calls in sorted(counted.items()))
        + ')'
    )
    print(
        f'evaluation per record: JSONata {jsonata_seconds * 1e6:,.1f} µs, plain dict update '
        f'{plain_seconds * 1e6:,.2f} µs ({jsonata_seconds / plain_seconds:,.0f}x); '
        f'JSONata alone takes {jsonata_seconds * count / best:.0%} of the job'
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
