"""`Listener`: Flatfile's `listener.on(topic, filter, callback)` in Python.

```python
listener = Listener()

@listener.on('job:ready', job='workbook:export')
def export(event: Event, api: JobsClient) -> None:
    api.jobs.ack(event.context.job_id, info='Starting export...', progress=10)
```

A handler takes `(event)` or `(event, api)`: `event` is the envelope as a typed `Event`, `api`
the listener's `JobsClient` (made from $JOBS_API_URL and $JOBS_API_KEY on first use unless one
was given). Handlers may be `async def`. Every handler whose topic and filter match runs, in the
order registered; if any raised, the others still run and the dispatch then raises, so the runner
retries the event (EventBridge's Lambda retries, or `jobs listen`'s next poll).

Middleware, `listener.use(fn)` with `fn(event, call_next)`, runs around the handlers of every event
the listener receives (not only those a handler matches), outermost first; it stops an event by
not calling `call_next()`. `listener.use(plugin)` with a one-argument `plugin(listener)` installs a
plugin, as Flatfile's `use` does.

Three ways to run one: `listener.lambda_handler` as an EventBridge rule target (its rules from
`listener.event_patterns()`), `jobs listen file.py` (follows the Events API), and
`jobs dev --listener file.py` (the local stack subscribes it to its bus).
"""

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload

from jobs_core.models.event import Event
from jobs_sdk.client import JobsClient
from jobs_sdk.matching import Filter, filter_matches, flatten, topic_matches
from jobs_sdk.patterns import event_patterns

if TYPE_CHECKING:
    from jobs_sdk.job_handler import JobFunction

logger = logging.getLogger('jobs_sdk')

Handler = Callable[..., object]
Middleware = Callable[[Event, Callable[[], None]], object]
H = TypeVar('H', bound=Handler)
F = TypeVar('F', bound='JobFunction')
Topics = str | Sequence[str]
ALL_TOPICS: Final = '**'


def positional_arity(function: Callable[..., object]) -> int:
    """How many positional arguments `function` takes (a large number for *args)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 99
    count = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return 99
        if parameter.kind in {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}:
            count += 1
    return count


def settle(result: object) -> object:
    """The result of a handler; an `async def` handler's coroutine is run to completion."""
    if inspect.isawaitable(result):

        async def wait() -> object:
            return await result

        return asyncio.run(wait())
    return result


@dataclass(frozen=True, slots=True)
class Registration:
    topics: tuple[str, ...]
    filters: tuple[Filter, ...]  # the node's filters, outermost first, then the registration's own: all must match
    handler: Handler
    wants_api: bool

    def matches(self, topic: str, flat_event: Mapping[str, Any]) -> bool:
        return topic_matches(topic, self.topics) and all(filter_matches(flat_event, each) for each in self.filters)


@dataclass(frozen=True, slots=True)
class MiddlewareEntry:
    filters: tuple[Filter, ...]
    middleware: Middleware

    def matches(self, flat_event: Mapping[str, Any]) -> bool:
        return all(filter_matches(flat_event, each) for each in self.filters)


class _Registry:
    """What a listener and its child nodes share."""

    def __init__(self, api: JobsClient | None) -> None:
        self.registrations: list[Registration] = []
        self.middleware: list[MiddlewareEntry] = []
        self.api = api
        self.lock = threading.Lock()  # runners may dispatch events concurrently (as Lambda does)


def _topics(topics: Topics) -> tuple[str, ...]:
    names = (topics,) if isinstance(topics, str) else tuple(topics)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError('A topic is a non-empty string such as "job:ready", or a list of them')
    return names


