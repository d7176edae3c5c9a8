"""Each function's environment, modelled once and validated on first use (fail fast, no silent defaults)."""

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra='ignore')


class TableSettings(_Settings):
    table_name: str = Field(alias='TABLE_NAME', min_length=3)


class EventsSettings(_Settings):
    events_table_name: str = Field(alias='EVENTS_TABLE_NAME', min_length=3)
    event_retention_days: int = Field(alias='EVENT_RETENTION_DAYS', ge=1, le=3650)


@cache
def table_settings() -> TableSettings:
    return TableSettings.model_validate(dict(os.environ))


@cache
def events_settings() -> EventsSettings:
    return EventsSettings.model_validate(dict(os.environ))
