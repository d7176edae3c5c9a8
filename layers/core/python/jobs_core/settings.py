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


class DataSettings(TableSettings):
    """The data plane: its table, the files bucket, and the jobs table (commits go there)."""

    data_table_name: str = Field(alias='DATA_TABLE_NAME', min_length=3)
    files_bucket_name: str = Field(alias='FILES_BUCKET_NAME', min_length=3)


@cache
def table_settings() -> TableSettings:
    return TableSettings.model_validate(dict(os.environ))


@cache
def events_settings() -> EventsSettings:
    return EventsSettings.model_validate(dict(os.environ))


@cache
def data_settings() -> DataSettings:
    return DataSettings.model_validate(dict(os.environ))


class AssistSettings(_Settings):
    """sheet:ai-assist: the Amazon Bedrock model to categorise with. Optional by design: empty (the
    template's default) means the local provider, which needs no model and no network."""

    assist_model_id: str = Field(default='', alias='ASSIST_MODEL_ID', max_length=2048)


@cache
def assist_settings() -> AssistSettings:
    return AssistSettings.model_validate(dict(os.environ))
