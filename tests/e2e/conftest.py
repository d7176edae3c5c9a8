"""End-to-end tests: `jobs dev` as a real process, driven over real HTTP.

One local stack serves the whole session (its tests share the xdist group 'localstack', so they run
on one worker). Readiness is its `/health` answering 200: polling a health check is how a client
synchronises with a server that is starting, and it is bounded.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(sys.executable).parent / 'jobs'
READY_WITHIN_SECONDS = 60


@dataclass
class RunningStack:
    url: str
    port: int
    api_key: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors='replace')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


def stack_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith('PYTEST_')}
    return {**environment, 'PYTHONUNBUFFERED': '1', **extra}


def run_cli(*args: str, remove: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess[str]:
    """`jobs …` as a user runs it, with `env` added to and `remove` taken from this environment."""
    environment = {key: value for key, value in stack_environment(**env).items() if key not in remove}
    return subprocess.run(
        [str(JOBS), *args], check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def start_stack(log: Path, api_key: str | None = None, listeners: tuple[Path, ...] = ()) -> RunningStack:
    """Start `jobs dev` on a free port and return once `/health` answers 200 and it has printed its
    banner (the key, the endpoints: printed once it serves)."""
    port = free_port()
    # Retries of the event path (Lambda's and EventBridge's) a fifth of a second apart, not one.
    extra = {'PORT': str(port), 'JOBS_LOCAL_RETRY_SECONDS': '0.2'} | ({'JOBS_API_KEY': api_key} if api_key else {})
    options = [argument for path in listeners for argument in ('--listener', str(path))]
    with log.open('wb') as output:
        process = subprocess.Popen(
            [str(JOBS), 'dev', *options],
            cwd=ROOT,
            env=stack_environment(**extra),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    stack = RunningStack(url=f'http://127.0.0.1:{port}', port=port, api_key=api_key or '', process=process, log=log)
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f'jobs dev exited with {process.returncode} before it was ready:\n{stack.output()}')
        try:
            if (
                'Jobs local stack ready' in stack.output()
                and httpx.get(f'{stack.url}/health', timeout=2).status_code == 200
            ):
                return stack
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # the next poll of the health check
    stop_stack(stack)
    pytest.fail(f'jobs dev was not ready within {READY_WITHIN_SECONDS} s:\n{stack.output()}')


def stop_stack(stack: RunningStack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()


LISTENERS = (ROOT / 'tests' / 'e2e' / 'listeners' / 'e2e_listener.py',)


@pytest.fixture(scope='session')
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    key = f'sk_e2e_{secrets.token_urlsafe(24)}'
    running = start_stack(tmp_path_factory.mktemp('stack') / 'jobs-dev.log', api_key=key, listeners=LISTENERS)
    yield running
    stop_stack(running)


@pytest.fixture(scope='session')
def client(stack: RunningStack) -> Iterator[httpx.Client]:
    """An HTTP client with the dev key of the stack (the `development` environment)."""
    with httpx.Client(
        base_url=stack.url, headers={'Authorization': f'Bearer {stack.api_key}'}, timeout=30
    ) as http_client:
        yield http_client


@pytest.fixture(scope='session')
def anonymous(stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30) as http_client:
        yield http_client


def issue_key(stack: RunningStack, environment: str) -> str:
    response = httpx.post(f'{stack.url}/_local/keys', json={'environment': environment}, timeout=30)
    assert response.status_code == 201, response.text
    return str(response.json()['data']['key'])


@pytest.fixture(scope='session')
def other_client(stack: RunningStack) -> Iterator[httpx.Client]:
    """A client whose key belongs to another environment, made through the local admin route."""
    key = issue_key(stack, 'e2e-other')
    with httpx.Client(base_url=stack.url, headers={'Authorization': f'Bearer {key}'}, timeout=30) as http_client:
        yield http_client


@pytest.fixture
def create_job(client: httpx.Client) -> Callable[..., dict[str, Any]]:
    def create(**fields: Any) -> dict[str, Any]:
        # A custom operation: a system one (workbook:export) would be run by the platform meanwhile.
        body = {'type': 'workbook', 'operation': 'e2e-export', 'source': 'us_wb_e2e00000001', **fields}
        response = client.post('/v1/jobs', json=body)
        assert response.status_code == 201, response.text
        return dict(response.json()['data'])

    return create


def assert_errors(response: httpx.Response, status: int, key: str | None = None) -> list[dict[str, Any]]:
    """The response has `status` and the API's error shape; `key` names one of the errors."""
    assert response.status_code == status, response.text
    assert response.headers['content-type'].startswith('application/json')
    errors = response.json()['errors']
    assert errors, response.text
    assert all(set(error) == {'key', 'message'} and error['message'] for error in errors), errors
    if key is not None:
        assert key in [error['key'] for error in errors], errors
    return list(errors)
