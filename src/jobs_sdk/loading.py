"""Loading listener files: `jobs listen my_listener.py` (and anything else that runs one).

A listener file is a Python module; its listeners are the module-level objects with
`event_patterns()` and `lambda_handler(event, context)` (a `jobs_sdk.Listener`, or anything shaped
like one). Classes and modules are never taken for listeners.
"""

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ListenerLike(Protocol):
    def event_patterns(self) -> list[dict[str, Any]]: ...

    def lambda_handler(self, event: Mapping[str, Any], context: Any) -> object: ...


class ListenerLoadError(Exception):
    """The file cannot be loaded, or defines no listener; the message says where and why."""


def is_listener(value: object) -> bool:
    return (
        not isinstance(value, type | ModuleType)
        and callable(getattr(value, 'event_patterns', None))
        and callable(getattr(value, 'lambda_handler', None))
    )


def listeners_of(module: ModuleType) -> list[ListenerLike]:
    found: dict[int, ListenerLike] = {}
    for value in vars(module).values():
        if is_listener(value):
            found.setdefault(id(value), value)
    return list(found.values())


def load_module(path: Path) -> ModuleType:
    """Import `path` under a name of its own; its folder goes on sys.path, so it can import its
    neighbours as a script would."""
    path = path.resolve()
    if not path.is_file():
        raise ListenerLoadError(f'{path}: no such file')
    name = f'jobs_listener_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}'  # noqa: S324 - a name
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ListenerLoadError(f'{path}: not a Python file')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        sys.modules.pop(name, None)
        frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
        where = f'{path}:{frames[-1].lineno}' if frames else str(path)
        raise ListenerLoadError(f'{where}: {type(error).__name__}: {error}') from error
    return module


def load_listeners(path: Path) -> list[ListenerLike]:
    listeners = listeners_of(load_module(path))
    if not listeners:
        raise ListenerLoadError(f'{path}: defines no listener (e.g. listener = jobs_sdk.Listener())')
    return listeners


def eventbridge_event(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event the publisher's PutEvents entry becomes, for a Flatfile envelope:
    what a rule target (`lambda_handler`) receives."""
    return {
        'version': '0',
        'id': envelope.get('id', ''),
        'detail-type': envelope.get('topic', ''),
        'source': 'jobs',
        'account': '000000000000',
        'time': envelope.get('createdAt', ''),
        'region': 'local',
        'resources': [],
        'detail': dict(envelope),
    }
