"""`file:extract`: a file's rows become records of a workbook (see jobs_core.extraction for the readers).

- prepare: reads the file's layout (encoding, delimiter, header row; the field names), then creates
  the workbook, with a sheet per worksheet (one for a text file) of string fields named after the
  headers, or finds the sheet of the `destination` workbook that matches the file and maps the
  columns onto its fields by key or label.
- process: reads on from the cursor's position (a byte offset, read with ranged GETs a window at a
  time, for CSV, TSV and JSON Lines; a row index for JSON arrays, streamed again from the start, and
  XLSX, read whole: calamine needs the whole workbook) and writes the records in batches through the
  record service, so values are validated and counts stay exact.
- finalize: records one commit per sheet, notes the workbook on the file and the detected header
  row on the job (`config.detectedHeaderRow`, 0-based, and `result`); the outcome leads to the workbook.

Idempotent chunks: a record's id is derived from the job and the row's position, and each batch is
counted once by a conditional add on its sheet (the job's high-water mark, RecordService.import_batch):
a step that runs again skips what was counted and rewrites, never duplicates, what was not.
Cancel: each batch is followed by a read of the job; a batch written after a cancel is taken back.
Progress is by rows; for text formats the total is estimated from the bytes read until the end.
"""

import io
import json
import re
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.errors import NotFound
from jobs_core.extraction import (
    SNIFF_BYTES,
    Format,
    Layout,
    Row,
    flatten,
    format_of,
    json_keys,
    layout_of,
    rows,
    xlsx_worksheets,
)
from jobs_core.models.workbook import MAX_FIELDS, MAX_SHEETS, SheetConfig, WorkbookCreate, slugify
from jobs_core.object_store import file_key
from jobs_core.system.configs import FileJobConfig, parse_config
from jobs_core.system.guards import Running
from jobs_core.system.operations import Budget, Completion, Context, OperationFailed, Plan, Step

if TYPE_CHECKING:
    from jobs_core.files import FileService
    from jobs_core.jobs import JobService
    from jobs_core.object_store import ObjectStore
    from jobs_core.records import RecordService
    from jobs_core.sheets import SheetState
    from jobs_core.workbooks import WorkbookService

ROWS_PER_BATCH: Final = 250
# A step does at least this many rows (unless the file ends) before it yields to its time budget: a
# bound on the steps, so on the execution history, of any file (see test_system_job_limits).
MIN_ROWS_PER_STEP: Final = 20_000
JSON_KEY_SAMPLE: Final = 1000
# An XLSX workbook is read whole (calamine needs it): refuse what would not fit a worker's memory.
MAX_XLSX_BYTES: Final = 100 * 1024 * 1024
MAX_IGNORED_LISTED: Final = 10
_TEXT: Final = frozenset({'csv', 'tsv', 'jsonl'})
_CONTROL: Final = re.compile(r'[\x00-\x1f]+')


def high_water_mark(job_id: str, part: int) -> str:
    """The attribute of a sheet's item that holds how many rows of the job's part are written and counted."""
    return f'import#{job_id}#{part}'


@dataclass(frozen=True, slots=True)
class _Shape:
    """How a source's rows read: the layout, the names its rows carry, and those names as field keys."""

    layout: Layout
    names: tuple[str, ...]
    keys: tuple[str, ...]
    nested: bool = False  # JSON: objects may nest (flattened with dots)


@dataclass(frozen=True, slots=True)
class _Source:
    """What one sheet is filled from: a worksheet of a workbook, or the whole text file."""

    worksheet: int
    name: str
    shape: _Shape
    rows: int | None  # known up front for XLSX only


