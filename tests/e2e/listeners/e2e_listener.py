"""Listeners for `jobs dev --listener` in the e2e stack, duck-typed like the SDK's Listener (no SDK import).

`completer` acks and completes each ready `workbook:e2e-listen` job, putting the keys of the
EventBridge envelope it received in the outcome. `exploder` records each attempt on its
`workbook:e2e-explode` job (ack with info "attempt N") and then raises, every time.
"""

import os
from typing import Any

import httpx


def _api() -> httpx.Client:
    return httpx.Client(
        base_url=os.environ['JOBS_API_URL'],
        headers={'Authorization': f'Bearer {os.environ["JOBS_API_KEY"]}'},
        timeout=10,
    )


def _ready(job: str) -> dict[str, Any]:
    return {'source': ['jobs'], 'detail-type': ['job:ready'], 'detail': {'payload': {'job': [job]}}}


class Completer:
    def event_patterns(self) -> list[dict[str, Any]]:
        return [_ready('workbook:e2e-listen')]

    def lambda_handler(self, event: dict[str, Any], context: Any) -> None:
        job_id = event['detail']['context']['jobId']
        with _api() as api:
            api.post(f'/v1/jobs/{job_id}/ack', json={'info': context.function_name}).raise_for_status()
            outcome = {'message': ','.join(sorted(event))}
            api.post(f'/v1/jobs/{job_id}/complete', json={'outcome': outcome}).raise_for_status()


class Exploder:
    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    def event_patterns(self) -> list[dict[str, Any]]:
        return [_ready('workbook:e2e-explode')]

    def lambda_handler(self, event: dict[str, Any], context: Any) -> None:
        job_id = event['detail']['context']['jobId']
        self.attempts[job_id] = self.attempts.get(job_id, 0) + 1
        with _api() as api:
            api.post(f'/v1/jobs/{job_id}/ack', json={'info': f'attempt {self.attempts[job_id]}'}).raise_for_status()
        raise RuntimeError(f'boom on {job_id}')


completer = Completer()
exploder = Exploder()
