"""Listener latency in the local stack: a job created over HTTP → its `job:ready` in a listener's handler.

The local stack runs in process (jobs_local.stack.LocalStack, as `jobs dev` runs it: the API on
127.0.0.1, moto, the stream → publisher → bus → rules path with the real handlers). A jobs_sdk
Listener on `job:ready` for the bench's job type is subscribed to the bus with its
`event_patterns()`, as `jobs dev --listener` subscribes one, and, with --follower, also followed
through the Events API as `jobs listen` follows it. N jobs are created one after another with
trigger immediate; each latency runs from the create response to the handler being invoked.

Baseline, measured in the same run: the create round trip itself (what the client waits anyway).

    python bench/listener_latency.py [--jobs 500] [--follower] [--poll-interval 0.2]
"""

import argparse
import contextlib
import logging
import math
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[0:0] = [str(ROOT / 'src'), str(ROOT / 'layers' / 'core' / 'python')]
os.environ.update(POWERTOOLS_LOG_LEVEL='ERROR')

import httpx  # noqa: E402

from jobs_local.stack import LocalStack  # noqa: E402
from jobs_sdk import Event, JobsClient, Listener  # noqa: E402
from jobs_sdk.follower import EventFollower  # noqa: E402

JOB = {'type': 'workbook', 'operation': 'bench-latency', 'source': 'us_wb_benchlatency', 'trigger': 'immediate'}
WARM_UP = 10
DELIVERED_WITHIN_SECONDS = 300


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


class Arrivals:
    """When each job's job:ready reached a handler (the first time; redeliveries are ignored)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, event: Event) -> None:
        stamp = time.perf_counter()
        with self._lock:
            self.at.setdefault(event.context.job_id or '', stamp)

    def listener(self, client: JobsClient) -> Listener:
        listener = Listener(client)
        listener.on('job:ready', job=f'{JOB["type"]}:{JOB["operation"]}')(self.record)
        return listener


def wait_for(arrivals: Arrivals, job_ids: list[str], what: str) -> None:
    deadline = time.monotonic() + DELIVERED_WITHIN_SECONDS
    while not all(job_id in arrivals.at for job_id in job_ids):
        if time.monotonic() > deadline:
            missing = sum(job_id not in arrivals.at for job_id in job_ids)
            raise SystemExit(
                f'{what}: {missing} of {len(job_ids)} jobs not delivered within {DELIVERED_WITHIN_SECONDS} s'
            )
        time.sleep(0.05)  # the next look at what arrived


def create_jobs(http: httpx.Client, count: int) -> tuple[dict[str, float], list[float], float]:
    """Create `count` jobs; (job id → when its create response arrived, round trips, when it began)."""
    created: dict[str, float] = {}
    round_trips = []
    began = time.perf_counter()
    for _ in range(count):
        sent = time.perf_counter()
        response = http.post('/v1/jobs', json=JOB)
        answered = time.perf_counter()
        response.raise_for_status()
        created[response.json()['data']['id']] = answered
        round_trips.append(answered - sent)
    return created, round_trips, began


def line(name: str, latencies: list[float], count: int, seconds: float, baseline: float) -> str:
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return (
        f'{name:<44} p50 {p50 * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms   '
        f'{count / seconds:7.1f} jobs/s   p50 = {p50 / baseline:6.1f} x baseline'
    )


def run(count: int, follower: bool, poll_interval: float) -> list[str]:
    """The figures, a line each."""
    key = f'sk_bench_{secrets.token_urlsafe(24)}'
    stack = LocalStack(port=0, api_key=key)
    info = stack.start()
    logging.getLogger('jobs_local.access').setLevel(logging.WARNING)  # a line per request: 1,000s of them
    stopping = []
    try:
        client = JobsClient(info.url, key)
        bus, polled = Arrivals(), Arrivals()
        listener = bus.listener(client)
        stack.subscribe('bench', listener.event_patterns(), lambda event: listener.lambda_handler(event, None))
        if follower:
            following = EventFollower(client, [polled.listener(client).dispatch])
            threading.Thread(target=following.run, args=(poll_interval,), daemon=True).start()
            stopping.append(following.stop)

        with httpx.Client(base_url=info.url, headers={'Authorization': f'Bearer {key}'}, timeout=30) as http:
            warm, _, _ = create_jobs(http, WARM_UP)
            wait_for(bus, list(warm), 'warm-up')
            if follower:
                wait_for(polled, list(warm), 'warm-up (follower)')
            created, round_trips, began = create_jobs(http, count)

        ids = list(created)
        wait_for(bus, ids, 'bus subscription')
        baseline = statistics.median(round_trips)
        lines = [
            f'{count} jobs created one after another, trigger immediate, in the local stack (moto)',
            f'{"baseline: the create round trip":<44} p50 {baseline * 1000:8.1f} ms   '
            f'p99 {percentile(round_trips, 0.99) * 1000:8.1f} ms   {count / sum(round_trips):7.1f} jobs/s',
        ]
        latencies = [bus.at[job_id] - created[job_id] for job_id in ids]
        seconds = max(bus.at.values()) - began
        lines.append(line('create → handler, bus subscription', latencies, count, seconds, baseline))
        if follower:
            wait_for(polled, ids, 'Events API follower')
            latencies = [polled.at[job_id] - created[job_id] for job_id in ids]
            seconds = max(polled.at.values()) - began
            name = f'create → handler, Events API (poll {poll_interval:g} s)'
            lines.append(line(name, latencies, count, seconds, baseline))
        return lines
    finally:
        for stop in stopping:
            stop()
        stack.stop()


def main(arguments: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--jobs', type=int, default=500)
    parser.add_argument('--follower', action='store_true', help='also follow the Events API, as jobs listen does')
    parser.add_argument('--poll-interval', type=float, default=0.2)
    options: Any = parser.parse_args(arguments)
    # The functions print their metrics (EMF) on stdout, as on Lambda: keep stdout for the figures.
    with contextlib.redirect_stdout(sys.stderr):
        lines = run(options.jobs, options.follower, options.poll_interval)
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
