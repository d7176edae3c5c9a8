"""The Job resource of the Flatfile Jobs API (spec §1.2, §2), with its request bodies."""

from typing import Annotated, Literal

from pydantic import Field

from jobs_core.models.base import InputModel, JsonObject, Omittable, OutputModel, Progress, ResourceId, Timestamp

JobStatus = Literal[
    'created', 'planning', 'scheduled', 'waiting', 'ready', 'executing', 'complete', 'failed', 'canceled'
]
InitialStatus = Literal['created', 'planning', 'ready']
Trigger = Literal['manual', 'immediate']
JobMode = Literal['foreground', 'background', 'toolbarBlocking', 'hidden']
PartExecution = Literal['sequential', 'parallel']
OutcomeTriggerType = Literal['manual', 'automatic', 'automatic_silent']

# Flatfile's enums for type and operation are open: custom jobs bring their own strings.
JobType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r'^[A-Za-z0-9_-]+$',
        description='file, workbook, sheet, space, document, app, agent, autobuild, onboarding, or a custom type',
        examples=['workbook'],
    ),
]
Operation = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r'^[^:\s]+$', description="For example 'export'", examples=['export']),
]
Info = Annotated[str, Field(max_length=4096, description='Current status of the job in text')]


# ---------------------------------------------------------------- subject
class ResourceJobSubject(InputModel):
    type: Literal['resource']
    id: ResourceId


class CollectionJobSubject(InputModel):
    type: Literal['collection']
    resource: ResourceId
    params: JsonObject | None = None
    query: JsonObject | None = None


JobSubject = Annotated[ResourceJobSubject | CollectionJobSubject, Field(discriminator='type')]


# ---------------------------------------------------------------- outcome
class OutcomeTrigger(InputModel):
    type: OutcomeTriggerType
    audience: Literal['originator', 'all'] | None = None


class NextId(InputModel):
    type: Literal['id']
    id: ResourceId
    label: str | None = None
    path: str | None = None
    query: str | None = None


class NextUrl(InputModel):
    type: Literal['url']
    url: str
    label: str | None = None


class NextDownload(InputModel):
    type: Literal['download']
    url: str
    label: str | None = None
    file_name: str | None = None


class NextFile(InputModel):
    file_id: ResourceId
    label: str | None = None


class NextFiles(InputModel):
    type: Literal['files']
    files: list[NextFile]
    label: str | None = None


class NextWait(InputModel):
    type: Literal['wait']
    fade: bool | None = None
    confetti: bool | None = None


class NextSnapshot(InputModel):
    type: Literal['snapshot']
    snapshot_id: ResourceId
    sheet_id: ResourceId
    label: str | None = None


class NextRetry(InputModel):
    type: Literal['retry']
    label: str | None = None


class NextView(InputModel):
    type: Literal['view']
    sheet_id: ResourceId
    hidden_columns: list[str]
    label: str | None = None


class NextClearFilters(InputModel):
    type: Literal['clearFilters']
    label: str | None = None
    sheet_ids: list[str] | None = None


JobOutcomeNext = Annotated[
    NextId | NextUrl | NextDownload | NextFiles | NextWait | NextSnapshot | NextRetry | NextView | NextClearFilters,
    Field(discriminator='type'),
]


class JobOutcome(InputModel):
    acknowledge: bool | None = None
    trigger: OutcomeTriggerType | OutcomeTrigger | None = None
    button_text: str | None = None
    next: JobOutcomeNext | None = None
    heading: str | None = None
    message: str | None = None
    hide_default_button: bool | None = None


# ---------------------------------------------------------------- the job
class JobFields(InputModel):
    """What a caller may set on create (Flatfile's JobConfig, plus spaceId and estimatedCompletionAt)."""

    type: JobType
    operation: Operation
    source: ResourceId = Field(description='The id of a file, workbook, sheet, space or app')
    destination: ResourceId | None = None
    config: JsonObject | None = None
    trigger: Trigger | None = None
    progress: Progress | None = None
    file_id: ResourceId | None = None
    space_id: ResourceId | None = None
    mode: JobMode | None = None
    input: JsonObject | None = None
    subject: JobSubject | None = None
    outcome: JobOutcome | None = None
    result: JsonObject | None = None
    info: Info | None = None
    managed: bool | None = None
    part: Annotated[int, Field(ge=0)] | None = None
    part_data: JsonObject | None = None
    part_execution: PartExecution | None = None
    parent_id: ResourceId | None = None
    predecessor_ids: list[ResourceId] | None = None
    metadata: JsonObject | None = None
    estimated_completion_at: Timestamp | None = None
    scheduled_at: Timestamp | None = Field(
        default=None, description='Extension: the job stays scheduled until then, then goes on as its trigger says'
    )


