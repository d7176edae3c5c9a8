"""`jobs listen FILE…`: run listener files anywhere, following the Events API with an API key.

From now (or `--since`), every new event of the key's environment is handed once to each listener's
`lambda_handler`, wrapped as the EventBridge event a rule target would get, and then acknowledged.
A handler that raises gets the event again on the next polls (`--max-attempts` in all). Ctrl-C (or
SIGTERM) stops after the event being handled; a second Ctrl-C stops at once.
"""

import logging
import os
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from jobs_sdk.client import JobsClient
from jobs_sdk.errors import JobsApiError
from jobs_sdk.follower import EventFollower
from jobs_sdk.loading import ListenerLike, ListenerLoadError, eventbridge_event, listeners_of, load_module


class ListenError(Exception):
    """`jobs listen` cannot go on; the message says why, in one line."""


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ListenError(f'--since {value!r} is not an ISO-8601 time, e.g. 2030-01-01T12:00:00Z') from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def load(files: list[Path]) -> list[tuple[str, ListenerLike]]:
    """(file stem and variable, listener) for every listener of every file."""
    found = []
    for path in files:
        try:
            module = load_module(path)
        except ListenerLoadError as error:
            raise ListenError(str(error)) from None
        names: dict[int, str] = {}
        for name, value in vars(module).items():
            names.setdefault(id(value), name)  # a listener's first name, not an alias of it
        listeners = listeners_of(module)
        if not listeners:
            raise ListenError(f'{path}: defines no listener (an object with event_patterns() and lambda_handler)')
        found += [(f'{path.stem}.{names[id(listener)]}', listener) for listener in listeners]
    return found


def _target(listener: ListenerLike) -> Callable[[dict[str, Any]], object]:
    def deliver(envelope: dict[str, Any]) -> object:
        return listener.lambda_handler(eventbridge_event(envelope), None)

    return deliver


def run(
    files: list[Path],
    *,
    api_url: str,
    api_key: str | None,
    since: str | None,
    poll_interval: float,
    max_attempts: int,
    overlap: float,
    announce: Callable[[str], None],
) -> None:
    if not api_key:
        raise ListenError('no API key: pass --api-key or set JOBS_API_KEY (`jobs dev` prints one)')
    start = parse_since(since)
    # The listeners' own clients (Listener.api, a module-level JobsClient()) find the same API.
    os.environ.update(JOBS_API_URL=api_url, JOBS_API_KEY=api_key)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    logging.getLogger('httpx').setLevel(logging.WARNING)  # every poll is a request: too many to log
    listeners = load(files)
    with JobsClient(api_url, api_key) as client:
        follower = EventFollower(
            client,
            [_target(listener) for _, listener in listeners],
            since=start,
            overlap=overlap,
            max_attempts=max_attempts,
        )
        names = ', '.join(name for name, _ in listeners)
        announce(
            f'Listening to {client.base_url} for events since {follower.since.isoformat()}: {names} (Ctrl-C stops)'
        )
        _stop_on_signals(follower)
        try:
            follower.run(poll_interval)
        except JobsApiError as error:
            raise ListenError(f'the Events API refused ({error.status}): {error}') from None


def _stop_on_signals(follower: EventFollower) -> None:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        follower.stop()
        # A second Ctrl-C stops at once.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
