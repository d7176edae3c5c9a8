"""`jobs listen` as a user runs it, for the listener e2e tests: a subprocess following the session's
local stack, ready once it has announced where it listens from, stopped with Ctrl-C (SIGINT).

Every wait polls something observable (the process's log, the API) until a bounded deadline.
"""

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import JOBS, ROOT, RunningStack, stack_environment
from tests.e2e.polling import eventually

EXAMPLES = ROOT / 'examples'


@dataclass
class Listening:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def listening(
    stack: RunningStack, api_key: str, files: list[Path], log: Path, *options: str, **env: str
) -> Iterator[Listening]:
    """`jobs listen FILES` against the stack with `api_key`, from when it says it is listening."""
    environment = stack_environment(JOBS_API_URL=stack.url, JOBS_API_KEY=api_key, **env)
    with log.open('wb') as output:
        process = subprocess.Popen(
            [str(JOBS), 'listen', *map(str, files), '--poll-interval', '0.2', *options],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Listening(process, log)
    try:
        eventually(
            lambda: (process.poll(), running.output()),
            lambda seen: seen[0] is not None or 'Listening to' in seen[1],
            'jobs listen announced it is listening',
        )
        if process.poll() is not None:
            pytest.fail(f'jobs listen exited with {process.returncode}:\n{running.output()}')
        yield running
    finally:
        running.stop()


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post('/v1/jobs', json={'trigger': 'immediate', **fields})
    assert response.status_code == 201, response.text
    return dict(response.json()['data'])


def events_of(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    response = client.get('/v1/events', params={'jobId': job_id, 'pageSize': '100'})
    assert response.status_code == 200, response.text
    return list(response.json()['data'])
