"""Spaces under /v1/spaces: the containers of files and workbooks."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

import data_plane
from jobs_core.models.api import Deletion, DeletionResponse
from jobs_core.models.space import ListSpacesResponse, SpaceCreate, SpaceListQuery, SpaceResponse, SpaceUpdate
from tenancy import tenant_of

router = APIGatewayRouter()

SpaceId = Annotated[str, Path(alias='spaceId')]


@router.post('/v1/spaces', summary='Create a space', tags=['Spaces'])
def create_space(body: Annotated[SpaceCreate, Body()]) -> tuple[SpaceResponse, int]:
    return SpaceResponse(data=data_plane.spaces().create(tenant_of(router.current_event), body)), 201


@router.get('/v1/spaces', summary='List spaces', tags=['Spaces'])
def list_spaces(query: Annotated[SpaceListQuery, Query()]) -> ListSpacesResponse:
    spaces, page = data_plane.spaces().page(tenant_of(router.current_event), query)
    return ListSpacesResponse(data=spaces, pagination=data_plane.pagination(query.page_number, query.page_size, page))


@router.get('/v1/spaces/<spaceId>', summary='Get a space', tags=['Spaces'])
def get_space(space_id: SpaceId) -> SpaceResponse:
    return SpaceResponse(data=data_plane.spaces().get(tenant_of(router.current_event), space_id))


@router.patch('/v1/spaces/<spaceId>', summary='Update a space', tags=['Spaces'])
def update_space(space_id: SpaceId, body: Annotated[SpaceUpdate, Body()]) -> SpaceResponse:
    return SpaceResponse(data=data_plane.spaces().update(tenant_of(router.current_event), space_id, body))


@router.delete(
    '/v1/spaces/<spaceId>',
    summary='Delete a space',
    description='The space is gone at once; the space:delete job named in the answer removes its files and workbooks.',
    tags=['Spaces'],
)
def delete_space(space_id: SpaceId) -> DeletionResponse:
    job_id = data_plane.spaces().delete(tenant_of(router.current_event), space_id)
    return DeletionResponse(data=Deletion(success=True, job_id=job_id))
