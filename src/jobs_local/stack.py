"""The local stack behind `jobs dev`: moto in process, every resource built from template.yaml, the real
authorizer and API handlers behind a local API Gateway on http://127.0.0.1:<port>, and the event path
(stream → publisher → bus → rules → queues → event store and gates, schedules, listeners) running the
real handlers as AWS would.

Order matters: the HTTP port is bound first (a busy port fails before anything starts), then moto
starts and the AWS environment points at it before any boto3 client exists, then the template's
resources are created, each function's environment is resolved from the template, the handlers are
imported, the dev key is issued, the event source mappings, the scheduler and any listener
subscriptions start polling, and only once every poller runs are requests served, so `GET /health`
answering means ready.
"""

import json
import logging
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from jobs_local.errors import StackError
from jobs_local.runtime import ACCOUNT_ID, REGION, serve_moto_invocations
from jobs_local.template import api_routes, default_authorizer, functions, resolve, resources

if TYPE_CHECKING:
    from jobs_local.pollers import Poller
    from jobs_local.provision import LocalResources
    from jobs_local.subscriptions import Handler

__all__ = ['DEV_ENVIRONMENT', 'STACK_NAME', 'LocalStack', 'StackError', 'StackInfo']

STACK_NAME: Final = 'jobs-local'
DEV_ENVIRONMENT: Final = 'development'
LOOPBACK: Final = '127.0.0.1'
_FAKE_AWS: Final = {
    'AWS_ACCESS_KEY_ID': 'local',
    'AWS_SECRET_ACCESS_KEY': 'local',
    'AWS_SESSION_TOKEN': 'local',
    'AWS_DEFAULT_REGION': 'us-east-1',
    'AWS_REGION': 'us-east-1',
}
# What a deployed Lambda has and a laptop does not: no X-Ray daemon, no CloudWatch for metrics.
_LOCAL_DEFAULTS: Final = {'POWERTOOLS_TRACE_DISABLED': 'true', 'POWERTOOLS_METRICS_DISABLED': 'true'}
# Every retry delay of the emulated services (Lambda's event source mappings and asynchronous retries,
# the visibility timeout of a failed message) is this many seconds locally, instead of up to minutes.
RETRY_SECONDS_VARIABLE: Final = 'JOBS_LOCAL_RETRY_SECONDS'
DEFAULT_RETRY_SECONDS: Final = 1.0
READY_WITHIN_SECONDS: Final = 30
_AWS_SERVICES: Final = (
    'dynamodb',
    'dynamodbstreams',
    'sqs',
    'events',
    'iam',
    'scheduler',
    'lambda',
    'stepfunctions',
    's3',
)
_LISTENER_NAME: Final = re.compile(r'[^A-Za-z0-9_-]+')

log = logging.getLogger('jobs_local.events')


@dataclass(frozen=True)
class StackInfo:
    url: str
    api_key: str
    environment: str
    environment_id: str
    moto_endpoint: str
    tables: dict[str, str]
    bus: str | None = None


def _single_api() -> str:
    apis = list(resources('AWS::Serverless::Api'))
    if len(apis) != 1:
        raise StackError(f'The local stack serves exactly one AWS::Serverless::Api; the template has {len(apis)}')
    return apis[0]


def function_environment(local: 'LocalResources') -> dict[str, str]:
    """Every function's environment from the template, resolved against local names. All functions share
    one process locally, so two functions that disagree on a variable are an error, not a coin toss."""
    merged: dict[str, tuple[str, str]] = {}
    for spec in functions().values():
        for variable, raw in spec.environment.items():
            try:
                value = local.resolve(raw)
            except ValueError as error:
                raise StackError(f'{spec.name} environment {variable}: {error}') from error
            if variable in merged and merged[variable][0] != value:
                first_value, first_function = merged[variable]
                raise StackError(
                    f'{variable} is {first_value!r} for {first_function} but {value!r} for {spec.name}; '
                    'functions share one process locally'
                )
            merged.setdefault(variable, (value, spec.name))
    return {variable: value for variable, (value, _) in merged.items()}