class Extract:
    """An Operation (jobs_core.system.operations). Cursor: the format, the sheets as [worksheet, sheet id],
    the part being read, its position (None: from the start of its data), line and row index, and the
    rows, valid and error counts so far."""

    def __init__(
        self,
        files: 'FileService',
        objects: 'ObjectStore',
        records: 'RecordService',
        workbooks: 'WorkbookService',
        jobs: 'JobService',
        *,
        batch_rows: int = ROWS_PER_BATCH,
        min_rows: int = MIN_ROWS_PER_STEP,
    ) -> None:
        self._files = files
        self._objects = objects
        self._records = records
        self._workbooks = workbooks
        self._jobs = jobs
        self._batch_rows = batch_rows
        self._min_rows = min_rows

    # ------------------------------------------------------------ prepare
    def prepare(self, context: Context) -> Plan:
        file = self._file(context)
        fmt = format_of(file['name'], file.get('mimetype'))
        sources = self._sources(context, file, fmt)
        workbook_id, sheet_ids, ignored = self._target(context, file, sources)
        cursor: dict[str, Any] = {
            'format': fmt,
            'workbookId': workbook_id,
            'sheets': [[source.worksheet, sheet_id] for source, sheet_id in zip(sources, sheet_ids, strict=True)],
            'headerRow': sources[0].shape.layout.header_row,
            'ignored': ignored,
            'part': 0,
            'position': None,
            'line': None,
            'index': 0,
            'counts': [0] * len(sources),
            'valid': 0,
            'error': 0,
        }
        known = [source.rows for source in sources]
        total = sum(count for count in known if count is not None) if fmt == 'xlsx' else None
        return Plan(total=total, unit='rows', verb='Extracted', cursor=cursor)

    def _sources(self, context: Context, file: dict[str, Any], fmt: Format) -> list[_Source]:
        if fmt != 'xlsx':
            return [_Source(0, _base_name(file['name']), self._text_shape(context, file, fmt), None)]
        data = self._whole(context, file)
        worksheets = xlsx_worksheets(io.BytesIO(data))
        if not worksheets:
            raise OperationFailed(f'{file["name"]}: the workbook has no rows')
        if len(worksheets) > MAX_SHEETS:
            raise OperationFailed(
                f'{file["name"]}: {len(worksheets)} worksheets; a workbook holds at most {MAX_SHEETS}'
            )
        sources = []
        for index, name, height in worksheets:
            shape = self._xlsx_shape(context, data, index)
            sources.append(_Source(index, name, shape, max(0, height - shape.layout.header_row - 1)))
        return sources

    def _target(
        self, context: Context, file: dict[str, Any], sources: list[_Source]
    ) -> tuple[str, list[str], list[str]]:
        """The workbook and a sheet per source: created (ids derived from the job, so a prepare that runs
        again finds them), or the matching sheets of the destination. Also the columns left out."""
        tenant, job = context.tenant, context.job
        if job.destination:
            return self._destination(context, job.destination, file, sources)
        workbook_id = ids.derived_id(ids.WORKBOOK, job.id, 'workbook')
        sheet_ids = [ids.derived_id(ids.SHEET, job.id, 'sheet', str(position)) for position in range(len(sources))]
        if not self._workbook_exists(context, workbook_id):
            body = WorkbookCreate(
                name=file['name'][:255],
                space_id=file['spaceId'],
                labels=['file'],
                sheets=_sheet_configs(sources),
            )
            try:
                self._workbooks.create(tenant, body, workbook_id=workbook_id, sheet_ids=sheet_ids)
            except NotFound as gone:
                raise OperationFailed(f'Space {file["spaceId"]} of file {file["id"]} no longer exists') from gone
            except Exception:
                if not self._workbook_exists(context, workbook_id):
                    raise  # not made by a twin of this step meanwhile: a real failure
        return workbook_id, sheet_ids, []

    def _workbook_exists(self, context: Context, workbook_id: str) -> bool:
        try:
            self._workbooks.get(context.tenant, workbook_id)
        except NotFound:
            return False
        return True

    def _destination(
        self, context: Context, workbook_id: str, file: dict[str, Any], sources: list[_Source]
    ) -> tuple[str, list[str], list[str]]:
        try:
            sheets = self._workbooks.sheets(context.tenant, workbook_id)
        except NotFound as missing:
            raise OperationFailed(f'Destination workbook {workbook_id} not found') from missing
        by_name = {name: sheet for sheet in sheets for name in (sheet.slug.casefold(), sheet.name.casefold())}
        chosen, ignored = [], []
        for source in sources:
            sheet = by_name.get(source.name.casefold()) or by_name.get(slugify(source.name))
            if sheet is None and len(sheets) == 1 and len(sources) == 1:
                sheet = sheets[0]
            if sheet is None:
                raise OperationFailed(
                    f'No sheet of workbook {workbook_id} is named like {source.name!r}; '
                    'name the sheet after the file (or the worksheet), or give no destination'
                )
            fields = SheetConfig.model_validate(sheet.config).fields
            columns = _columns(source.shape, fields)
            if not columns:
                raise OperationFailed(
                    f'None of the columns of {source.name!r} is a field of sheet {sheet.slug} (by key or label)'
                )
            shape = source.shape
            ignored += [key for name, key in zip(shape.names, shape.keys, strict=True) if name not in columns]
            chosen.append(sheet.id)
        return workbook_id, chosen, [name[:50] for name in ignored[:MAX_IGNORED_LISTED]]

    # ------------------------------------------------------------ process
    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        file = self._file(context)
        cursor = dict(cursor)
        done = 0
        while cursor['part'] < len(cursor['sheets']):
            finished, done = self._process_part(context, file, cursor, budget, done)
            if not finished:
                total, estimated = self._estimate(file, cursor)
                return Step(cursor=cursor, done_units=done, finished=False, total=total, estimated=estimated)
            cursor.update(part=cursor['part'] + 1, position=None, line=None, index=0)
        return Step(cursor=cursor, done_units=done, finished=True, total=sum(cursor['counts']))

    def _process_part(
        self, context: Context, file: dict[str, Any], cursor: dict[str, Any], budget: Budget, done: int
    ) -> tuple[bool, int]:
        """Read and write the current part's rows until it ends (True) or the budget does (False)."""
        part = cursor['part']
        worksheet, sheet_id = cursor['sheets'][part]
        fmt: Format = cursor['format']
        sheet = self._sheet(context, sheet_id)
        mark = high_water_mark(context.job.id, part)
        counted = int(sheet.item.get(mark, 0))
        data = self._whole(context, file) if fmt == 'xlsx' else None
        shape = self._xlsx_shape(context, data, worksheet) if data is not None else self._text_shape(context, file, fmt)
        layout = shape.layout
        columns = _columns(shape, sheet.config.fields)
        position = cursor['position'] if cursor['position'] is not None else layout.data_offset
        line = cursor['line'] if cursor['line'] is not None else layout.data_line
        stream = self._stream(context, file, fmt, position, data)
        stamp = int(context.job.created_at.timestamp() * 1000)
        salt = ids.salt_of(context.job.id, str(part))
        running = Running(self._jobs, context)
        batch: list[tuple[str, dict[str, Any]]] = []
        last: Row | None = None
        try:
            for row in rows(layout, stream, position, line):
                values = _values(row, columns, shape.nested)
                batch.append((ids.record_id_at(stamp, cursor['index'] + len(batch), salt), values))
                last = row
                if len(batch) < self._batch_rows:
                    continue
                self._write(context, sheet, cursor, batch, last, mark=mark, counted=counted, guard=running)
                done += len(batch)
                batch = []
                if done >= self._min_rows and budget.left() <= 0:
                    if fmt == 'json':
                        cursor['bytes'] = _tell(stream)
                    return False, done
            if batch and last is not None:
                self._write(context, sheet, cursor, batch, last, mark=mark, counted=counted, guard=running)
                done += len(batch)
        finally:
            stream.close()
        return True, done

    def _write(
        self,
        context: Context,
        sheet: 'SheetState',
        cursor: dict[str, Any],
        batch: list[tuple[str, dict[str, Any]]],
        last: Row,
        *,
        mark: str,
        counted: int,
        guard: Running,
    ) -> None:
        valid, error = self._records.import_batch_once(
            context.tenant,
            sheet,
            batch,
            start=cursor['index'],
            counted=counted,
            commit_id=commit_id_of(context.job.id, cursor['part']),
            mark=mark,
            guard=guard,
        )
        cursor['valid'] += valid
        cursor['error'] += error
        cursor['counts'][cursor['part']] += len(batch)
        cursor.update(index=cursor['index'] + len(batch), position=last.end, line=last.next_line)

    # ------------------------------------------------------------ finalize
    def finalize(self, context: Context, cursor: dict[str, Any]) -> Completion:
        tenant, job = context.tenant, context.job
        file = self._file(context)
        rows_total = sum(cursor['counts'])
        for part, (_, sheet_id) in enumerate(cursor['sheets']):
            sheet = self._sheet(context, sheet_id)
            if cursor['counts'][part]:
                self._records.record_commit(
                    tenant, sheet, 'insert', cursor['counts'][part], job_id=job.id, commit_id=commit_id_of(job.id, part)
                )
            self._records.finish_import(tenant, sheet_id, high_water_mark(job.id, part))
        sheet_ids = [sheet_id for _, sheet_id in cursor['sheets']]
        single = sheet_ids[0] if len(sheet_ids) == 1 else None
        self._files.extracted_into(tenant, file['id'], cursor['workbookId'], single)
        message = f'Extracted {rows_total:,} rows from {file["name"]}'
        if cursor['error']:
            message += f'; {cursor["error"]:,} have values to fix'
        if cursor['ignored']:
            message += f'; columns not in the sheet were left out: {", ".join(cursor["ignored"])}'
        outcome = {
            'message': message,
            'next': {'type': 'id', 'id': cursor['workbookId'], 'label': 'Open the workbook'},
        }
        config = {**(job.config or {}), 'driver': 'csv', 'detectedHeaderRow': cursor['headerRow']}
        result = {
            'workbookId': cursor['workbookId'],
            'sheetIds': sheet_ids,
            'rows': rows_total,
            'valid': cursor['valid'],
            'error': cursor['error'],
            'detectedHeaderRow': cursor['headerRow'],
        }
        return Completion(outcome=outcome, fields={'config': config, 'result': result})

    # ------------------------------------------------------------ reading
    def _file(self, context: Context) -> dict[str, Any]:
        file = self._files.item(context.tenant, context.job.source)
        if file is None:
            raise OperationFailed(f'File {context.job.source} not found')
        if file['status'] != 'complete':
            raise OperationFailed(f'File {file["id"]} is {file["status"]}: only a complete upload can be extracted')
        return file

    def _config(self, context: Context) -> FileJobConfig:
        try:
            return parse_config(FileJobConfig, context.job.config)
        except ValueError as invalid:
            raise OperationFailed(f'The job config cannot be used: {invalid}') from invalid

    def _text_shape(self, context: Context, file: dict[str, Any], fmt: Format) -> _Shape:
        options = self._config(context).options or {}
        key = file_key(context.tenant.environment_id, file['id'])
        head = self._objects.get_range(key, 0, SNIFF_BYTES - 1)
        if not head.strip():
            raise OperationFailed(f'{file["name"]} is empty')
        layout = layout_of(fmt, head, header_row=options.get('headerRow'), delimiter=options.get('delimiter'))
        if fmt not in {'json', 'jsonl'}:
            layout = replace(layout, headers=_keys(layout.headers))
            return _Shape(layout, layout.headers, layout.headers)
        sample: list[dict[str, Any]] = []
        with self._objects.reader(key) as stream:
            for row in rows(layout, stream, 0, 1):
                sample.append(row.values)
                if len(sample) >= JSON_KEY_SAMPLE:
                    break
        names = json_keys(sample)
        if not names:
            raise OperationFailed(f'{file["name"]} holds no objects with keys')
        return _Shape(layout, names, _keys(names), nested=True)

    def _xlsx_shape(self, context: Context, data: bytes, worksheet: int) -> _Shape:
        options = self._config(context).options or {}
        layout = layout_of('xlsx', b'', io.BytesIO(data), worksheet=worksheet, header_row=options.get('headerRow'))
        layout = replace(layout, headers=_keys(layout.headers))
        return _Shape(layout, layout.headers, layout.headers)

    def _whole(self, context: Context, file: dict[str, Any]) -> bytes:
        if int(file['size']) > MAX_XLSX_BYTES:
            raise OperationFailed(
                f'{file["name"]} is {int(file["size"]):,} bytes; an XLSX file is read whole, so at most '
                f'{MAX_XLSX_BYTES:,}. Save it as CSV and upload that.'
            )
        key = file_key(context.tenant.environment_id, file['id'])
        cached = _LAST_WHOLE.get(key)
        if cached is None:
            data = self._objects.get(key)
            if data is None:
                raise OperationFailed(f'The bytes of file {file["id"]} are no longer in storage')
            _LAST_WHOLE.clear()
            _LAST_WHOLE[key] = cached = data
        return cached

    def _stream(
        self, context: Context, file: dict[str, Any], fmt: Format, position: int, data: bytes | None
    ) -> IO[bytes]:
        if data is not None:
            return io.BytesIO(data)
        key = file_key(context.tenant.environment_id, file['id'])
        return self._objects.reader(key, position if fmt in _TEXT else 0)

    def _sheet(self, context: Context, sheet_id: str) -> 'SheetState':
        try:
            return self._records.sheet(context.tenant, sheet_id)
        except NotFound as gone:
            raise OperationFailed(f'Sheet {sheet_id} was deleted while the file was extracted') from gone

    @staticmethod
    def _estimate(file: dict[str, Any], cursor: dict[str, Any]) -> tuple[int | None, bool]:
        """The rows the file holds, estimated from the bytes read so far (text formats and JSON), or
        None (XLSX, whose total is known from the start)."""
        if cursor['format'] == 'xlsx':
            return None, False
        read = int(cursor.pop('bytes', 0) or 0) if cursor['format'] == 'json' else int(cursor['position'] or 0)
        size = int(file['size'])
        rows_read = sum(cursor['counts'])
        if read <= 0 or rows_read <= 0:
            return None, True
        return max(rows_read, round(rows_read * size / read)), True


