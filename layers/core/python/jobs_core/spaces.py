"""Spaces: create, read, list, update; deleting one hands what it holds to a `space:delete` job."""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.data_store import AlreadyDeleting, CatalogPage, DataStore
from jobs_core.errors import BadRequest, NotFound
from jobs_core.models.blueprint import METADATA_KEY, InvalidBlueprint, read_blueprint
from jobs_core.models.job import JobCreate
from jobs_core.models.space import Space, SpaceCreate, SpaceListQuery, SpaceUpdate
from jobs_core.timestamps import format_timestamp, now

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant

# The operations of the jobs that remove what a deleted resource held (see data_jobs).
DELETE_OPERATION: Final = 'delete'


def not_found(space_id: str) -> NotFound:
    return NotFound(f'Space {space_id} not found', key='spaceId')


def same_environment(tenant: 'Tenant', environment_id: str | None) -> None:
    if environment_id is not None and environment_id != tenant.environment_id:
        raise BadRequest("environmentId must be the API key's environment", key='environmentId')


def deletion_job(tenant: 'Tenant', jobs: 'JobService', kind: str, resource_id: str, space_id: str) -> str:
    """The managed job that removes what a deleted resource held; it runs as soon as it is ready."""
    job = jobs.create(
        tenant,
        JobCreate(
            type=kind,
            operation=DELETE_OPERATION,
            source=resource_id,
            space_id=space_id,
            trigger='immediate',
            managed=True,
            mode='background',
            info=f'Removing what {kind} {resource_id} held',
        ),
    )
    return job.id


class SpaceService:
    def __init__(self, catalog: DataStore, jobs: 'JobService', clock: Callable[[], datetime] = now) -> None:
        self._catalog = catalog
        self._jobs = jobs
        self._clock = clock

    def create(self, tenant: 'Tenant', body: SpaceCreate) -> Space:
        same_environment(tenant, body.environment_id)
        blueprint = _blueprint_of(body) if body.auto_configure else None
        stamp = format_timestamp(self._clock())
        values = {
            **body.model_dump(by_alias=True, exclude_none=True, exclude={'environment_id'}),
            'id': ids.new_id(ids.SPACE),
            'environmentId': tenant.environment_id,
            'createdBy': tenant.actor_id,
            'createdAt': stamp,
            'updatedAt': stamp,
        }
        self._catalog.create(tenant.environment_id, [('space', values)])
        space = Space.model_validate(values)
        if body.auto_configure:
            # As Flatfile does: a space created with autoConfigure gets a space:configure job. With a
            # blueprint the platform applies it; without one a listener configures the space.
            self._jobs.create(
                tenant,
                JobCreate(
                    type='space',
                    operation='configure',
                    source=space.id,
                    space_id=space.id,
                    trigger='immediate',
                    managed=blueprint is not None,
                    config=blueprint,
                ),
            )
        return space

    def get(self, tenant: 'Tenant', space_id: str) -> Space:
        item = self._catalog.get('space', tenant.environment_id, space_id)
        if item is None:
            raise not_found(space_id)
        return Space.model_validate(item)

    def page(self, tenant: 'Tenant', query: SpaceListQuery) -> tuple[list[Space], CatalogPage]:
        page = self._catalog.page(
            'space',
            tenant.environment_id,
            page_size=query.page_size,
            page_number=query.page_number,
            page_token=query.page_token,
        )
        return [Space.model_validate(item) for item in page.items], page

    def update(self, tenant: 'Tenant', space_id: str, body: SpaceUpdate) -> Space:
        changes = body.model_dump(by_alias=True, include=body.model_fields_set)
        assign = {name: value for name, value in changes.items() if value is not None}
        remove = frozenset(name for name, value in changes.items() if value is None)
        item = self._catalog.update(
            'space',
            tenant.environment_id,
            space_id,
            {**assign, 'updatedAt': format_timestamp(self._clock())},
            remove,
        )
        if item is None:
            raise not_found(space_id)
        return Space.model_validate(item)

    def delete(self, tenant: 'Tenant', space_id: str) -> str:
        """The space reads as gone at once; a space:delete job removes its files and workbooks. Returns
        that job's id."""
        try:
            self._catalog.mark_deleting(tenant.environment_id, [('space', space_id)], format_timestamp(self._clock()))
        except AlreadyDeleting as gone:
            raise not_found(space_id) from gone
        return deletion_job(tenant, self._jobs, 'space', space_id, space_id)


def _blueprint_of(body: SpaceCreate) -> dict[str, Any] | None:
    """The blueprint under the new space's `metadata.blueprint`, checked before anything is written."""
    blueprint = (body.metadata or {}).get(METADATA_KEY)
    if blueprint is None:
        return None
    if not isinstance(blueprint, dict):
        raise BadRequest('metadata.blueprint is an object: {"workbooks": [...]}', key='metadata.blueprint')
    try:
        read_blueprint(blueprint)
    except InvalidBlueprint as invalid:
        raise BadRequest(f'metadata.blueprint: {invalid}', key='metadata.blueprint') from invalid
    return blueprint
