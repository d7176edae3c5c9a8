"""Loads a template function's entry module in process, as Lambda would import it."""

import importlib.util
import sys
from functools import cache
from types import ModuleType

from jobs_local.template import functions


@cache
def load_entry(logical_id: str) -> ModuleType:
    """The handler module of a template function, under a unique name so two `app.py` never collide.

    The function's own folder goes on sys.path, as Lambda puts its code root there.
    """
    spec = functions()[logical_id]
    folder = spec.code_uri.resolve()
    module_file, _, _ = spec.handler.rpartition('.')
    name = f'{logical_id}_{module_file}'
    loader = importlib.util.spec_from_file_location(name, folder / f'{module_file.replace(".", "/")}.py')
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        loader.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        # The function's own modules (job_routes, …) stay bound in its code but leave the global
        # module table, so another function with a module of the same name imports its own.
        for local in set(sys.modules) - before:
            origin = getattr(sys.modules[local], '__file__', None) or ''
            if origin.startswith(str(folder)):
                sys.modules[f'{logical_id}.{local}'] = sys.modules.pop(local)
    return module


def handler_of(logical_id: str):  # type: ignore[no-untyped-def]
    spec = functions()[logical_id]
    return getattr(load_entry(logical_id), spec.handler.rpartition('.')[2])
