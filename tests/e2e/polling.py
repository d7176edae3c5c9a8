"""What the e2e tests of jobs share over HTTP: the `data` of an answer, and waiting for a job (or
anything) by polling to a bounded deadline, as a user's script would."""

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

WITHIN_SECONDS = 120  # moto serves every call in Python: generous, and bounded
FINISHED = frozenset({'complete', 'failed', 'canceled'})
T = TypeVar('T')


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()['data']


def until(what: str, found: Callable[[], T | None], within: float = WITHIN_SECONDS) -> T:
    """Poll `found` until it gives something; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while (result := found()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f'{what} did not happen within {within} s')
        time.sleep(0.2)  # the next poll
    return result


def finished(client: httpx.Client, job_id: str, within: float = WITHIN_SECONDS) -> dict[str, Any]:
    """The job once it is complete, failed or canceled."""

    def poll() -> dict[str, Any] | None:
        job = data(client.get(f'/v1/jobs/{job_id}'))
        return dict(job) if job['status'] in FINISHED else None

    return until(f'job {job_id} finishing', poll, within)
