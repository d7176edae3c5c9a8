"""Domain exceptions. The API maps each to one HTTP status in a single resolver module."""


class JobsError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, key: str = 'request') -> None:
        super().__init__(message)
        self.message = message
        self.key = key


class BadRequest(JobsError):
    """400: the request is well-formed JSON but asks for something invalid."""


class Unauthorized(JobsError):
    """401: no valid API key."""


class NotFound(JobsError):
    """404: unknown id, or an id that belongs to another environment."""


class Conflict(JobsError):
    """409: an illegal status transition or a conflicting write."""


class PayloadTooLarge(JobsError):
    """413: the body or the item it would produce is over the limit."""


class ServiceUnavailable(JobsError):
    """503: a dependency throttled us; the caller should retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message, key='service')
        self.retry_after = retry_after
