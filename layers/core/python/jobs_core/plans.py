"""A map job's execution plan: proposed by the platform while the job is `planning`, read and changed
through /jobs/{jobId}/plan until the job runs, and followed by the map operation.

The plan is an item of its own beside its job's (store.plan_key). Every change to it is written in
one transaction with a change of the job (its version, and `info` when the platform plans), so the
job's `job:updated` announces the plan: Flatfile's automap flow waits for exactly that. A plan is
checked against both sheets before it is stored, and stored in the sheets' own field definitions.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError
from pydantic import ValidationError

from jobs_core import lifecycle, mapping
from jobs_core.dynamo import dynamodb_client, error_code, from_item, translate
from jobs_core.errors import BadRequest, Conflict, NotFound
from jobs_core.lifecycle import Action
from jobs_core.models.job import Job
from jobs_core.models.plan import (
    DestinationField,
    Edge,
    EdgeMetadata,
    JobExecutionPlan,
    JobExecutionPlanConfigRequest,
    JobExecutionPlanRequest,
    JobPlan,
    Property,
    SourceField,
)
from jobs_core.observability import logger
from jobs_core.store import job_key, plan_key
from jobs_core.system.configs import MapJobConfig, parse_config
from jobs_core.timestamps import now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from jobs_core.jobs import JobService
    from jobs_core.models.tenant import Tenant
    from jobs_core.models.workbook import SheetField
    from jobs_core.records import RecordService
    from jobs_core.sheets import SheetState

ENTITY: Final = 'plan'
# DynamoDB's item limit is 400 KB; the plan's own bound leaves room for its keys.
MAX_PLAN_BYTES: Final = 350_000


class PlanStore:
    def __init__(self, table_name: str, client: 'DynamoDBClient | None' = None) -> None:
        self._table = table_name
        self._client = client or dynamodb_client()

    def read(self, tenant: 'Tenant', job_id: str) -> tuple[Job | None, JobExecutionPlan | None]:
        """The job and its plan, in one consistent Query of the job's partition."""
        try:
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression='pk = :pk',
                ExpressionAttributeValues={':pk': job_key(tenant.environment_id, job_id)['pk']},
                ConsistentRead=True,
            )
        except ClientError as error:
            raise translate(error) from error
        job: Job | None = None
        plan: JobExecutionPlan | None = None
        for item in response['Items']:
            values = from_item(item)
            if values.get('entity') == ENTITY:
                plan = JobExecutionPlan.model_validate_json(values['plan'])
            elif values.get('entity') == 'job':
                job = Job.model_validate(values)
        return job, (plan if job is not None else None)

    def get(self, tenant: 'Tenant', job_id: str) -> JobExecutionPlan | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=plan_key(tenant.environment_id, job_id), ConsistentRead=True
            )
        except ClientError as error:
            raise translate(error) from error
        item = response.get('Item')
        return JobExecutionPlan.model_validate_json(item['plan']['S']) if item else None

    def put_if_absent(self, tenant: 'Tenant', job_id: str, plan: JobExecutionPlan) -> None:
        """The plan of a job that runs without planning first (trigger immediate): the first one stays."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self.item(tenant, job_id, plan),
                ConditionExpression='attribute_not_exists(pk)',
            )
        except ClientError as error:
            if error_code(error) != 'ConditionalCheckFailedException':
                raise translate(error) from error

    def item(self, tenant: 'Tenant', job_id: str, plan: JobExecutionPlan) -> dict[str, 'AttributeValueTypeDef']:
        body = plan.model_dump_json(by_alias=True, exclude_none=True)
        if len(body) > MAX_PLAN_BYTES:
            raise BadRequest(f'The plan is {len(body):,} bytes; a plan holds at most {MAX_PLAN_BYTES:,}', key='plan')
        # Stored as JSON text: a plan is read and written whole, and floats need no Decimal round trip.
        return {**plan_key(tenant.environment_id, job_id), 'entity': {'S': ENTITY}, 'plan': {'S': body}}


@dataclass(frozen=True, slots=True)
class MapSheets:
    source: 'SheetState'
    destination: 'SheetState'


class PlanService:
    def __init__(
        self,
        jobs: 'JobService',
        plans: PlanStore,
        records: 'RecordService',
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._jobs = jobs
        self._plans = plans
        self._records = records
        self._clock = clock

    # ------------------------------------------------------------ the API
    def get(self, tenant: 'Tenant', job_id: str) -> JobPlan:
        job, plan = self._plans.read(tenant, job_id)
        job = _plannable(job, job_id)
        if plan is None:
            raise _no_plan(job)
        return JobPlan(job=job, plan=plan)

    def replace(self, tenant: 'Tenant', job_id: str, body: JobExecutionPlanRequest) -> JobPlan:
        _same_job(job_id, body.job_id)
        job, current = self._plans.read(tenant, job_id)
        job = _plannable(job, job_id)
        given = JobExecutionPlan.model_validate(body.model_dump(exclude={'file_id', 'job_id'}))
        return self._store(tenant, job, given, current)

    def update(self, tenant: 'Tenant', job_id: str, body: JobExecutionPlanConfigRequest) -> JobPlan:
        _same_job(job_id, body.job_id)
        job, current = self._plans.read(tenant, job_id)
        job = _plannable(job, job_id)
        if current is None:
            raise _no_plan(job)
        given = body.model_dump(by_alias=True, include=body.model_fields_set - {'file_id', 'job_id'}, exclude_none=True)
        merged = JobExecutionPlan.model_validate({**current.model_dump(by_alias=True), **given})
        return self._store(tenant, job, merged, current)

    def _store(self, tenant: 'Tenant', job: Job, given: JobExecutionPlan, current: JobExecutionPlan | None) -> JobPlan:
        change = lifecycle.transition(Action.CHANGE_PLAN, self._clock())
        if job.status not in change.sources:  # said before the sheets are read: a job that ran has no say
            raise Conflict(lifecycle.explain_conflict(change, job), key='status')
        plan = checked(given, self.sheets(tenant, job), current)
        change.expect['version'] = job.version  # a plan edited from a job read that is still current
        updated = self._jobs.apply_with_item(tenant, job.id, change, self._plans.item(tenant, job.id, plan))
        return JobPlan(job=updated, plan=plan)

    # ------------------------------------------------------------ planning
    def sheets(self, tenant: 'Tenant', job: Job) -> MapSheets:
        """The map job's two sheets, each checked to be in the workbook the job names (BadRequest)."""
        try:
            config = parse_config(MapJobConfig, job.config)
        except ValidationError as invalid:
            raise BadRequest(f'The job config cannot be used: {invalid.errors()[0]["msg"]}', key='config') from invalid
        found = []
        for role, sheet_id, workbook_id in (
            ('source', config.source_sheet_id, job.source),
            ('destination', config.destination_sheet_id, job.destination),
        ):
            try:
                sheet = self._records.sheet(tenant, sheet_id)
            except NotFound as missing:
                raise BadRequest(f'The {role} sheet {sheet_id} was not found', key='config') from missing
            if workbook_id and sheet.workbook_id != workbook_id:
                raise BadRequest(f'The {role} sheet {sheet_id} is not in workbook {workbook_id}', key='config')
            found.append(sheet)
        return MapSheets(*found)

    def propose(self, tenant: 'Tenant', sheets: MapSheets) -> JobExecutionPlan:
        page, _ = next(self._records.scan(tenant, sheets.source, page_size=mapping.SAMPLE_ROWS))
        samples = [record['values'] for record in page]
        return mapping.propose(list(sheets.source.fields.values()), samples, list(sheets.destination.fields.values()))

    def plan(self, tenant: 'Tenant', job: Job) -> JobExecutionPlan | None:
        """Propose the plan of a job that is planning, store it and tell (`job:updated`, info "Plan
        ready"). A job that cannot be planned (a sheet missing) fails with the reason. Idempotent: a
        plan already there (from an earlier delivery, or a caller's PUT) is kept."""
        if self._plans.get(tenant, job.id) is not None:
            return None
        try:
            plan = self.propose(tenant, self.sheets(tenant, job))
            item = self._plans.item(tenant, job.id, plan)
        except BadRequest as unplannable:
            self._fail(tenant, job, f'The job cannot be planned: {unplannable.message}')
            return None
        mapped = len(plan.field_mapping)
        fields = mapped + len(plan.unmapped_destination_fields)
        change = lifecycle.transition(
            Action.PLANNED, self._clock(), {'info': f'Plan ready: {mapped} of {fields} destination fields mapped'}
        )
        change.expect['attempt'] = job.attempt
        try:
            # A plan a caller PUT while this one was computed is theirs to keep: ours is written only as the first.
            self._jobs.apply_with_item(tenant, job.id, change, item, item_is_new=True)
        except (Conflict, NotFound):
            logger.info('The job moved on while it was planned; the plan is dropped', job_id=job.id)
            return None
        return plan

    def _fail(self, tenant: 'Tenant', job: Job, message: str) -> None:
        fields: dict[str, object] = {'outcome': {'message': message, 'acknowledge': True}, 'info': message}
        with contextlib.suppress(Conflict, NotFound):  # canceled or deleted meanwhile: nothing of ours to fail
            self._jobs.advance(tenant, job.id, Action.FAIL, fields, attempt=job.attempt)