def retry_seconds() -> float:
    raw = os.environ.get(RETRY_SECONDS_VARIABLE, '')
    if not raw:
        return DEFAULT_RETRY_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 60:
        raise StackError(f'{RETRY_SECONDS_VARIABLE} must be a number of seconds from 0 to 60, not {raw!r}')
    return value


def _point_aws_at(endpoint: str, port: int) -> None:
    """Fake credentials and the moto endpoint for every client created from now on."""
    for variable in list(os.environ):
        if variable.startswith('AWS_ENDPOINT_URL_') or variable in {'AWS_PROFILE', 'AWS_DEFAULT_PROFILE'}:
            del os.environ[variable]
    os.environ.update(_FAKE_AWS, AWS_ENDPOINT_URL=endpoint, MOTO_PORT=str(port))


def _quiet_libraries() -> None:
    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # moto's server logs every AWS call
    # moto's ASL interpreter logs each failing state (a caught error included) as a multi-line dump.
    logging.getLogger('moto.stepfunctions.parser.asl.component.eval_component').setLevel(logging.CRITICAL)
    warnings.filterwarnings('ignore', message='No application metrics to publish')


class LocalStack:
    def __init__(self, port: int = 3000, api_key: str | None = None) -> None:
        self._port = port
        self._api_key = api_key
        self._moto: Any = None
        self._server: Any = None
        self._serving: threading.Thread | None = None
        self._stopping = threading.Event()
        self._pollers: list[Poller] = []
        self._clients: dict[str, Any] = {}
        self._local: LocalResources | None = None
        self._retry_seconds = DEFAULT_RETRY_SECONDS
        self._lock = threading.Lock()
        self._pending: list[tuple[str, list[dict[str, Any]], Handler]] = []
        self._listener_names: set[str] = set()

    def start(self, prepare: Callable[[StackInfo], None] | None = None) -> StackInfo:
        """Start everything; `prepare` runs once the stack works but before it serves (e.g. to subscribe
        listeners), so that `/health` answering means all of it is ready."""
        from jobs_local.gateway import GatewayServer, configure_logging  # noqa: PLC0415 - after argument checks

        configure_logging()
        _quiet_libraries()
        self._retry_seconds = retry_seconds()
        try:
            self._server = GatewayServer((LOOPBACK, self._port))
        except OSError as error:
            raise StackError(f'Cannot listen on {LOOPBACK}:{self._port}: {error.strerror}') from error
        try:
            return self._start_services(prepare)
        except BaseException:
            self.stop()
            raise

    def _start_services(self, prepare: Callable[[StackInfo], None] | None) -> StackInfo:
        try:
            from moto.server import ThreadedMotoServer  # noqa: PLC0415 - moto is heavy; import it only here
        except ModuleNotFoundError as missing:
            hint = "install the local extra: pip install -e '.[local]'"
            raise StackError(f'jobs dev needs {missing.name}; {hint}') from None

        from jobs_local.transactions import install  # noqa: PLC0415 - it imports moto

        install()  # DynamoDB transactions that cost what DynamoDB's do, however big a table grows
        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._moto.start()
        moto_port = self._moto.get_host_and_port()[1]
        endpoint = f'http://{LOOPBACK}:{moto_port}'
        _point_aws_at(endpoint, moto_port)  # before any boto3 client is created

        import boto3  # noqa: PLC0415
        import httpx  # noqa: PLC0415

        from jobs_local.provision import LocalResources, Provisioner  # noqa: PLC0415

        # moto's Step Functions interpreter, so the template's state machines really run.
        config = {'stepfunctions': {'execute_state_machine': True}}
        httpx.post(f'{endpoint}/moto-api/config', json=config).raise_for_status()

        # Clients are made here, on one thread: boto3's default session is not safe to share while it makes them.
        self._clients = {service: boto3.client(service) for service in _AWS_SERVICES}
        local = Provisioner(self._clients, LocalResources(STACK_NAME, REGION, ACCOUNT_ID)).provision()
        environment = function_environment(local)
        os.environ.update(environment)
        for variable, value in _LOCAL_DEFAULTS.items():
            os.environ.setdefault(variable, value)

        issued, gateway, loaded = self._build_gateway(environment)
        serve_moto_invocations({function.deployed_name: function for function in loaded.values()})
        self._server.gateway = gateway
        self._start_pollers(local, loaded)
        with self._lock:
            self._local = local
            pending, self._pending = self._pending, []
        for notice in local.notices:
            log.info('local stack: %s', notice)
        for name, patterns, handler in pending:
            self.subscribe(name, patterns, handler)

        host, port = self._server.server_address[:2]
        tables = {logical_id: local.refs[logical_id] for logical_id in resources('AWS::DynamoDB::Table')}
        info = StackInfo(
            url=f'http://{host}:{port}',
            api_key=issued.secret,
            environment=issued.environment.name,
            environment_id=issued.environment.id,
            moto_endpoint=endpoint,
            tables=tables,
            bus=next(iter(local.buses.values()), None),
        )
        if prepare is not None:
            prepare(info)
        self._serving = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.1}, name='gateway', daemon=True
        )
        self._serving.start()
        return info

    def _build_gateway(self, environment: dict[str, str]) -> tuple[Any, Any, dict[str, Any]]:
        from jobs_core.dynamo import dynamodb_client  # noqa: PLC0415 - only once AWS_ENDPOINT_URL is set
        from jobs_core.errors import BadRequest  # noqa: PLC0415
        from jobs_core.keys import ApiKeyStore  # noqa: PLC0415
        from jobs_local.admin import KEYS_PATH, KeysRoute  # noqa: PLC0415
        from jobs_local.gateway import ApiGateway  # noqa: PLC0415
        from jobs_local.runtime import LocalFunction  # noqa: PLC0415
        from jobs_local.template import gateway_responses  # noqa: PLC0415

        dynamodb_client.cache_clear()
        api = _single_api()
        routes = api_routes()
        authorizer = default_authorizer(api)
        loaded = {name: LocalFunction(spec, f'{STACK_NAME}-{name}') for name, spec in sorted(functions().items())}

        if 'TABLE_NAME' not in environment:
            raise StackError('No function has TABLE_NAME: the local stack cannot tell where API keys live')
        store = ApiKeyStore(environment['TABLE_NAME'])
        try:
            issued = store.issue(DEV_ENVIRONMENT, secret=self._api_key)
        except BadRequest as error:
            raise StackError(f'JOBS_API_KEY: {error.message}') from error
        stage = resolve(resources('AWS::Serverless::Api')[api]['Properties'].get('StageName', 'live'), {})
        gateway = ApiGateway(
            routes=routes,
            functions=loaded,
            authorizer=authorizer,
            responses=gateway_responses(api),
            stage=stage,
            local_routes={KEYS_PATH: KeysRoute(store)},
        )
        return issued, gateway, loaded

    def _start_pollers(self, local: 'LocalResources', loaded: dict[str, Any]) -> None:
        from jobs_local.event_sources import Settings, event_source_pollers  # noqa: PLC0415
        from jobs_local.pollers import Poller  # noqa: PLC0415
        from jobs_local.scheduler import Scheduler, SchedulerApi, TargetSender  # noqa: PLC0415

        settings = Settings(retry_seconds=self._retry_seconds, wait=self._stopping.wait)
        pollers = event_source_pollers(local, loaded, self._clients, settings, self._stopping)
        sender = TargetSender(self._clients['sqs'], self._clients['events'], local.queue_urls)
        scheduler = Scheduler(SchedulerApi(self._clients['scheduler']), sender.send, clock=lambda: datetime.now(UTC))
        pollers.append(Poller('EventBridge Scheduler', scheduler.poll_once, self._stopping, interval=0.25))
        self._run_pollers(pollers)

    def _run_pollers(self, pollers: 'list[Poller]') -> None:
        self._pollers.extend(pollers)
        for poller in pollers:
            poller.start()
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        for poller in pollers:
            if not poller.ready.wait(max(0.0, deadline - time.monotonic())):
                raise StackError(f'{poller.name} did not start polling within {READY_WITHIN_SECONDS} s')

    # ------------------------------------------------------------ listeners
    def subscribe(self, name: str, patterns: list[dict[str, Any]], handler: 'Handler') -> None:
        """Deliver every event of the bus that matches one of `patterns` to `handler(event)`, as EventBridge
        invokes a Lambda target asynchronously: the whole EventBridge event, concurrently, retried twice
        on an exception, then put on the subscription's dead-letter queue (logged, never dropped).

        Before `start`, the subscription is kept and made when the stack starts; after, it is made at once
        and this returns when its poller runs.
        """
        from jobs_local.patterns import PatternError, check  # noqa: PLC0415

        if not patterns:
            raise StackError(f'listener {name}: no event patterns to subscribe with')
        for pattern in patterns:
            try:
                check(pattern)
            except PatternError as error:
                raise StackError(f'listener {name}: {error}') from None
        with self._lock:
            if self._local is None:
                self._pending.append((name, patterns, handler))
                return
            local = self._local
            base = self._listener_name(name)
        self._subscribe(local, name, base, patterns, handler)

    def _listener_name(self, name: str) -> str:
        base = _LISTENER_NAME.sub('-', name).strip('-')[:30] or 'listener'
        unique, count = base, 1
        while unique in self._listener_names:
            count += 1
            unique = f'{base}-{count}'
        self._listener_names.add(unique)
        return unique

    def _subscribe(
        self, local: 'LocalResources', name: str, base: str, patterns: list[dict[str, Any]], handler: 'Handler'
    ) -> None:
        from jobs_local.pollers import Poller  # noqa: PLC0415
        from jobs_local.queue_mapping import SqsQueue  # noqa: PLC0415
        from jobs_local.subscriptions import Subscription, SubscriptionConfig  # noqa: PLC0415

        if len(local.buses) != 1:
            raise StackError(f'listener {name}: the template must have exactly one event bus, not {len(local.buses)}')
        bus = next(iter(local.buses.values()))
        sqs, events = self._clients['sqs'], self._clients['events']
        prefix = f'{STACK_NAME}-listener-{base}'
        # The queue hides a message while a handler works on it: longer than any Lambda may run.
        url = sqs.create_queue(QueueName=prefix, Attributes={'VisibilityTimeout': '960'})['QueueUrl']
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
        dead_letters = sqs.create_queue(QueueName=f'{prefix}-dlq', Attributes={'MessageRetentionPeriod': '1209600'})
        for index, pattern in enumerate(patterns):
            rule = f'{prefix}-{index}'
            events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern), State='ENABLED')
            events.put_targets(Rule=rule, EventBusName=bus, Targets=[{'Id': 'listener', 'Arn': arn}])
        dead_letter_queue = SqsQueue(sqs, dead_letters['QueueUrl'], self._retry_seconds)
        subscription = Subscription(
            SubscriptionConfig(
                name=name,
                account_id=ACCOUNT_ID,
                region=REGION,
                retry_seconds=self._retry_seconds,
                dead_letter_queue=f'{prefix}-dlq',
            ),
            SqsQueue(sqs, url, self._retry_seconds),
            handler,
            dead_letter_queue.send,
            wait=self._stopping.wait,
        )
        self._run_pollers([Poller(f'listener {name}', subscription.poll_once, self._stopping)])
        log.info('listener %s subscribed with %d rule(s) on %s', name, len(patterns), bus)

    # ------------------------------------------------------------ stop
    def stop(self) -> None:
        """Stop serving, then the pollers, then moto. Safe to call more than once and after a failed start."""
        self._stopping.set()
        if self._serving is not None:
            self._server.shutdown()
            self._serving = None
        if self._server is not None:
            self._server.server_close()
            self._server = None
        for poller in self._pollers:
            poller.join(timeout=5)
        self._pollers = []
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def run(self, on_ready: Callable[[StackInfo], None], prepare: Callable[[StackInfo], None] | None = None) -> None:
        """Start, call `on_ready`, and serve in the foreground until SIGINT or SIGTERM; then stop cleanly."""
        stopping = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            info = self.start(prepare)
            if not stopping.is_set():
                on_ready(info)
            stopping.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()
