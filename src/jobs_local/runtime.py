"""Runs a template function in process the way Lambda runs it: one warm container per function.

A container serves one invocation at a time (module state such as the Powertools resolver's
current event is per container), so invocations of one function are serialised; different
functions run concurrently. Each invocation gets a fresh context object.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jobs_local.functions import handler_of
from jobs_local.template import FunctionSpec

REGION = 'us-east-1'
ACCOUNT_ID = '123456789012'


@dataclass
class LambdaContext:
    """The attributes of Lambda's Python context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = '$LATEST'
    log_group_name: str = ''
    log_stream_name: str = ''
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LocalFunction:
    """One template function, imported once (its cold start) and invoked under a per-container lock."""

    def __init__(self, spec: FunctionSpec, deployed_name: str) -> None:
        self.spec = spec
        self.deployed_name = deployed_name
        self._handler = handler_of(spec.name)
        self._lock = threading.Lock()

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.deployed_name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=f'arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.deployed_name}',
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.spec.timeout,
            log_group_name=f'/aws/lambda/{self.deployed_name}',
            log_stream_name='local',
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's result; its exception, if it raises, propagates (an Unhandled function error)."""
        with self._lock:
            return self._handler(event, self.context())
