"""A map job's execution plan (Flatfile's JobExecutionPlan, spec §2.4) and its request bodies.

A plan says which source field feeds which destination field (`fieldMapping` edges, each with a
preview of source values, how sure the match is, and for enum destinations which source value
becomes which option) and which fields are left unmapped on either side.
"""

from typing import Annotated, Literal

from pydantic import Field

from jobs_core.models.base import InputModel, Omittable, OutputModel
from jobs_core.models.job import Job
from jobs_core.models.workbook import MAX_FIELDS, ConfigModel, OptionValue

Certainty = Literal['absolute', 'strong', 'moderate', 'weak']
Preview = Annotated[list[str], Field(max_length=10)]
# A plan is stored as one item: these bounds keep the largest plan well under DynamoDB's 400 KB.
MAX_EDGES = MAX_FIELDS
MAX_ENUM_MAPPINGS = 1000


class Property(ConfigModel):
    """A field as a plan names it (Flatfile's Property). Only `key` is required of a caller: the
    platform stores the sheet's own definition of the field, so a plan never disagrees with its sheet."""

    key: Annotated[str, Field(min_length=1, max_length=255)]
    type: Omittable[str] = None
    label: Omittable[str] = None


class CategoryMapping(ConfigModel):
    source_value: Omittable[OptionValue] = None
    destination_value: Omittable[OptionValue] = None


class EnumDetails(ConfigModel):
    mapping: Annotated[list[CategoryMapping], Field(max_length=MAX_ENUM_MAPPINGS)]
    unused_source_values: Omittable[Annotated[list[OptionValue], Field(max_length=MAX_ENUM_MAPPINGS)]] = None
    unused_destination_values: Omittable[Annotated[list[OptionValue], Field(max_length=MAX_ENUM_MAPPINGS)]] = None


class EdgeMetadata(ConfigModel):
    certainty: Omittable[Certainty] = None
    confidence: Omittable[Annotated[float, Field(ge=0, le=1)]] = None
    source: Omittable[str] = Field(default=None, description='How the edge was found: exact, similarity, values, user')
    detected_delimiter: Omittable[str] = None


class Edge(ConfigModel):
    source_field: Property
    destination_field: Property
    preview: Omittable[Preview] = None
    enum_details: Omittable[EnumDetails] = None
    metadata: Omittable[EdgeMetadata] = None


class SourceField(ConfigModel):
    source_field: Property
    preview: Omittable[Preview] = None


class DestinationField(ConfigModel):
    destination_field: Property
    preview: Omittable[Preview] = None


class JobExecutionPlan(ConfigModel):
    field_mapping: Annotated[list[Edge], Field(max_length=MAX_EDGES)]
    unmapped_source_fields: Annotated[list[SourceField], Field(max_length=MAX_EDGES)]
    unmapped_destination_fields: Annotated[list[DestinationField], Field(max_length=MAX_EDGES)]
    program_id: Omittable[str] = None


class JobExecutionPlanRequest(InputModel):
    """PUT /jobs/{jobId}/plan: the whole plan. `fileId` and `jobId` are in Flatfile's shape; `jobId`,
    when given, must be the job of the path. The unmapped lists are worked out again from the edges."""

    field_mapping: Annotated[list[Edge], Field(max_length=MAX_EDGES)]
    unmapped_source_fields: Annotated[list[SourceField], Field(max_length=MAX_EDGES)] = Field(default_factory=list)
    unmapped_destination_fields: Annotated[list[DestinationField], Field(max_length=MAX_EDGES)] = Field(
        default_factory=list
    )
    program_id: str | None = None
    file_id: str | None = None
    job_id: str | None = None


class JobExecutionPlanConfigRequest(InputModel):
    """PATCH /jobs/{jobId}/plan: the parts given replace the plan's (a `fieldMapping` given is the
    whole new list of edges)."""

    field_mapping: Annotated[list[Edge], Field(max_length=MAX_EDGES)] | None = None
    unmapped_source_fields: Annotated[list[SourceField], Field(max_length=MAX_EDGES)] | None = None
    unmapped_destination_fields: Annotated[list[DestinationField], Field(max_length=MAX_EDGES)] | None = None
    program_id: str | None = None
    file_id: str | None = None
    job_id: str | None = None


class JobPlan(OutputModel):
    job: Job
    plan: JobExecutionPlan


class JobPlanResponse(OutputModel):
    data: JobPlan
