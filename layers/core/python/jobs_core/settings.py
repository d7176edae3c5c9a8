"""Each function's environment, modelled once and validated on first use (fail fast, no silent defaults)."""

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class TableSettings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra='ignore')

    table_name: str = Field(alias='TABLE_NAME', min_length=3)


@cache
def table_settings() -> TableSettings:
    return TableSettings.model_validate(dict(os.environ))