def checked(given: JobExecutionPlan, sheets: MapSheets, current: JobExecutionPlan | None = None) -> JobExecutionPlan:
    """`given` in the sheets' own field definitions, the unmapped fields worked out again; a field
    that is not in its sheet, a destination fed twice or an option that is not the field's: 400."""
    sources, destinations = sheets.source.fields, sheets.destination.fields
    previews = _previews(current) | _previews(given)
    edges: list[Edge] = []
    fed: set[str] = set()
    for position, edge in enumerate(given.field_mapping):
        where = f'fieldMapping[{position}]'
        source = _field(sources, edge.source_field, f'{where}.sourceField', f'source sheet {sheets.source.slug}')
        destination = _field(
            destinations, edge.destination_field, f'{where}.destinationField', f'sheet {sheets.destination.slug}'
        )
        if destination.key in fed:
            raise BadRequest(f'{where}: destination field {destination.key!r} is fed by two edges', key='fieldMapping')
        fed.add(destination.key)
        _check_enum(edge, destination, where)
        edges.append(
            edge.model_copy(
                update={
                    'source_field': _property(source),
                    'destination_field': _property(destination),
                    'metadata': edge.metadata or EdgeMetadata(source='user'),
                }
            )
        )
    used = {edge.source_field.key for edge in edges}
    return JobExecutionPlan(
        field_mapping=edges,
        unmapped_source_fields=[
            SourceField(source_field=_property(field), preview=previews.get(field.key))
            for key, field in sources.items()
            if key not in used
        ],
        unmapped_destination_fields=[
            DestinationField(destination_field=_property(field))
            for key, field in destinations.items()
            if key not in fed
        ],
        program_id=given.program_id,
    )


