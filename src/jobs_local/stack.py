"""The local stack behind `jobs dev`: moto in process, every resource built from template.yaml, the real
authorizer and API handlers behind a local API Gateway on http://127.0.0.1:<port>.

Order matters: the HTTP port is bound first (a busy port fails before anything starts), then moto
starts and the AWS environment points at it before any boto3 client exists, then the tables are
created, each function's environment is resolved from the template, the handlers are imported, the
dev key is issued, and only then are requests served, so `GET /health` answering means ready.
"""

import logging
import os
import signal
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final

from jobs_local.template import api_routes, create_tables, default_authorizer, functions, resolve, resources

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


class StackError(Exception):
    """The local stack cannot start; the message says why, in one line."""


@dataclass(frozen=True)
class StackInfo:
    url: str
    api_key: str
    environment: str
    environment_id: str
    moto_endpoint: str
    tables: dict[str, str]


def _single_api() -> str:
    apis = list(resources('AWS::Serverless::Api'))
    if len(apis) != 1:
        raise StackError(f'The local stack serves exactly one AWS::Serverless::Api; the template has {len(apis)}')
    return apis[0]


def function_environment(refs: dict[str, str]) -> dict[str, str]:
    """Every function's environment from the template, resolved against local names. All functions share
    one process locally, so two functions that disagree on a variable are an error, not a coin toss."""
    merged: dict[str, tuple[str, str]] = {}
    for spec in functions().values():
        for variable, raw in spec.environment.items():
            try:
                value = resolve(raw, refs)
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


def _point_aws_at(endpoint: str, port: int) -> None:
    """Fake credentials and the moto endpoint for every client created from now on."""
    for variable in list(os.environ):
        if variable.startswith('AWS_ENDPOINT_URL_') or variable in {'AWS_PROFILE', 'AWS_DEFAULT_PROFILE'}:
            del os.environ[variable]
    os.environ.update(_FAKE_AWS, AWS_ENDPOINT_URL=endpoint, MOTO_PORT=str(port))


def _quiet_libraries() -> None:
    logging.getLogger('werkzeug').setLevel(logging.WARNING)  # moto's server logs every AWS call
    warnings.filterwarnings('ignore', message='No application metrics to publish')


class LocalStack:
    def __init__(self, port: int = 3000, api_key: str | None = None) -> None:
        self._port = port
        self._api_key = api_key
        self._moto: Any = None
        self._server: Any = None
        self._serving: threading.Thread | None = None

    def start(self) -> StackInfo:
        from jobs_local.gateway import GatewayServer, configure_logging  # noqa: PLC0415 - after argument checks

        configure_logging()
        _quiet_libraries()
        try:
            self._server = GatewayServer((LOOPBACK, self._port))
        except OSError as error:
            raise StackError(f'Cannot listen on {LOOPBACK}:{self._port}: {error.strerror}') from error
        try:
            return self._start_services()
        except BaseException:
            self.stop()
            raise

    def _start_services(self) -> StackInfo:
        try:
            from moto.server import ThreadedMotoServer  # noqa: PLC0415 - moto is heavy; import it only here
        except ModuleNotFoundError as missing:
            hint = "install the local extra: pip install -e '.[local]'"
            raise StackError(f'jobs dev needs {missing.name}; {hint}') from None

        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._moto.start()
        moto_port = self._moto.get_host_and_port()[1]
        endpoint = f'http://{LOOPBACK}:{moto_port}'
        _point_aws_at(endpoint, moto_port)  # before any boto3 client is created

        import boto3  # noqa: PLC0415
        import httpx  # noqa: PLC0415

        # The Step Functions interpreter, for the state machines of later issues.
        config = {'stepfunctions': {'execute_state_machine': True}}
        httpx.post(f'{endpoint}/moto-api/config', json=config).raise_for_status()

        tables = {logical_id: f'{STACK_NAME}-{logical_id}' for logical_id in resources('AWS::DynamoDB::Table')}
        create_tables(boto3.client('dynamodb'), tables)
        environment = function_environment(tables)
        os.environ.update(environment)
        for variable, value in _LOCAL_DEFAULTS.items():
            os.environ.setdefault(variable, value)

        issued, gateway = self._build_gateway(environment)
        self._server.gateway = gateway
        self._serving = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.1}, name='gateway', daemon=True
        )
        self._serving.start()
        host, port = self._server.server_address[:2]
        return StackInfo(
            url=f'http://{host}:{port}',
            api_key=issued.secret,
            environment=issued.environment.name,
            environment_id=issued.environment.id,
            moto_endpoint=endpoint,
            tables=tables,
        )

    def _build_gateway(self, environment: dict[str, str]) -> tuple[Any, Any]:
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
        used = {route.function for route in routes} | ({authorizer.function} if authorizer else set())
        specs = functions()
        loaded = {name: LocalFunction(specs[name], f'{STACK_NAME}-{name}') for name in sorted(used)}

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
        return issued, gateway

    def stop(self) -> None:
        """Stop serving, then stop moto. Safe to call more than once and after a failed start."""
        if self._serving is not None:
            self._server.shutdown()
            self._serving = None
        if self._server is not None:
            self._server.server_close()
            self._server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def run(self, on_ready: Callable[[StackInfo], None]) -> None:
        """Start, call `on_ready`, and serve in the foreground until SIGINT or SIGTERM; then stop cleanly."""
        stopping = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            info = self.start()
            if not stopping.is_set():
                on_ready(info)
            stopping.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()
