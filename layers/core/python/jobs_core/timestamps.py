"""Timestamps as Flatfile writes them: ISO-8601 UTC with milliseconds, e.g. 2023-10-30T20:04:28.556Z."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')
