"""Listener subscriptions: Python handlers fed by the local bus the way EventBridge feeds a Lambda target.

A subscription is a rule per pattern on the bus, all targeting a queue of the subscription's own;
a poller hands each event (the whole EventBridge envelope) to the handler, several at a time and in
no guaranteed order, as EventBridge's asynchronous Lambda invocations arrive. A handler that raises
is retried twice more (Lambda's asynchronous retries, after a short local delay instead of minutes),
then the event goes to the subscription's dead-letter queue with one line in the log: never dropped.
"""

import copy
import functools
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger('jobs_local.events')

Handler = Callable[[dict[str, Any]], object]
DeadLetter = Callable[[str, dict[str, Any]], None]  # (body, message attributes)
Spawn = Callable[[Callable[[], None]], None]
Wait = Callable[[float], bool]  # sleeps; True when the stack is stopping


class SubscriptionQueue(Protocol):
    def receive(self, max_messages: int, wait_seconds: int) -> list[dict[str, Any]]: ...

    def delete(self, receipt_handles: list[str]) -> None: ...


@dataclass(frozen=True)
class SubscriptionConfig:
    name: str
    account_id: str
    region: str = 'us-east-1'
    retries: int = 2  # Lambda retries a failed asynchronous invocation twice
    retry_seconds: float = 1.0
    concurrency: int = 4
    dead_letter_queue: str = ''  # for the log line


def in_daemon_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, daemon=True).start()


class Subscription:
    def __init__(
        self,
        config: SubscriptionConfig,
        queue: SubscriptionQueue,
        handler: Handler,
        dead_letter: DeadLetter,
        *,
        wait: Wait,
        spawn: Spawn = in_daemon_thread,
        poll_seconds: int = 1,
    ) -> None:
        self.config = config
        self._queue = queue
        self._handler = handler
        self._dead_letter = dead_letter
        self._wait = wait
        self._spawn = spawn
        self._poll_seconds = 0  # the first poll is short, so the stack knows at once that this one runs
        self._long_poll_seconds = poll_seconds
        self._slots = threading.Semaphore(max(1, config.concurrency))

    def poll_once(self) -> None:
        free = self._take_slots()
        if not free:
            self._wait(0.05)
            return
        try:
            messages = self._queue.receive(free, self._poll_seconds)
            self._poll_seconds = self._long_poll_seconds
        except BaseException:
            self._give_back(free)
            raise
        self._give_back(free - len(messages))
        for message in messages:
            self._spawn(functools.partial(self._deliver_and_free, message))

    def _take_slots(self) -> int:
        taken = 0
        while taken < 10 and self._slots.acquire(blocking=False):
            taken += 1
        return taken

    def _give_back(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def _deliver_and_free(self, message: dict[str, Any]) -> None:
        try:
            self.deliver(message)
        finally:
            self._slots.release()

    def deliver(self, message: dict[str, Any]) -> None:
        """Invoke the handler with the event, retrying; dead-letter it if every attempt failed."""
        body = message.get('Body', '')
        event = _event(body, self.config)
        error: Exception | None = None
        for attempt in range(self.config.retries + 1):
            if attempt and self._wait(self.config.retry_seconds):
                return  # stopping: the message stays on the queue
            try:
                self._handler(copy.deepcopy(event))
            except Exception as failure:
                error = failure
                log.debug('listener %s: attempt %d failed', self.config.name, attempt + 1, exc_info=True)
                continue
            error = None
            break
        if error is not None and not self._give_up(body, event, error):
            return  # the dead-letter queue is unreachable: the message comes back and is tried again
        self._queue.delete([message['ReceiptHandle']])

    def _give_up(self, body: str, event: Any, error: Exception) -> bool:
        reason = f'{type(error).__name__}: {error}'
        described = (
            f'event {event.get("id")} ({event.get("detail-type")})' if isinstance(event, dict) else 'a malformed event'
        )
        attributes = {
            'RequestID': {'DataType': 'String', 'StringValue': str(uuid.uuid4())},
            'ErrorCode': {'DataType': 'Number', 'StringValue': '200'},
            'ErrorMessage': {'DataType': 'String', 'StringValue': reason[:1024]},
        }
        try:
            self._dead_letter(body, attributes)
        except Exception as unreachable:
            log.error(
                'listener %s: %s failed and cannot be dead-lettered (%s)', self.config.name, described, unreachable
            )
            return False
        log.error(
            'listener %s: %s failed %d times (%s); sent to %s',
            self.config.name,
            described,
            self.config.retries + 1,
            reason,
            self.config.dead_letter_queue or 'its dead-letter queue',
        )
        return True


def _event(body: str, config: SubscriptionConfig) -> Any:
    try:
        event = json.loads(body)
    except ValueError:
        return body
    if isinstance(event, dict):
        # moto's EventBridge leaves out the envelope's account, which EventBridge always sets.
        event.setdefault('account', config.account_id)
        event.setdefault('region', config.region)
    return event
