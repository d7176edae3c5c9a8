"""What POST /v1/jobs/preview-mutation answers: each record as the mutation would leave it (spec §1.3)."""

from pydantic import Field, JsonValue

from jobs_core.models.base import JsonObject, Omittable, OutputModel
from jobs_core.models.record import Cell, ValidationMessage


class DiffValue(Cell):
    """A cell as the mutation would write it (validated), with the value it holds now."""

    snapshot_value: JsonValue = Field(default=None, description='The value the record holds now')


class DiffRecord(OutputModel):
    id: str
    values: dict[str, DiffValue]
    valid: bool = Field(description='Whether the record would be valid after the mutation')
    messages: list[ValidationMessage] = Field(
        default_factory=list, description='Why the expression left this record as it is, when it failed on it'
    )
    metadata: JsonObject = Field(default_factory=dict)
    commit_id: Omittable[str] = None


class DiffRecordsResponse(OutputModel):
    data: list[DiffRecord]