# The workbook an XLSX extract reads at every step (the last one read stays, as its key names the file).
_LAST_WHOLE: dict[str, bytes] = {}


def commit_id_of(job_id: str, part: int) -> str:
    """The commit of the records a job imports into its `part`-th sheet (the same when a step runs again)."""
    return ids.derived_id(ids.COMMIT, job_id, 'commit', str(part))


def _tell(stream: IO[bytes]) -> int:
    """How far into the file a reader from its start is (0 when it cannot tell)."""
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


def _base_name(name: str) -> str:
    base = name.rsplit('.', 1)[0] if '.' in name.strip('.') else name
    return base.strip() or 'Sheet1'


def _keys(headers: tuple[str, ...]) -> tuple[str, ...]:
    """Headers as field keys: without control characters, at most 255 characters, MAX_FIELDS of them."""
    if len(headers) > MAX_FIELDS:
        raise OperationFailed(f'The file has {len(headers):,} columns; a sheet holds at most {MAX_FIELDS:,} fields')
    keys: list[str] = []
    for header in headers:
        key = _CONTROL.sub(' ', header).strip()[:255] or f'column_{len(keys) + 1}'
        while key in keys:
            key = f'{key[:250]}_{len(keys) + 1}'
        keys.append(key)
    return tuple(keys)


