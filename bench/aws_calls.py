"""AWS calls per request: what each job endpoint costs in DynamoDB round trips.

The real API handler (ApiFunction, as template.yaml names it) answers API Gateway events under
moto, and a botocore `before-parameter-build` hook on the default session counts every AWS API
call any client makes, with its parameters; an `after-call` hook notes how many items each Query
read. Retries of one call are not counted again (they are one API call to the caller).

Checked claims (issue 2):
- a get, and every mutating job request, is exactly one DynamoDB call (no read before write),
  and no other AWS call;
- a list page is one Query for the page plus the Query that counts (Select COUNT).
Rows marked "info" are printed for what they show and not checked. Exits 1 when a claim fails.

    python bench/aws_calls.py
"""

import contextlib
import io
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT), str(ROOT / 'src')]

# As the unit tests run: fake credentials, a region, tracing and metrics quiet.
os.environ.update(
    AWS_ACCESS_KEY_ID='bench',
    AWS_SECRET_ACCESS_KEY='bench',
    AWS_SESSION_TOKEN='bench',
    AWS_DEFAULT_REGION='us-east-1',
    TABLE_NAME='jobs-bench',
    POWERTOOLS_SERVICE_NAME='jobs',
    POWERTOOLS_METRICS_NAMESPACE='Jobs',
    POWERTOOLS_LOG_LEVEL='ERROR',
    POWERTOOLS_TRACE_DISABLED='true',
)
for variable in ('AWS_ENDPOINT_URL', 'AWS_PROFILE'):
    os.environ.pop(variable, None)
warnings.filterwarnings('ignore', message='No application metrics to publish')
warnings.filterwarnings('ignore', category=DeprecationWarning)

SPACE = 'us_sp_bench0000001'
OTHER_SPACE = 'us_sp_bench0000002'
SPARSE_SPACE = 'us_sp_bench0000003'
SEEDED = 60  # jobs over SPACE and OTHER_SPACE, so pages are real
SPARSE = 250  # jobs in SPARSE_SPACE, only one of them failed


@dataclass
class Call:
    service: str
    operation: str
    index: str | None = None
    counting: bool = False
    items_read: int | None = None

    @property
    def label(self) -> str:
        name = f'{self.operation}(COUNT)' if self.counting else self.operation
        return f'{name} {self.index}' if self.index else name


