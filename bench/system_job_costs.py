"""What each system operation costs per 1,000 records: DynamoDB and S3 calls, and job:updated events.

Each operation runs as a job driven through the worker's steps as the state machine drives them, at
its real sizes and budget, on a sheet of `--records` records: extract (a CSV uploaded for import),
export (CSV, then XLSX), find-replace (every record's email changed) and delete-records (all of
them). Calls are counted by a botocore hook on the clients the stores use. Events are what the
publisher would make of the job item's stream records (jobs_core.topics), read back from moto's
DynamoDB stream: job:updated is a progress write, at most one a whole percent.

Checked claims (issue 5): at most about 100 job:updated events per job however large it is (101
allowed: ack's 0 % and one a percent to 99 %, with completion its own event), and per 1,000 records
at most 60 DynamoDB calls for extract, 15 for a CSV export, 40 for find-replace and delete-records.

    python bench/system_job_costs.py [--records 10000]
"""

import argparse
from collections import Counter
from dataclasses import dataclass
from typing import Any

import system_job_setup as setup

MAX_UPDATED_EVENTS = 101
MAX_CALLS_PER_1000 = {'extract': 60, 'export CSV': 15, 'export XLSX': 15, 'find-replace': 40, 'delete-records': 40}


@dataclass
class Cost:
    name: str
    records: int
    dynamodb: Counter[str]
    s3: Counter[str]
    topics: Counter[str]

    def per_1000(self, calls: Counter[str]) -> float:
        return sum(calls.values()) * 1000 / self.records


class Meter:
    """Counts the calls of the stores' clients, and reads the jobs table's stream for a job's events."""

    def __init__(self) -> None:
        import boto3

        from jobs_core.dynamo import dynamodb_client
        from jobs_core.object_store import s3_client

        self.dynamodb: Counter[str] = Counter()
        self.s3: Counter[str] = Counter()
        dynamodb_client().meta.events.register('before-call.dynamodb.*', self._count(self.dynamodb))
        s3_client().meta.events.register('before-call.s3.*', self._count(self.s3))
        self._streams = boto3.client('dynamodbstreams')
        self._arn = boto3.client('dynamodb').describe_table(TableName='jobs-bench')['Table']['LatestStreamArn']

    @staticmethod
    def _count(counter: Counter[str]) -> Any:
        def count(model: Any, **_: Any) -> None:
            counter[model.name] += 1

        return count

    def reset(self) -> None:
        self.dynamodb.clear()
        self.s3.clear()

    def topics(self, job_id: str) -> Counter[str]:
        """The lifecycle events the publisher makes of the job item's stream records."""
        from jobs_core.dynamo import from_item
        from jobs_core.topics import job_topics

        shard = self._streams.describe_stream(StreamArn=self._arn)['StreamDescription']['Shards'][0]['ShardId']
        iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard, ShardIteratorType='TRIM_HORIZON'
        )['ShardIterator']
        found: Counter[str] = Counter()
        while iterator:
            response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in response['Records']:
                change = record['dynamodb']
                if change['Keys']['pk']['S'] != f'JOB#{setup.tenant().environment_id}#{job_id}':
                    continue
                old = from_item(change['OldImage']) if 'OldImage' in change else None
                new = from_item(change['NewImage']) if 'NewImage' in change else None
                found.update(job_topics(record['eventName'], old, new))
            if not response['Records']:
                break
            iterator = response.get('NextShardIterator')
        return found


def measure(meter: Meter, name: str, records: int, job_id: str) -> tuple[Cost, Any]:
    meter.reset()
    job = setup.run(job_id)
    return Cost(name, records, Counter(meter.dynamodb), Counter(meter.s3), meter.topics(job_id)), job


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--records', type=int, default=10_000)
    arguments = parser.parse_args()
    from moto import mock_aws

    count = arguments.records
    costs: list[Cost] = []
    with mock_aws():
        setup.create_resources()
        meter = Meter()
        space_id = setup.space()
        file_id = setup.upload(space_id, setup.people_csv(count))
        extract, job = measure(meter, 'extract', count, setup.extract_job(file_id))
        costs.append(extract)
        sheet_id = setup.sheet_of(job)
        for name, config in (('export CSV', None), ('export XLSX', {'format': 'xlsx'})):
            export = setup.create_job(type='sheet', operation='export', source=sheet_id, config=config)
            costs.append(measure(meter, name, count, export)[0])
        replace = {'fieldKey': 'email', 'find': '@example.com', 'replace': '@example.org'}
        find_replace = setup.create_job(type='sheet', operation='find-replace', source=sheet_id, config=replace)
        costs.append(measure(meter, 'find-replace', count, find_replace)[0])
        delete = setup.create_job(type='sheet', operation='delete-records', source=sheet_id, config={'filter': 'all'})
        costs.append(measure(meter, 'delete-records', count, delete)[0])

    print(f'Each operation on {count:,} records, through the worker steps at real sizes; moto in process\n')
    header = f'{"operation":<16} {"DynamoDB/1k":>12} {"S3/1k":>7} {"job:updated":>12} {"all events":>11}'
    print(header)
    print('-' * len(header))
    problems = []
    for cost in costs:
        updated = cost.topics['job:updated']
        print(
            f'{cost.name:<16} {cost.per_1000(cost.dynamodb):>12.1f} {cost.per_1000(cost.s3):>7.2f} '
            f'{updated:>12} {sum(cost.topics.values()):>11}'
        )
        if updated > MAX_UPDATED_EVENTS:
            problems.append(f'{cost.name}: {updated} job:updated events > {MAX_UPDATED_EVENTS}')
        if cost.per_1000(cost.dynamodb) > MAX_CALLS_PER_1000[cost.name]:
            problems.append(f'{cost.name}: {cost.per_1000(cost.dynamodb):.1f} DynamoDB calls per 1,000 records')
    print()
    for cost in costs:
        calls = ', '.join(f'{name} {number}' for name, number in sorted(cost.dynamodb.items()))
        topics = ', '.join(f'{name} {number}' for name, number in sorted(cost.topics.items()))
        print(f'{cost.name}: {calls}; S3 {dict(cost.s3)}; events {topics}')
    print('\n' + ('FAIL: ' + '; '.join(problems) if problems else 'OK: every claim holds'))
    return 1 if problems else 0


if __name__ == '__main__':
    raise SystemExit(main())