class JobCreate(JobFields):
    """The body of POST /v1/jobs."""

    status: InitialStatus | None = Field(
        default=None, description='Initial status: created, planning or ready. Defaults from trigger.'
    )
    environment_id: ResourceId | None = Field(
        default=None, description="Optional; must be the API key's environment when given"
    )


class Job(OutputModel):
    """A job as stored and returned."""

    id: str
    type: str
    operation: str
    source: str
    status: JobStatus
    environment_id: str
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    version: int = Field(description='Increases by one with every write; events carry it so consumers drop stale ones')
    attempt: int = Field(default=1, description='1 for the first run, +1 for every retry')
    destination: Omittable[str] = None
    config: Omittable[JsonObject] = None
    trigger: Omittable[Trigger] = None
    progress: Omittable[int] = None
    file_id: Omittable[str] = None
    space_id: Omittable[str] = None
    mode: Omittable[JobMode] = None
    input: Omittable[JsonObject] = None
    subject: Omittable[JsonObject] = None
    outcome: Omittable[JsonObject] = None
    result: Omittable[JsonObject] = None
    info: Omittable[str] = None
    managed: Omittable[bool] = None
    part: Omittable[int] = None
    part_data: Omittable[JsonObject] = None
    part_execution: Omittable[PartExecution] = None
    parent_id: Omittable[str] = None
    predecessor_ids: Omittable[list[str]] = None
    metadata: Omittable[JsonObject] = None
    estimated_completion_at: Omittable[Timestamp] = None
    started_at: Omittable[Timestamp] = None
    finished_at: Omittable[Timestamp] = None
    outcome_acknowledged_at: Omittable[Timestamp] = None
    scheduled_at: Omittable[Timestamp] = None
    waiting_on: Omittable[list[str]] = Field(default=None, description='Predecessors this waiting job still waits for')
    parts_total: Omittable[int] = None
    parts_completed: Omittable[int] = None
    parts_failed: Omittable[int] = None
    parts_canceled: Omittable[int] = None
    # What a waiting or scheduled job becomes when released; stored, never returned.
    release_status: JobStatus | None = Field(default=None, exclude=True)
    execution_arn: Omittable[str] = Field(default=None, description='The Step Functions execution of a system job')
    # Set by the ack that started this attempt; tells that caller it won (see JobService.ack).
    start_token: str | None = Field(default=None, exclude=True)


# ---------------------------------------------------------------- request bodies
class JobUpdate(InputModel):
    """The body of PATCH /v1/jobs/{jobId}: every field optional, status only along the lifecycle."""

    config: JsonObject | None = None
    status: JobStatus | None = None
    progress: Progress | None = None
    outcome_acknowledged_at: Timestamp | None = None
    info: Info | None = None
    metadata: JsonObject | None = None
    estimated_completion_at: Timestamp | None = None


class JobAckDetails(InputModel):
    info: Info | None = None
    progress: Progress | None = None
    estimated_completion_at: Timestamp | None = None


class JobCompleteDetails(InputModel):
    outcome: JobOutcome | None = None
    info: Info | None = None


class JobCancelDetails(InputModel):
    info: Info | None = None


MAX_PARTS = 1000


class JobSplitDetails(InputModel):
    parts: (
        Annotated[int, Field(ge=1, le=MAX_PARTS, strict=True)]
        | Annotated[list[JsonObject], Field(min_length=1, max_length=MAX_PARTS)]
    ) = Field(description='How many parts, or one partData object per part')
    run_in_parallel: bool = False


class JobListQuery(InputModel):
    """The filters of GET /v1/jobs."""

    environment_id: ResourceId | None = Field(default=None, description="Only the API key's environment has jobs")
    space_id: ResourceId | None = None
    workbook_id: ResourceId | None = Field(
        default=None,
        description='Jobs whose source is this workbook, or whose destination is when the source is not one',
    )
    file_id: ResourceId | None = Field(default=None, description='Jobs whose fileId, or else source, is this file')
    parent_id: ResourceId | None = Field(default=None, description='The parts of this split job')
    source: ResourceId | None = None
    status: JobStatus | None = None
    exclude_child_jobs: bool = Field(default=False, description='Only top-level jobs, unless parentId is given')
    sort_direction: Literal['asc', 'desc'] = Field(default='desc', description='By createdAt; newest first by default')
    page_size: Annotated[int, Field(ge=1, le=100)] = 20
    page_number: Annotated[int, Field(ge=1, le=10_000)] = 1
    page_token: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, description='The nextPageToken of the previous page; pageNumber is then ignored'
    )
