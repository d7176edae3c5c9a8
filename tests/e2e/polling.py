"""What the e2e tests share over HTTP: the `data` of an answer, and waiting for a job (or anything
observable) by polling to a bounded deadline, as a user's script would."""

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


def eventually(observe: Callable[[], T], done: Callable[[T], bool], what: str, within: float = WITHIN_SECONDS) -> T:
    """Poll `observe` until `done` holds for what it returns; fail with the last observation at the deadline."""
    deadline = time.monotonic() + within
    while True:
        seen = observe()
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            pytest.fail(f'{what} within {within} s; last seen: {seen!r}')
        time.sleep(0.1)  # the next poll


def until(what: str, found: Callable[[], T | None], within: float = WITHIN_SECONDS) -> T:
    """Poll `found` until it gives something."""
    seen = eventually(found, lambda result: result is not None, what, within)
    assert seen is not None
    return seen


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(data(client.get(f'/v1/jobs/{job_id}')))


def finished(client: httpx.Client, job_id: str, within: float = WITHIN_SECONDS) -> dict[str, Any]:
    """The job once it is complete, failed or canceled."""
    return eventually(
        lambda: job_of(client, job_id), lambda job: job['status'] in FINISHED, f'job {job_id} finished', within
    )
