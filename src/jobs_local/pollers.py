"""The background loops of the local stack: one thread per poller, stopped together by one event."""

import logging
import threading
from collections.abc import Callable

log = logging.getLogger('jobs_local.events')


class Poller:
    """Calls `poll_once` until `stop` is set, pausing `interval` seconds between calls.

    `ready` is set after the first call that did not raise, so a caller can wait until the loop really
    runs. A failing call is logged (once per distinct error, so a broken dependency does not flood the
    terminal) and the loop goes on: an emulated AWS service never gives up.
    """

    def __init__(self, name: str, poll_once: Callable[[], None], stop: threading.Event, interval: float = 0.0) -> None:
        self.name = name
        self.ready = threading.Event()
        self._poll_once = poll_once
        self._stop = stop
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._last_error = ''

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception as error:
                if self._stop.is_set():
                    return  # moto is going away with the stack
                message = f'{type(error).__name__}: {error}'
                if message != self._last_error:
                    log.warning('%s: %s (retrying)', self.name, message)
                    self._last_error = message
                self._stop.wait(0.5)
                continue
            self._last_error = ''
            self.ready.set()
            if self._interval:
                self._stop.wait(self._interval)