@dataclass
class Recorder:
    """Every AWS API call made between two `take()`s."""

    calls: list[Call] = field(default_factory=list)

    def on_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        _hook, service, operation = event_name.split('.', 2)
        self.calls.append(
            Call(service, operation, index=params.get('IndexName'), counting=params.get('Select') == 'COUNT')
        )

    def after_call(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.calls and 'ScannedCount' in parsed:
            self.calls[-1].items_read = parsed['ScannedCount']

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls


@dataclass
class Row:
    request: str
    status: int
    calls: list[Call]
    claim: str  # 'one write', 'one read', 'list page', or 'info'
    problem: str | None = None

    @property
    def summary(self) -> str:
        counted = Counter(call.label for call in self.calls)
        return ', '.join(f'{label} x{count}' for label, count in counted.items()) or '-'

    @property
    def items_read(self) -> str:
        read = [call.items_read for call in self.calls if call.items_read is not None]
        return '+'.join(str(count) for count in read) if read else ''


def check(row: Row) -> str | None:
    dynamodb = [call for call in row.calls if call.service == 'dynamodb']
    others = [call for call in row.calls if call.service != 'dynamodb']
    if row.claim == 'info':
        return None
    if others:
        return f'calls outside DynamoDB: {", ".join(call.label for call in others)}'
    if row.claim in {'one read', 'one write'}:
        return None if len(dynamodb) == 1 else f'{len(dynamodb)} DynamoDB calls, expected exactly 1'
    page = [call for call in dynamodb if call.operation == 'Query' and not call.counting]
    count = [call for call in dynamodb if call.operation == 'Query' and call.counting]
    rest = [call for call in dynamodb if call.operation != 'Query']
    if len(page) != 1 or len(count) > 1 or rest:
        return f'{len(page)} page Query, {len(count)} count Query, {len(rest)} other; expected 1 + at most 1'
    return None


class Scenario:
    def __init__(self, handler: Callable[..., dict[str, Any]], recorder: Recorder) -> None:
        from tests.builders import LambdaContext, api_event

        self._handler = handler
        self._recorder = recorder
        self._event = api_event
        self._context = LambdaContext()
        self.rows: list[Row] = []

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics (EMF) and logs
            response = self._handler(self._event(method, path, body, query=query), self._context)
        text = response.get('body') or ''
        return {'status': int(response['statusCode']), 'body': json.loads(text) if text.startswith('{') else text}

    def setup(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
        """A request that prepares the next measured one; its calls are not counted."""
        response = self.call(method, path, body, query)
        if response['status'] >= 300:
            raise SystemExit(f'setup {method} {path} answered {response["status"]}: {response["body"]}')
        self._recorder.take()
        answer: dict[str, Any] = response['body']
        return answer

    def measure(
        self,
        name: str,
        claim: str,
        request: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        expected: int = 200,
    ) -> dict[str, Any]:
        """One counted request, e.g. measure('get', 'one read', 'GET /v1/jobs/us_jb_…')."""
        method, _, path = request.partition(' ')
        self._recorder.take()
        response = self.call(method, path, body, query)
        row = Row(name, response['status'], self._recorder.take(), claim)
        row.problem = check(row)
        if response['status'] != expected:
            row.problem = f'answered {response["status"]}, expected {expected}: {response["body"]}'
        self.rows.append(row)
        return response['body'] if isinstance(response['body'], dict) else {}

    def new_job(self, **fields: Any) -> str:
        body = {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_bench0000001', **fields}
        return str(self.setup('POST', '/v1/jobs', body)['data']['id'])


def run(scenario: Scenario) -> None:
    """Every job endpoint once, then lists over an environment with more jobs than a page."""
    jobs = '/v1/jobs'
    body = {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_bench0000001', 'spaceId': SPACE}
    job = f'{jobs}/{scenario.measure("create", "one write", f"POST {jobs}", body=body, expected=201)["data"]["id"]}'
    scenario.measure('get', 'one read', f'GET {job}')
    scenario.measure(
        'PATCH (info, metadata)', 'one write', f'PATCH {job}', body={'info': 'queued', 'metadata': {'a': 1}}
    )
    scenario.measure('execute', 'one write', f'POST {job}/execute')
    scenario.measure('execute again (no-op)', 'one write', f'POST {job}/execute')
    scenario.measure('ack', 'one write', f'POST {job}/ack', body={'info': 'started'})
    scenario.measure('ack tick (progress)', 'one write', f'POST {job}/ack', body={'progress': 50, 'info': 'half'})
    scenario.measure('complete', 'one write', f'POST {job}/complete', body={'info': 'done'})
    scenario.measure('outcome/ack', 'one write', f'POST {job}/outcome/ack')
    scenario.measure('complete again (409)', 'one write', f'POST {job}/complete', expected=409)

    failing = f'{jobs}/{scenario.new_job(trigger="immediate", spaceId=SPACE)}'
    scenario.measure('fail', 'one write', f'POST {failing}/fail', body={'info': 'broken'})
    scenario.measure('retry', 'one write', f'POST {failing}/retry')
    canceling = f'{jobs}/{scenario.new_job(spaceId=SPACE)}'
    scenario.measure('cancel', 'one write', f'POST {canceling}/cancel')
    scenario.measure('delete', 'one write', f'DELETE {canceling}')
    scenario.measure('get (404)', 'one read', f'GET {canceling}', expected=404)

    seed(scenario)
    scenario.measure('list (no filter)', 'list page', f'GET {jobs}')
    scenario.measure('list status=ready', 'list page', f'GET {jobs}', query={'status': 'ready'})
    page = scenario.measure('list pageSize=10', 'list page', f'GET {jobs}', query={'pageSize': '10'})
    for _ in range(3):
        query = {'pageSize': '10', 'pageToken': page['pagination']['nextPageToken']}
        page = scenario.setup('GET', jobs, query=query)
    query = {'pageSize': '10', 'pageToken': page['pagination']['nextPageToken']}
    scenario.measure('list pageToken (page 5)', 'list page', f'GET {jobs}', query=query)
    query = {'spaceId': SPACE, 'status': 'ready'}
    scenario.measure('list spaceId + status', 'list page', f'GET {jobs}', query=query)

    # Informational: what a deep pageNumber and a sparse second filter cost.
    scenario.measure('list pageNumber=5 (no token)', 'info', f'GET {jobs}', query={'pageSize': '10', 'pageNumber': '5'})
    query = {'spaceId': SPARSE_SPACE, 'status': 'failed'}
    scenario.measure(f'list spaceId + status, 1 match in {SPARSE}', 'info', f'GET {jobs}', query=query)


def seed(scenario: Scenario) -> None:
    """SEEDED jobs over two spaces in mixed statuses, and SPARSE in a third space, the oldest failed."""
    for number in range(SEEDED):
        job_id = scenario.new_job(
            spaceId=SPACE if number % 2 else OTHER_SPACE, trigger='immediate' if number % 3 else 'manual'
        )
        if number % 10 == 0:
            scenario.setup('POST', f'/v1/jobs/{job_id}/fail')
    for number in range(SPARSE):
        job_id = scenario.new_job(spaceId=SPARSE_SPACE)
        if number == 0:
            scenario.setup('POST', f'/v1/jobs/{job_id}/fail')


def report(rows: list[Row]) -> bool:
    width = max(len(row.request) for row in rows)
    calls_width = max(len(row.summary) for row in rows)
    header = f'{"request":<{width}}  {"status":>6}  {"AWS calls":<{calls_width}}  {"items read":>10}  claim'
    print('AWS API calls per request (the real ApiFunction handler under moto, counted by botocore event hooks)')
    print(f'Environment: {SEEDED + SPARSE + 2} jobs before the lists; pages of 20 unless stated.')
    print('items read: what each Query evaluated (ScannedCount), page first, then the count.')
    print()
    print(header)
    print('-' * len(header))
    for row in rows:
        verdict = 'info' if row.claim == 'info' else ('FAIL' if row.problem else 'ok')
        claim = f'{row.claim}: {verdict}'
        print(f'{row.request:<{width}}  {row.status:>6}  {row.summary:<{calls_width}}  {row.items_read:>10}  {claim}')
    failures = [row for row in rows if row.problem]
    print()
    for row in failures:
        print(f'FAILED {row.request}: {row.problem}')
    checked = [row for row in rows if row.claim != 'info']
    print(f'{len(checked) - len(failures)} of {len(checked)} claims hold.')
    return not failures


def main() -> int:
    import boto3
    from moto import mock_aws

    from jobs_core.dynamo import dynamodb_client
    from jobs_local.functions import handler_of, load_entry
    from jobs_local.template import create_tables

    recorder = Recorder()
    with mock_aws():
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        dynamodb_client.cache_clear()
        create_tables(session.client('dynamodb'), {'JobsTable': os.environ['TABLE_NAME']})
        # Registered on the session, so every client created from now on (the handler's) reports.
        session.events.register('before-parameter-build', recorder.on_call)
        session.events.register('after-call', recorder.after_call)
        load_entry('ApiFunction').job_routes.service.cache_clear()
        scenario = Scenario(handler_of('ApiFunction'), recorder)
        run(scenario)
    return 0 if report(scenario.rows) else 1


if __name__ == '__main__':
    sys.exit(main())