def _sheet_configs(sources: list[_Source]) -> list[SheetConfig]:
    configs = []
    slugs: set[str] = set()
    for source in sources:
        slug = slugify(source.name)
        while slug in slugs:
            slug = f'{slug[:120]}-{len(slugs) + 1}'
        slugs.add(slug)
        fields = [{'key': key, 'label': key, 'type': 'string'} for key in source.shape.keys]
        configs.append(SheetConfig.model_validate({'name': source.name[:255], 'slug': slug, 'fields': fields}))
    return configs


def _columns(shape: _Shape, fields: list[Any]) -> dict[str, str]:
    """Each column (by the name its rows carry) whose key names a field (as is, then by the field's
    key or label regardless of case) → that field's key."""
    keys = {field.key for field in fields}
    folded: dict[str, str] = {}
    for field in fields:
        folded.setdefault(field.key.casefold(), field.key)
    for field in fields:
        if field.label:
            folded.setdefault(field.label.casefold(), field.key)
    columns: dict[str, str] = {}
    taken: set[str] = set()
    for name, header in zip(shape.names, shape.keys, strict=True):
        key = header if header in keys else folded.get(header.casefold())
        if key is not None and key not in taken:
            columns[name] = key
            taken.add(key)
    return columns


def _values(row: Row, columns: dict[str, str], nested: bool) -> dict[str, Any]:
    """A row's values by field key: empty cells left out; JSON objects flattened, lists and objects
    within them kept as JSON text."""
    values: dict[str, Any] = {}
    for name, value in (flatten(row.values) if nested else row.values).items():
        key = columns.get(name)
        if key is None or value is None or value == '':
            continue
        values[key] = json.dumps(value, separators=(',', ':')) if isinstance(value, list | dict) else value
    return values
