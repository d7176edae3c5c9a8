"""Runs a template function in process the way Lambda runs it: one warm container per function.

A container serves one invocation at a time (module state such as the Powertools resolver's
current event is per container), so invocations of one function are serialised; different
functions run concurrently. Each invocation gets a fresh context object.
"""

import json
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
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


def serve_moto_invocations(functions: Mapping[str, LocalFunction]) -> None:
    """Make moto's Lambda run the in-process functions (by deployed name) instead of a Docker container.

    moto invokes a Lambda function for `lambda:Invoke` and for a state machine's Lambda tasks; its
    functions are stubs the provisioner created. A handler's exception becomes the error payload Lambda
    returns (errorType, errorMessage), which Step Functions matches as the error name. moto runs in
    this process, so this patch is the bridge.
    """
    import moto.awslambda.models as moto_lambda  # noqa: PLC0415 - moto is loaded only by the local stack

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        function = functions.get(self.function_name)
        failure: dict[str, Any]
        if function is None:
            failure = {'errorType': 'ResourceNotFoundException', 'errorMessage': f'{self.function_name} is not local'}
            return json.dumps(failure), True, ''
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        try:
            result = function.invoke(payload)
        except Exception as error:
            failure = {
                'errorType': type(error).__name__,
                'errorMessage': str(error),
                'stackTrace': traceback.format_tb(error.__traceback__),
            }
            return json.dumps(failure), True, ''
        return json.dumps(result, default=str), False, ''

    # The bridge (see the docstring).
    moto_lambda.LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
