"""`sheet:ai-assist` (AiAssistJobConfig): the values of one field categorised into the options of an
enum field, with the categorizer the deployment configures (jobs_core.categorize).

A page at a time, the distinct source values not yet known in this step are asked for together (a
value is never asked twice in a step); each record whose value got a category has it written into
the target field, by the record service, in transactions guarded by the job still running (as
find-replace). The confidence goes beside it in the record's metadata,
`metadata.aiAssist.<targetField> = {value, confidence, provider, jobId}`: cell messages are kept only
for invalid cells, and metadata is shown with the record, survives later edits of other fields and
does not change its validity.

A record is left as it is when its target already holds a valid value (unless `overwrite`), when its
source is empty, or when no option fits (counted as uncategorised). A record whose metadata says
this job categorised it already is counted, not written again: a step that runs again changes nothing
twice and counts right.
"""

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from jobs_core.categorize import NONE, Categorizer, Category
from jobs_core.records import Written
from jobs_core.system.configs import AiAssistJobConfig
from jobs_core.system.guards import Running
from jobs_core.system.operations import Budget, Context, OperationFailed, Step
from jobs_core.system.record_edits import _RecordEdit
from jobs_core.system.selection import Chosen, check_fields, chosen
from jobs_core.validation import is_empty, text_of

if TYPE_CHECKING:
    from jobs_core.jobs import JobService
    from jobs_core.models.workbook import SheetField
    from jobs_core.records import RecordService, Stored
    from jobs_core.sheets import SheetState
    from jobs_core.snapshots import SnapshotService

METADATA_KEY: Final = 'aiAssist'


class AiAssist(_RecordEdit):
    verb = 'Processed'
    kind = 'update'

    def __init__(
        self,
        records: 'RecordService',
        snapshots: 'SnapshotService',
        jobs: 'JobService',
        categorizer: Categorizer,
        *,
        page_size: int | None = None,
        min_records: int | None = None,
    ) -> None:
        super().__init__(
            records,
            snapshots,
            jobs,
            page_size=page_size if page_size is not None else categorizer.page_size,
            min_records=min_records if min_records is not None else categorizer.step_floor,
        )
        self._categorizer = categorizer
        self._known: dict[str, Category] = {}  # this step's answers, by source value
        self._categorised = 0
        self._uncategorised = 0

    def _config(self, context: Context) -> AiAssistJobConfig:
        config: AiAssistJobConfig = self._parsed(AiAssistJobConfig, context)
        return config

    def _selected(self, config: AiAssistJobConfig, sheet: 'SheetState') -> Chosen:
        return chosen(config, config.ids)

    def _check(self, sheet: 'SheetState', config: AiAssistJobConfig) -> None:
        check_fields(sheet, config.source_field, config.filter_field, config.search_field)
        _target(sheet, config)

    # ------------------------------------------------------------ a page
    def _apply(self, context: Context, sheet: 'SheetState', page: list['Stored'], config: AiAssistJobConfig) -> Written:
        target = _target(sheet, config)  # again: the sheet may have been reconfigured since prepare
        if config.source_field not in sheet.fields:
            raise OperationFailed(f'{config.source_field!r} is not a field of sheet {sheet.slug}')
        job_id = context.job.id
        wanted: dict[str, Stored] = {}
        for record in page:
            if _categorised_by(record, config.target_field, job_id):
                self._categorised += 1  # this job's own write, from a step that ran before
            elif _wanted(record, config) is not None:
                wanted[record['id']] = record
        self._learn([_wanted(record, config) for record in wanted.values()], target, config)
        found = {record_id: record for record_id, record in wanted.items() if self._category(record, config)}
        self._uncategorised += len(wanted) - len(found)
        if not found:
            return Written([], None, 0)

        def edit(record: 'Stored') -> dict[str, Any] | None:  # the record as read, or again when it moved
            category = self._category(record, config)
            if category is None or _categorised_by(record, config.target_field, job_id):
                return None
            return {config.target_field: category.option}

        def annotate(record: 'Stored') -> dict[str, Any]:
            category = self._category(record, config)
            metadata = dict(record.get('metadata') or {})
            assist = dict(metadata.get(METADATA_KEY) or {})
            if category is not None:
                assist[config.target_field] = {
                    'value': category.option,
                    'confidence': category.confidence,
                    'provider': self._categorizer.name,
                    'jobId': job_id,
                }
            metadata[METADATA_KEY] = assist
            return metadata

        guard = Running(self._jobs, context).transactional()
        written = self._records.edit_found(
            context.tenant, sheet, found, edit, kind=self.kind, job_id=job_id, guard=guard, metadata=annotate
        )
        self._categorised += written.count
        return written

    def _learn(self, texts: list[str | None], target: 'SheetField', config: AiAssistJobConfig) -> None:
        """Ask the categorizer about the values this step has not asked about yet, all at once."""
        new = [text for text in dict.fromkeys(texts) if text and text not in self._known]
        if new:
            answers = self._categorizer.categorize(new, target.options(), config.instructions)
            self._known.update({text: answers.get(text) or NONE for text in new})

    def _category(self, record: 'Stored', config: AiAssistJobConfig) -> Category | None:
        """The category the record's value got, when it still wants one and one fits."""
        text = _wanted(record, config)
        category = self._known.get(text) if text else None
        return category if category is not None and category.found else None

    # ------------------------------------------------------------ steps
    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        step = super().process(context, cursor, budget)
        counted = {
            **step.cursor,
            'categorised': int(cursor.get('categorised', 0)) + self._categorised,
            'uncategorised': int(cursor.get('uncategorised', 0)) + self._uncategorised,
        }
        return replace(step, cursor=counted)

    def finalize(self, context: Context, cursor: dict[str, Any]) -> dict[str, Any]:
        config = self._config(context)
        sheet = self._sheet(context, cursor['sheetId'])
        categorised = int(cursor.get('categorised', 0))
        uncategorised = int(cursor.get('uncategorised', 0))
        if categorised:
            self._records.record_commit(context.tenant, sheet, self.kind, categorised, job_id=context.job.id)
        message = (
            f'Categorised {categorised:,} records of sheet {sheet.slug} into {config.target_field} '
            f'({self._categorizer.name}); left {uncategorised:,} uncategorised'
        )
        return {'message': message}


def _target(sheet: 'SheetState', config: AiAssistJobConfig) -> 'SheetField':
    field = sheet.fields.get(config.target_field)
    if field is None:
        raise OperationFailed(f'{config.target_field!r} is not a field of sheet {sheet.slug}')
    if field.type != 'enum':
        raise OperationFailed(
            f'{config.target_field!r} is a {field.type} field of sheet {sheet.slug}; '
            'ai-assist categorises into the options of an enum field'
        )
    return field


def _wanted(record: 'Stored', config: AiAssistJobConfig) -> str | None:
    """The source value to categorise, as text; None when the record is to be left as it is."""
    target = config.target_field
    if (
        not config.overwrite
        and not is_empty(record['values'].get(target))
        and target not in (record.get('errors') or {})
    ):
        return None  # a valid value already: kept
    return _text(record['values'].get(config.source_field))


def _categorised_by(record: 'Stored', target_field: str, job_id: str) -> bool:
    assist = (record.get('metadata') or {}).get(METADATA_KEY)
    given = assist.get(target_field) if isinstance(assist, dict) else None
    return isinstance(given, dict) and given.get('jobId') == job_id


def _text(value: Any) -> str | None:
    if isinstance(value, bool | str | int | float):
        return text_of(value).strip() or None
    if isinstance(value, list):
        return ', '.join(text for item in value if (text := _text(item))) or None
    return None
