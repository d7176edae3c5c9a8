"""The system operations this platform runs, by job string (`<type>:<operation>`)."""

from collections.abc import Callable

from jobs_core import data_jobs
from jobs_core.system.operations import Operation


def operations() -> dict[str, Callable[[], Operation]]:
    """Each operation is built per call: it holds no state between steps but what its cursor says."""
    return {**data_jobs.operations()}
