"""`jobs dev --listener FILE`: the listeners of a Python file, subscribed to the local bus.

A listener is any module-level object with `event_patterns()` (the EventBridge patterns it wants)
and `lambda_handler(event, context)` (what an EventBridge rule's Lambda target would run), such as
the SDK's `Listener`; it is found by those two attributes, so this module does not import the SDK.
The listener's handler talks to the stack through JOBS_API_URL and JOBS_API_KEY, which `jobs dev`
sets to the stack's URL and dev key before the files are imported.
"""

import importlib.util
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs_local.errors import StackError
from jobs_local.runtime import ACCOUNT_ID, REGION, LambdaContext

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobs_local.stack import LocalStack

LISTENER_TIMEOUT_SECONDS = 900  # the longest a Lambda may run


def is_listener(candidate: object) -> bool:
    return (
        not isinstance(candidate, type)
        and callable(getattr(candidate, 'event_patterns', None))
        and callable(getattr(candidate, 'lambda_handler', None))
    )


def load_listeners(path: Path) -> list[tuple[str, Any]]:
    """(variable name, listener) for each listener defined at the top level of the file."""
    if not path.is_file():
        raise StackError(f'--listener {path}: no such file')
    name = f'jobs_listener_{path.stem}_{uuid.uuid4().hex[:8]}'
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StackError(f'--listener {path}: not a Python file')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))  # the file's own imports, as `python FILE` would find them
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise StackError(f'--listener {path}: {type(error).__name__}: {error}') from None
    found, seen = [], set()
    for variable, candidate in vars(module).items():
        if is_listener(candidate) and id(candidate) not in seen:
            seen.add(id(candidate))
            found.append((variable, candidate))
    if not found:
        raise StackError(f'--listener {path}: no listener in it (an object with event_patterns() and lambda_handler)')
    return found


def listener_context(name: str) -> LambdaContext:
    function = f'jobs-local-listener-{name}'
    return LambdaContext(
        function_name=function,
        memory_limit_in_mb=512,
        invoked_function_arn=f'arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}',
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=LISTENER_TIMEOUT_SECONDS,
        log_group_name=f'/aws/lambda/{function}',
        log_stream_name='local',
    )


def _handler(listener: Any, name: str) -> 'Callable[[dict[str, Any]], object]':
    def handle(event: dict[str, Any]) -> object:
        return listener.lambda_handler(event, listener_context(name))

    return handle


def subscribe_listeners(stack: 'LocalStack', paths: list[Path]) -> list[str]:
    """Subscribe every listener of every file; returns their names (file stem and variable)."""
    names = []
    for path in paths:
        for variable, listener in load_listeners(path):
            name = f'{path.stem}.{variable}'
            try:
                patterns = [dict(pattern) for pattern in listener.event_patterns()]
            except Exception as error:
                raise StackError(f'--listener {path}: {variable}.event_patterns() failed: {error}') from None
            stack.subscribe(name, patterns, _handler(listener, name))
            names.append(name)
    return names
