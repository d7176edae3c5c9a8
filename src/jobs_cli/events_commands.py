"""`jobs events tail`: follow the Events API, one line per event as it arrives (Ctrl-C stops).

It only reads: events are not acknowledged (that is what `jobs listen` does for listeners). Each poll
asks for the events created since the last one seen, a few seconds back because the store is written
in delivery order; an event is shown once (by id), and none created before the start.
"""

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal

import typer

from jobs_cli.connection import ApiKey, ApiUrl, AsJson, ProfileName, api, err, fail, out, print_json
from jobs_cli.render import event_line
from jobs_core.models.event import Event
from jobs_core.timestamps import format_timestamp
from jobs_sdk.client import JobsClient
from jobs_sdk.follower import TOPIC_ORDER

OVERLAP: Final = timedelta(seconds=5)
PAGE_SIZE: Final = 100

events_app = typer.Typer(help='Lifecycle events (the Events API).', no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name='events', rich_help_panel='Jobs')


def tail_events(
    client: JobsClient,
    *,
    since: datetime,
    topic: str | None = None,
    job_id: str | None = None,
    domain: Literal['job', 'commit'] | None = None,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Every event from `since` on, oldest first, each once; polls forever."""
    seen: set[str] = set()
    cursor = since
    while True:
        fresh: list[Event] = []
        for event in client.events.list_all(
            topic=topic, job_id=job_id, domain=domain, since=cursor - OVERLAP, page_size=PAGE_SIZE
        ):
            if event.id not in seen and event.created_at >= since:
                seen.add(event.id)
                fresh.append(event)
        fresh.sort(key=lambda event: (event.created_at, TOPIC_ORDER.get(event.topic, len(TOPIC_ORDER))))
        yield from fresh
        if fresh:
            cursor = max(cursor, fresh[-1].created_at)
        sleep(interval)


@events_app.command('tail')
def tail(
    *,
    topic: Annotated[str | None, typer.Option('--topic', '-t', help='Only this topic, e.g. job:completed')] = None,
    job: Annotated[str | None, typer.Option('--job', '-j', help='Only the events of this job')] = None,
    domain: Annotated[Literal['job', 'commit'] | None, typer.Option(help='Only events of this domain')] = None,
    since: Annotated[
        str | None, typer.Option(help='Start from this ISO-8601 time, e.g. 2030-01-01T12:00:00Z [default: now]')
    ] = None,
    interval: Annotated[float, typer.Option(min=0.1, help='Seconds between polls')] = 1.0,
    limit: Annotated[int | None, typer.Option(min=1, help='Stop after this many events')] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Follow the environment's events as they happen (Ctrl-C stops). --json prints one event per line."""
    start = _since(since)
    with api(api_url, api_key, profile, as_json) as client:
        if not as_json:
            what = ' '.join(part for part in (topic, job) if part) or 'all events'
            err.print(f'[dim]Following {what} at {client.base_url} since {format_timestamp(start)} (Ctrl-C stops)[/]')
        shown = 0
        try:
            for event in tail_events(client, since=start, topic=topic, job_id=job, domain=domain, interval=interval):
                if as_json:
                    print_json(event.model_dump(mode='json'), compact=True)
                else:
                    out.print(event_line(event))
                shown += 1
                if limit is not None and shown >= limit:
                    return
        except KeyboardInterrupt:
            return


def _since(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f'--since {value!r} is not an ISO-8601 time, e.g. 2030-01-01T12:00:00Z')
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