class ListenerNode:
    """Where handlers are registered: a listener, or a child node made by `filter()`, whose
    registrations see only events that also pass its filter."""

    def __init__(self, registry: _Registry, filters: tuple[Filter, ...] = ()) -> None:
        self._registry = registry
        self._filters = filters

    @overload
    def on(self, topics: Topics, handler: H, /) -> H: ...
    @overload
    def on(self, topics: Topics, event_filter: Filter, handler: H, /) -> H: ...
    @overload
    def on(self, topics: Topics, event_filter: Filter | None = None, /, **filters: Any) -> Callable[[H], H]: ...

    def on(self, topics: Topics, /, *args: Any, **filters: Any) -> Any:
        """Register a handler for `topics` (a glob or a list of them), filtered by a dict and/or
        keywords: `on('job:ready', job='workbook:export')`, `on('job:*', {'context.jobId': jid})`.
        As a decorator, or with the handler as the last argument."""
        handler = args[-1] if args and callable(args[-1]) else None
        rest = args[:-1] if handler is not None else args
        if len(rest) > 1 or (rest and rest[0] is not None and not isinstance(rest[0], Mapping)):
            raise TypeError('on(topics, [filter dict], [handler], **filters)')
        given = rest[0] if rest and rest[0] is not None else {}
        own = {**given, **filters}
        names = _topics(topics)

        def register(function: H) -> H:
            registration = Registration(
                topics=names,
                filters=(*self._filters, own) if own else self._filters,
                handler=function,
                wants_api=positional_arity(function) >= 2,
            )
            self._registry.registrations.append(registration)
            return function

        return register(handler) if handler is not None else register

    def filter(
        self, event_filter: Filter, configure: 'Callable[[ListenerNode], object] | None' = None
    ) -> 'ListenerNode':
        """A child node: what is registered on it sees only events that pass `event_filter` too.
        `configure(node)`, if given, is called with it (Flatfile's `listener.filter(f, cb)`)."""
        node = ListenerNode(self._registry, (*self._filters, dict(event_filter)))
        if configure is not None:
            configure(node)
        return node

    def use(self, function: 'Middleware | Callable[[ListenerNode], object]') -> 'ListenerNode':
        """`use(fn(event, call_next))` adds middleware; `use(plugin(listener))` installs a plugin."""
        if positional_arity(function) >= 2:
            self._registry.middleware.append(MiddlewareEntry(self._filters, cast('Middleware', function)))
        else:
            cast('Callable[[ListenerNode], object]', function)(self)
        return self

    def job(self, job: Topics, event_filter: Filter | None = None, **filters: Any) -> Callable[[F], F]:
        """The job-handler helper as a decorator: on `job:ready` for `job` (e.g. 'workbook:export'),
        ack, run the function with `(event, tick)` (or `(event, tick, api)`), complete the job
        with what it returns, or fail it if it raised. See `jobs_sdk.job_handler`."""
        from jobs_sdk.job_handler import job_handler  # noqa: PLC0415 - job_handler imports this module

        def register(function: F) -> F:
            self.use(job_handler(job, function, event_filter, **filters))
            return function

        return register


class Listener(ListenerNode):
    """A set of handlers for lifecycle events, runnable three ways (see the module docstring)."""

    def __init__(self, api: JobsClient | None = None, *, event_filter: Filter | None = None) -> None:
        super().__init__(_Registry(api), (dict(event_filter),) if event_filter else ())

    @property
    def api(self) -> JobsClient:
        """The client handlers receive: the one given, else one from $JOBS_API_URL and $JOBS_API_KEY."""
        with self._registry.lock:
            if self._registry.api is None:
                self._registry.api = JobsClient()
            return self._registry.api

    @api.setter
    def api(self, client: JobsClient) -> None:
        self._registry.api = client

    def dispatch(self, envelope: Mapping[str, Any], api: JobsClient | None = None) -> int:
        """Run the middleware and every matching handler for one event (the Flatfile envelope, as
        on the wire). Returns how many handlers ran; raises if any of them (or a middleware) did."""
        event = Event.model_validate(envelope)
        flat = flatten(envelope)
        handlers = [each for each in self._registry.registrations if each.matches(event.topic, flat)]
        failures: list[Exception] = []

        def run_handlers() -> None:
            for registration in handlers:
                try:
                    if registration.wants_api:
                        settle(registration.handler(event, api or self.api))
                    else:
                        settle(registration.handler(event))
                except Exception as error:
                    logger.exception('Handler %s failed on %s %s', _name(registration.handler), event.topic, event.id)
                    failures.append(error)

        chain = run_handlers
        for entry in reversed([each for each in self._registry.middleware if each.matches(flat)]):
            chain = _link(entry.middleware, event, chain)
        chain()
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ExceptionGroup(f'{len(failures)} handlers failed on {event.topic} {event.id}', failures)
        return len(handlers)

    def lambda_handler(self, event: Mapping[str, Any], context: object = None) -> dict[str, Any]:
        """The entry point of a Lambda function that is the target of an EventBridge rule: the
        Flatfile envelope is the EventBridge event's `detail` (a bare envelope is accepted too).
        Raises when a handler failed, so that Lambda's retries for asynchronous invocations apply."""
        envelope = event['detail'] if 'detail' in event and 'detail-type' in event else event
        handled = self.dispatch(envelope)
        return {'eventId': envelope.get('id'), 'topic': envelope.get('topic'), 'handlers': handled}

    def event_patterns(self) -> list[dict[str, Any]]:
        """EventBridge patterns for this listener's rules: as narrow as its registrations allow
        (see `jobs_sdk.patterns`); everything from the bus when it has middleware, which sees
        every event; none when nothing is registered."""
        registrations = [(each.topics, each.filters) for each in self._registry.registrations]
        return event_patterns(registrations, everything=bool(self._registry.middleware))


def _link(middleware: Middleware, event: Event, inner: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        called = False

        def call_next() -> None:
            nonlocal called
            if not called:  # a second call_next() does not run the handlers twice
                called = True
                inner()

        settle(middleware(event, call_next))

    return call


def _name(function: Callable[..., object]) -> str:
    return getattr(function, '__qualname__', None) or repr(function)
