"""Spaces: the container of a tenant's files and workbooks (Flatfile's Space, minimal)."""

from typing import Annotated, Any

from pydantic import Field, model_validator

from jobs_core.models.api import Pagination
from jobs_core.models.base import InputModel, JsonObject, Omittable, OutputModel, ResourceId, Timestamp

Name = Annotated[str, Field(min_length=1, max_length=255)]
Labels = Annotated[list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=50)]
Namespace = Annotated[str, Field(min_length=1, max_length=255)]


class SpaceCreate(InputModel):
    """The body of POST /v1/spaces."""

    name: Name | None = None
    metadata: JsonObject | None = None
    labels: Labels | None = None
    namespace: Namespace | None = None
    auto_configure: bool = Field(
        default=False,
        description=(
            'Create a space:configure job for the new space (only used on creation): the platform applies the '
            'blueprint in metadata.blueprint when there is one, else a listener configures the space'
        ),
    )
    environment_id: ResourceId | None = Field(
        default=None, description="Optional; must be the API key's environment when given"
    )


class SpaceUpdate(InputModel):
    """The body of PATCH /v1/spaces/{spaceId}: what is given replaces what was."""

    name: Name | None = None
    metadata: JsonObject | None = None
    labels: Labels | None = None
    namespace: Namespace | None = None

    @model_validator(mode='after')
    def _not_empty(self) -> 'SpaceUpdate':
        if not self.model_fields_set:
            raise ValueError('Give at least one of name, metadata, labels, namespace')
        return self


class Space(OutputModel):
    id: str
    environment_id: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    name: Omittable[str] = None
    metadata: Omittable[JsonObject] = None
    labels: Omittable[list[str]] = None
    namespace: Omittable[str] = None
    auto_configure: Omittable[bool] = None
    actions: Omittable[list[dict[str, Any]]] = Field(default=None, description='Set by space:configure')
    primary_workbook_id: Omittable[str] = Field(
        default=None, description="Set by space:configure: the blueprint's first workbook"
    )


class SpaceResponse(OutputModel):
    data: Space


class SpaceListQuery(InputModel):
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = None


class ListSpacesResponse(OutputModel):
    data: list[Space]
    pagination: Pagination
