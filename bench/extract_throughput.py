"""Extract throughput: rows/s of a file:extract job against raw BatchWriteItem, in the same run.

The job extracts a 200,000-row CSV uploaded for import, driven through the worker's steps as the
state machine drives them, with the real operation (ranged reads, 250-row batches validated and
written through the record service, a read of the job and one counting UpdateItem per batch) and
the worker's real budget. The baseline, against the same backend in the same run, reads the same
object, parses it with the csv module and writes the same items (same ids, values, shape) with raw
BatchWriteItem calls and nothing else: no validation, no counts, no guard. The data table is emptied
before each, so both start alike. moto in process; garbage collection paused while timing.

Checked claim (issue 5): the extract's rows/s are at least 0.6 of the baseline's.

    python bench/extract_throughput.py [--rows 200000] [--rounds 2]
"""

import argparse
import csv
import io
import time
from collections import Counter
from typing import Any

import system_job_setup as setup

MIN_RATIO = 0.6


def empty(client: Any, keep: str | None = None) -> None:
    """Drop every record of the data table (not the catalog's items) but the sheet `keep`'s, so each
    run starts alike."""
    keys = []
    for page in client.get_paginator('scan').paginate(TableName='jobs-bench-data', ProjectionExpression='pk, sk'):
        records = (item for item in page['Items'] if item['sk']['S'].startswith('REC#'))
        keys += [item for item in records if keep is None or keep not in item['pk']['S']]
    for start in range(0, len(keys), 25):
        setup.raw_write(client, [{'DeleteRequest': {'Key': key}} for key in keys[start : start + 25]])


def extract(space_id: str, content: bytes) -> tuple[float, str]:
    file_id = setup.upload(space_id, content)
    job_id = setup.extract_job(file_id)
    with setup.paused_gc():
        started = time.perf_counter()
        job = setup.run(job_id)
        seconds = time.perf_counter() - started
    return seconds, setup.sheet_of(job)


def baseline(client: Any, sheet_id: str, key: str) -> float:
    """Read, parse with the csv module, write the same items with raw BatchWriteItem."""
    import boto3

    from jobs_core.data_jobs import data_plane

    store = data_plane().record_store
    s3 = boto3.client('s3')
    environment = setup.tenant().environment_id
    with setup.paused_gc():
        started = time.perf_counter()
        text = s3.get_object(Bucket='jobs-bench-files', Key=key)['Body'].read().decode()
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        writer = setup.RawWriter(client)
        for position, row in enumerate(reader):
            values = {name: value for name, value in zip(header, row, strict=False) if value}
            writer.put(store.record_item(environment, sheet_id, setup.baseline_record(position, values)))
        writer.flush()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rows', type=int, default=200_000)
    parser.add_argument('--rounds', type=int, default=2)
    arguments = parser.parse_args()
    from moto import mock_aws

    content = setup.people_csv(arguments.rows)
    with mock_aws():
        setup.create_resources()
        from jobs_core.dynamo import dynamodb_client
        from jobs_core.object_store import file_key

        client = dynamodb_client()
        calls = setup.Calls(client)
        space_id = setup.space()
        ours: list[float] = []
        base: list[float] = []
        per_1000 = 0.0
        for _ in range(arguments.rounds):
            empty(client)
            calls.counts.clear()
            seconds, sheet_id = extract(space_id, content)
            per_1000 = sum(calls.counts.values()) * 1000 / arguments.rows
            ours.append(seconds)
            counted = Counter(calls.counts)
            empty(client)
            file_id = setup.upload(space_id, content)
            base.append(baseline(client, sheet_id, file_key(setup.tenant().environment_id, file_id)))

    best, floor = min(ours), min(base)
    ratio = floor / best
    print(
        f'Extracting a {arguments.rows:,}-row CSV ({len(content) / 1e6:.1f} MB); '
        f'best of {arguments.rounds}; moto in process\n'
    )
    header = f'{"path":<44} {"seconds":>8} {"rows/s":>9} {"vs base":>8}'
    print(header)
    print('-' * len(header))
    print(f'{"baseline: csv module + raw BatchWriteItem":<44} {floor:>8.2f} {arguments.rows / floor:>9,.0f} {1:>8.2f}')
    print(f'{"file:extract job (worker steps)":<44} {best:>8.2f} {arguments.rows / best:>9,.0f} {ratio:>8.2f}')
    print(
        f'\nextract DynamoDB calls: {per_1000:.1f} per 1,000 rows ('
        + ', '.join(f'{name} {count}' for name, count in sorted(counted.items()))
        + ')'
    )
    ok = ratio >= MIN_RATIO
    print('\n' + ('OK: every claim holds' if ok else f'FAIL: rows/s {ratio:.2f} of the baseline < {MIN_RATIO}'))
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())
