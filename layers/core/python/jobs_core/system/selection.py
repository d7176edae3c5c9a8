"""Which records a system job acts on, from the record query of its config (spec §4: filter,
filterField, searchField, searchValue, and ids: "INCLUDE when no filter, EXCLUDE when filtering"),
read a page at a time from a cursor small enough for the job's payload.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jobs_core.errors import BadRequest
from jobs_core.models.record import RecordQuery
from jobs_core.system.operations import OperationFailed

if TYPE_CHECKING:
    from jobs_core.models.tenant import Tenant
    from jobs_core.records import RecordService, Stored
    from jobs_core.sheets import SheetState
    from jobs_core.system.configs import RecordSelection

PAGE_SIZE: Final = 1000


@dataclass(frozen=True, slots=True)
class Chosen:
    """A record query; and either exactly the records `include` names, or all it selects but `exclude`."""

    query: RecordQuery
    include: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()

    def estimate(self, sheet: 'SheetState') -> tuple[int, bool]:
        """How many records this selects, from the sheet's counts (exact, or an upper bound: True)."""
        if self.include is not None:
            return len(self.include), False
        counts = sheet.counts
        by_filter = {'valid': counts.valid, 'error': counts.error, 'all': counts.total, 'none': 0}
        count = by_filter[self.query.filter]
        narrowed = self.query.search_value is not None or self.query.filter_field is not None or bool(self.exclude)
        return count, narrowed


def chosen(
    config: 'RecordSelection',
    ids: list[str] | None,
    *,
    include_when_unfiltered: bool = True,
    filter_none_includes: bool = False,
) -> Chosen:
    """`ids` name the records when nothing filters (or, with `filter_none_includes`, when the filter is
    none: delete-records' exceptions); otherwise they are the records left out."""
    query = RecordQuery(
        filter=config.filter or 'all',
        filter_field=config.filter_field,
        search_field=config.search_field,
        search_value=config.search_value,
    )
    if filter_none_includes and config.filter == 'none':
        return Chosen(query, include=tuple(dict.fromkeys(ids or ())))
    unfiltered = config.filter is None and config.search_value is None
    if ids and unfiltered and include_when_unfiltered:
        return Chosen(query, include=tuple(dict.fromkeys(ids)))
    return Chosen(query, exclude=frozenset(ids or ()))


def check_fields(sheet: 'SheetState', *keys: str | None) -> None:
    for key in keys:
        if key is not None and key not in sheet.fields:
            raise OperationFailed(f'{key!r} is not a field of sheet {sheet.slug}')


def read_page(
    records: 'RecordService',
    tenant: 'Tenant',
    sheet: 'SheetState',
    selected: Chosen,
    after: Any,
    *,
    page_size: int = PAGE_SIZE,
) -> tuple[list['Stored'], Any, bool]:
    """One page of the selected records from the cursor `after` (None at first), the cursor after it,
    and whether it was the last."""
    if selected.include is not None:
        offset = int(after or 0)
        wanted = list(selected.include[offset : offset + page_size])
        found = records.found(tenant, sheet, wanted) if wanted else {}
        following = offset + len(wanted)
        return (
            [found[record_id] for record_id in wanted if record_id in found],
            following,
            following >= len(selected.include),
        )
    try:
        page, token = records.select(tenant, sheet, selected.query, after=after, page_size=page_size)
    except BadRequest as refused:
        raise OperationFailed(refused.message) from refused
    kept = [record for record in page if record['id'] not in selected.exclude] if selected.exclude else page
    return kept, token, token is None
