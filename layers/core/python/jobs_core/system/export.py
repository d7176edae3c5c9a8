"""`sheet:export`, `workbook:export`: records to a file in S3, registered as a file with mode `export`.

- CSV (the default): one file per sheet, the fields' labels as the header row, the records in
  insertion order (or sorted by `sortField`). Written by an S3 multipart upload as it is produced:
  a part goes up each time PART_BYTES are buffered, so memory holds one part and one page of
  records whatever the sheet's size. A step ends only right after a part went up (nothing buffered
  is lost between invocations); the cursor keeps the upload id, the next part number and the
  record cursor. A step that runs again uploads the same part numbers again (S3 keeps the last
  one), and the parts S3 lists past the last one this run wrote are left out when the upload is
  completed; a retried job starts a new upload (an abandoned one is removed by the bucket's
  lifecycle rule).
- XLSX (`options.format: 'xlsx'`, or `format: 'xlsx'` in the config; an extension): one workbook with a worksheet
  per sheet, written by xlsxwriter in constant_memory mode to a temporary file, then uploaded in
  parts from disk. xlsxwriter cannot carry a workbook over to another invocation, so an XLSX export
  is written in one process step; a sheet holds at most Excel's 1,048,575 data rows.
- Sorting by a field reads the selected records first (at most SORT_LIMIT), so a sorted export is
  also written in one step.

The outcome's `next` is a `download` (a presigned URL, valid for an hour, and the file name) for one
file, or `files` for the files of a workbook's sheets; GET /v1/files/{id}/download gives a new URL.
"""

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from jobs_core import ids
from jobs_core.errors import NotFound
from jobs_core.object_store import file_key
from jobs_core.system.configs import ExportJobConfig, ExportOptions, parse_config
from jobs_core.system.operations import Budget, Completion, Context, OperationFailed, Plan, Step
from jobs_core.system.selection import Chosen, check_fields, chosen, read_page

if TYPE_CHECKING:
    from jobs_core.files import FileService
    from jobs_core.models.workbook import SheetField
    from jobs_core.object_store import ObjectStore
    from jobs_core.records import RecordService, Stored
    from jobs_core.sheets import SheetState
    from jobs_core.workbooks import WorkbookService

PART_BYTES: Final = 8 * 1024 * 1024
PAGE_SIZE: Final = 1000
# A step writes at least this many records (unless the export ends) before it yields to its budget.
MIN_RECORDS_PER_STEP: Final = 20_000
SORT_LIMIT: Final = 100_000
XLSX_ROW_LIMIT: Final = 1_048_575  # Excel's rows per worksheet, less the header row
XLSX_CELL_CHARACTERS: Final = 32_767
LINK_SECONDS: Final = 3600
CSV_TYPE: Final = 'text/csv'
XLSX_TYPE: Final = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
_UNSAFE_NAME: Final = re.compile(r'[/\\\x00-\x1f]+')
_WORKSHEET_UNSAFE: Final = re.compile(r'[\[\]:*?/\\]+')


@dataclass(frozen=True, slots=True)
class _Sheet:
    state: 'SheetState'
    fields: list['SheetField']