def _field(fields: dict[str, 'SheetField'], prop: Property, where: str, sheet: str) -> 'SheetField':
    found = fields.get(prop.key)
    if found is None:
        raise BadRequest(f'{where}: {prop.key!r} is not a field of {sheet}', key='fieldMapping')
    return found


def _check_enum(edge: Edge, destination: 'SheetField', where: str) -> None:
    if edge.enum_details is None:
        return
    options = {repr(option.value) for option in destination.options()}
    if not options:
        raise BadRequest(f'{where}: enumDetails for {destination.key!r}, which has no options', key='fieldMapping')
    for pair in edge.enum_details.mapping:
        if pair.destination_value is not None and repr(pair.destination_value) not in options:
            raise BadRequest(
                f'{where}: {pair.destination_value!r} is not an option of {destination.key!r}', key='fieldMapping'
            )


def _property(field: 'SheetField') -> Property:
    return Property.model_validate(field.model_dump(by_alias=True, exclude_none=True))


def _previews(plan: JobExecutionPlan | None) -> dict[str, list[str]]:
    if plan is None:
        return {}
    found: dict[str, list[str]] = {}
    for edge in plan.field_mapping:
        if edge.preview is not None:
            found[edge.source_field.key] = edge.preview
    for unmapped in plan.unmapped_source_fields:
        if unmapped.preview is not None:
            found[unmapped.source_field.key] = unmapped.preview
    return found


def _same_job(job_id: str, given: str | None) -> None:
    if given is not None and given != job_id:
        raise BadRequest(f'jobId {given} is not the job of the path ({job_id})', key='jobId')


def _plannable(job: Job | None, job_id: str) -> Job:
    if job is None:
        raise NotFound(f'Job {job_id} not found', key='jobId')
    if not lifecycle.planned(job.type, job.operation):
        raise NotFound(f'Job {job_id} has no plan: only workbook:map jobs have one', key='jobId')
    return job


def _no_plan(job: Job) -> Exception:
    """Why a job that plans has no plan yet."""
    if job.status == 'planning':
        return Conflict(f'The plan of job {job.id} is being computed; job:updated tells when it is ready', key='plan')
    if job.status == 'created':
        return Conflict(f'Job {job.id} has no plan yet: set its status to planning, or execute it', key='plan')
    return Conflict(f'Job {job.id} has no plan (it is {job.status})', key='plan')
