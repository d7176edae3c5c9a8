"""What the SDK raises when the API says no."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs_core.models.api import ErrorItem


class JobsApiError(Exception):
    """The API answered with an error status. `errors` is its `{"errors": [{key, message}]}` body;
    the exception's message is the API's own message."""

    def __init__(self, status: int, errors: 'list[ErrorItem]') -> None:
        self.status = status
        self.errors = errors
        super().__init__('; '.join(error.message for error in errors) or f'HTTP {status}')

    @property
    def message(self) -> str:
        return str(self)

    @property
    def key(self) -> str | None:
        """The key of the first error (the field or resource it is about), if the API named one."""
        return self.errors[0].key if self.errors else None

    def __repr__(self) -> str:
        return f'JobsApiError(status={self.status}, message={str(self)!r})'