class Export:
    """An Operation (jobs_core.system.operations). Cursor: the format, the sheet ids, the part (sheet)
    being written, the record cursor after the last part sent, the upload id and next part number,
    the bytes sent, the records written, and the export files made so far."""

    def __init__(
        self,
        files: 'FileService',
        objects: 'ObjectStore',
        records: 'RecordService',
        workbooks: 'WorkbookService',
        *,
        part_bytes: int = PART_BYTES,
        page_size: int = PAGE_SIZE,
        min_records: int = MIN_RECORDS_PER_STEP,
    ) -> None:
        self._files = files
        self._objects = objects
        self._records = records
        self._workbooks = workbooks
        self._part_bytes = part_bytes
        self._page_size = page_size
        self._min_records = min_records

    # ------------------------------------------------------------ prepare
    def prepare(self, context: Context) -> Plan:
        options = self._options(context)
        file_format = self._config(context).file_format
        sheets = self._sheets(context)
        selected = _chosen(options)
        total, estimated = 0, False
        for sheet in sheets:
            check_fields(sheet, options.filter_field, options.search_field, options.sort_field)
            count, narrowed = selected.estimate(sheet)
            total, estimated = total + count, estimated or narrowed
            if file_format == 'xlsx' and count > XLSX_ROW_LIMIT and not narrowed:
                raise OperationFailed(
                    f'Sheet {sheet.slug} has {count:,} records; an XLSX worksheet holds at most {XLSX_ROW_LIMIT:,}. '
                    'Export it as CSV.'
                )
        cursor: dict[str, Any] = {
            'format': file_format,
            'sheets': [sheet.id for sheet in sheets],
            'part': 0,
            'after': None,
            'uploadId': None,
            'partNumber': 1,
            'size': 0,
            'rows': 0,
            'files': [],
        }
        return Plan(total=total, unit='records', verb='Exported', cursor=cursor, estimated=estimated)

    # ------------------------------------------------------------ process
    def process(self, context: Context, cursor: dict[str, Any], budget: Budget) -> Step:
        cursor = dict(cursor)
        if cursor['format'] == 'xlsx':
            done = self._xlsx(context, cursor)
            return Step(cursor=cursor, done_units=done, finished=True)
        done = 0
        while cursor['part'] < len(cursor['sheets']):
            finished, done = self._csv_part(context, cursor, budget, done)
            if not finished:
                return Step(cursor=cursor, done_units=done, finished=False)
            cursor.update(part=cursor['part'] + 1, after=None, uploadId=None, partNumber=1, size=0)
        return Step(cursor=cursor, done_units=done, finished=True)

    def _csv_part(self, context: Context, cursor: dict[str, Any], budget: Budget, done: int) -> tuple[bool, int]:
        """Write the current sheet's CSV on from the cursor: True once its file is complete, False when
        the budget ran out (right after a part was sent)."""
        options = self._options(context)
        sheet = self._sheet(context, cursor['sheets'][cursor['part']])
        name = f'{_file_name(sheet.state.name)}.csv'
        file = self._export_file(context, sheet.state, name, CSV_TYPE, part=sheet.state.id, sheet_id=sheet.state.id)
        key = file_key(context.tenant.environment_id, file['id'])
        resumable = options.sort_field is None  # a sorted export is written in one step
        # UTF-8 bytes as they are written (a str buffer would hold 4 bytes a character of some text).
        buffer = io.BytesIO()
        text = io.TextIOWrapper(buffer, encoding='utf-8', newline='', write_through=True)
        writer = csv.writer(text)
        if cursor['after'] is None and cursor['partNumber'] == 1:
            writer.writerow([field.label or field.key for field in sheet.fields])
        for page, after, last in self._pages(context, sheet, options, cursor['after']):
            for record in page:
                writer.writerow([_text(record['values'].get(field.key)) for field in sheet.fields])
            done += len(page)
            cursor['rows'] += len(page)
            if buffer.tell() >= self._part_bytes and not last:
                self._send_part(key, cursor, buffer)
                cursor['after'] = after
                if resumable and done >= self._min_records and budget.left() <= 0:
                    return False, done
        self._send_last(key, cursor, buffer.getvalue(), CSV_TYPE)
        text.detach()
        self._files.finish_export(context.tenant, file['id'], cursor['size'])
        cursor['files'] = [*cursor['files'], file['id']]
        return True, done

    def _send_part(self, key: str, cursor: dict[str, Any], buffer: io.BytesIO) -> None:
        data = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if cursor['uploadId'] is None:
            cursor['uploadId'] = self._objects.start_multipart(key, CSV_TYPE)
        self._objects.upload_part(key, cursor['uploadId'], cursor['partNumber'], data)
        cursor['partNumber'] += 1
        cursor['size'] += len(data)

    def _send_last(self, key: str, cursor: dict[str, Any], data: bytes, content_type: str) -> None:
        """The rest: one PUT when no part went up yet, else the last part, and the upload completed
        with the parts this run sent (a part a failed run sent past them is left out)."""
        if cursor['uploadId'] is None:
            self._objects.put(key, data, content_type)
            cursor['size'] += len(data)
            return
        if data or cursor['partNumber'] == 1:
            self._objects.upload_part(key, cursor['uploadId'], cursor['partNumber'], data)
            cursor['partNumber'] += 1
            cursor['size'] += len(data)
        parts = self._objects.uploaded_parts(key, cursor['uploadId'])
        self._objects.finish_multipart(
            key, cursor['uploadId'], [(number, etag) for number, etag in parts if number < cursor['partNumber']]
        )

    def _pages(
        self, context: Context, sheet: _Sheet, options: ExportOptions, after: Any
    ) -> Iterator[tuple[list['Stored'], Any, bool]]:
        """Pages of the records to write, with the cursor after each and whether it is the last."""
        selected = _chosen(options)
        if options.sort_field is not None:
            ordered = self._sorted(context, sheet, selected, options)
            for start in range(0, len(ordered), self._page_size):
                yield ordered[start : start + self._page_size], None, start + self._page_size >= len(ordered)
            if not ordered:
                yield [], None, True
            return
        while True:
            page, after, last = read_page(
                self._records, context.tenant, sheet.state, selected, after, page_size=self._page_size
            )
            yield page, after, last
            if last:
                return

    def _sorted(self, context: Context, sheet: _Sheet, selected: Chosen, options: ExportOptions) -> list['Stored']:
        matching: list[Stored] = []
        after: Any = None
        while True:
            page, after, last = read_page(
                self._records, context.tenant, sheet.state, selected, after, page_size=self._page_size
            )
            matching += page
            if len(matching) > SORT_LIMIT:
                raise OperationFailed(
                    f'An export sorted by a field holds at most {SORT_LIMIT:,} records; '
                    'narrow it with a filter, or export it unsorted'
                )
            if last:
                break
        key = options.sort_field or ''
        present = [record for record in matching if record['values'].get(key) not in (None, '')]
        absent = [record for record in matching if record['values'].get(key) in (None, '')]
        present.sort(key=lambda record: _sort_key(record['values'][key]), reverse=options.sort_direction == 'desc')
        return present + absent

    # ------------------------------------------------------------ XLSX
    def _xlsx(self, context: Context, cursor: dict[str, Any]) -> int:
        import xlsxwriter  # noqa: PLC0415 - only XLSX exports need it

        options = self._options(context)
        sheets = [self._sheet(context, sheet_id) for sheet_id in cursor['sheets']]
        name = f'{self._export_name(context, sheets)}.xlsx'
        single = sheets[0].state.id if len(sheets) == 1 else None
        file = self._export_file(context, sheets[0].state, name, XLSX_TYPE, part='xlsx', sheet_id=single)
        key = file_key(context.tenant.environment_id, file['id'])
        done = 0
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / 'export.xlsx'
            book = xlsxwriter.Workbook(str(path), {'constant_memory': True, 'tmpdir': scratch})
            titles: set[str] = set()
            for sheet in sheets:
                worksheet = book.add_worksheet(_worksheet_name(sheet.state.name, titles))
                worksheet.write_row(0, 0, [field.label or field.key for field in sheet.fields])
                row = 1
                for page, _, _ in self._pages(context, sheet, options, None):
                    for record in page:
                        if row > XLSX_ROW_LIMIT:
                            raise OperationFailed(
                                f'Sheet {sheet.state.slug} has more than {XLSX_ROW_LIMIT:,} records to export; '
                                'an XLSX worksheet holds no more. Export it as CSV.'
                            )
                        values = [_cell(record['values'].get(field.key)) for field in sheet.fields]
                        worksheet.write_row(row, 0, values)
                        row += 1
                    done += len(page)
            book.close()
            self._upload_file(key, path, cursor)
        cursor['rows'] += done
        self._files.finish_export(context.tenant, file['id'], cursor['size'])
        cursor['files'] = [file['id']]
        return done

    def _upload_file(self, key: str, path: Path, cursor: dict[str, Any]) -> None:
        with path.open('rb') as source:
            while True:
                data = source.read(self._part_bytes)
                if len(data) < self._part_bytes:
                    self._send_last(key, cursor, data, XLSX_TYPE)
                    return
                if cursor['uploadId'] is None:
                    cursor['uploadId'] = self._objects.start_multipart(key, XLSX_TYPE)
                self._objects.upload_part(key, cursor['uploadId'], cursor['partNumber'], data)
                cursor['partNumber'] += 1
                cursor['size'] += len(data)

    # ------------------------------------------------------------ finalize
    def finalize(self, context: Context, cursor: dict[str, Any]) -> Completion:
        files = [item for file_id in cursor['files'] if (item := self._files.item(context.tenant, file_id))]
        if len(files) != len(cursor['files']):
            raise OperationFailed('An exported file was deleted before the export finished; run the export again')
        rows = int(cursor['rows'])
        if len(files) == 1:
            url = self._files.download_link(context.tenant, files[0], LINK_SECONDS)
            nxt: dict[str, Any] = {'type': 'download', 'url': url, 'fileName': files[0]['name'], 'label': 'Download'}
            message = f'Exported {rows:,} records to {files[0]["name"]}'
        else:
            nxt = {
                'type': 'files',
                'files': [{'fileId': file['id'], 'label': file['name']} for file in files],
                'label': 'Download',
            }
            message = f'Exported {rows:,} records to {len(files)} files'
        result = {'fileIds': [file['id'] for file in files], 'rows': rows}
        return Completion(outcome={'message': message, 'next': nxt}, fields={'result': result})

    # ------------------------------------------------------------ helpers
    def _options(self, context: Context) -> ExportOptions:
        return self._config(context).options

    def _config(self, context: Context) -> ExportJobConfig:
        try:
            return parse_config(ExportJobConfig, context.job.config)
        except ValueError as invalid:
            raise OperationFailed(f'The job config cannot be used: {invalid}') from invalid

    def _sheets(self, context: Context) -> list['SheetState']:
        tenant, job = context.tenant, context.job
        if job.type == 'sheet':
            return [self._sheet(context, job.source).state]
        try:
            sheets = self._workbooks.sheets(tenant, job.source)
        except NotFound as missing:
            raise OperationFailed(f'Workbook {job.source} not found') from missing
        if not sheets:
            raise OperationFailed(f'Workbook {job.source} has no sheets to export')
        return [self._sheet(context, sheet.id).state for sheet in sheets]

    def _sheet(self, context: Context, sheet_id: str) -> _Sheet:
        try:
            state = self._records.sheet(context.tenant, sheet_id)
        except NotFound as missing:
            raise OperationFailed(f'Sheet {sheet_id} not found') from missing
        return _Sheet(state, list(state.config.fields))

    def _export_name(self, context: Context, sheets: list[_Sheet]) -> str:
        if context.job.type == 'sheet':
            return _file_name(sheets[0].state.name)
        try:
            return _file_name(self._workbooks.get(context.tenant, context.job.source).name)
        except NotFound as missing:
            raise OperationFailed(f'Workbook {context.job.source} not found') from missing

    def _export_file(
        self, context: Context, state: 'SheetState', name: str, mimetype: str, *, part: str, sheet_id: str | None
    ) -> dict[str, Any]:
        """The job's file for `part` (its id derived from the job: a step that runs again finds it)."""
        return self._files.export_file(
            context.tenant,
            file_id=ids.derived_id(ids.FILE, context.job.id, 'export', part),
            space_id=state.space_id,
            name=name,
            mimetype=mimetype,
            workbook_id=state.workbook_id,
            sheet_id=sheet_id,
        )


def _chosen(options: ExportOptions) -> Chosen:
    return chosen(options, options.ids)


def _file_name(name: str) -> str:
    return _UNSAFE_NAME.sub('-', name).strip()[:200] or 'export'


def _worksheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique regardless of case."""
    base = _WORKSHEET_UNSAFE.sub('-', name).strip("'")[:31] or 'Sheet'
    title, count = base, 1
    while title.casefold() in taken:
        count += 1
        title = f'{base[: 31 - len(str(count)) - 1]}-{count}'
    taken.add(title.casefold())
    return title


def _text(value: Any) -> str:
    """A stored value as CSV text: empty for none, true/false, lists joined with a comma."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ', '.join(_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(',', ':'))
    return str(value)


def _cell(value: Any) -> Any:
    """A stored value as an XLSX cell: numbers and booleans as such, text at most 32,767 characters."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(value)[:XLSX_CELL_CHARACTERS]


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).casefold())
