"""`jobs plan JOB_ID`: a map job's plan, read and adjusted an edge at a time (`--map`, `--unmap`)."""

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from jobs_cli.connection import ApiKey, ApiUrl, AsJson, ProfileName, api, data_json, fail, out, print_json
from jobs_cli.jobs_commands import JobId
from jobs_core.models.plan import Edge, JobPlan, Property


def register(app: typer.Typer) -> None:
    app.command(name='plan', rich_help_panel='Jobs')(plan)


def plan(
    job_id: JobId,
    *,
    mapped: Annotated[
        list[str] | None,
        typer.Option('--map', help='SOURCE=DESTINATION: feed the destination field from the source field (repeatable)'),
    ] = None,
    unmapped: Annotated[
        list[str] | None, typer.Option('--unmap', help='DESTINATION: leave the destination field unmapped (repeatable)')
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    profile: ProfileName = None,
    as_json: AsJson = False,
) -> None:
    """Show a map job's plan; with --map or --unmap, change those edges first (PATCH /plan)."""
    pairs = [_pair(given) for given in mapped or ()]
    with api(api_url, api_key, profile, as_json) as client:
        found = client.jobs.get_plan(job_id)
        if pairs or unmapped:
            edges = _adjusted(found.plan.field_mapping, pairs, set(unmapped or ()))
            found = client.jobs.update_plan(job_id, field_mapping=edges)
    if as_json:
        print_json(data_json(found))
        return
    out.print(_view(found))


def _pair(given: str) -> tuple[str, str]:
    source, separator, destination = given.partition('=')
    if not separator or not source or not destination:
        fail(f'--map takes SOURCE=DESTINATION (field keys), not {given!r}')
    return source, destination


def _adjusted(edges: list[Edge], pairs: list[tuple[str, str]], unmapped: set[str]) -> list[Edge]:
    """The edges with each pair's destination fed by its source instead, and the unmapped dropped."""
    fed = {destination for _, destination in pairs} | unmapped
    kept = [edge for edge in edges if edge.destination_field.key not in fed]
    added = [
        Edge(source_field=Property(key=source), destination_field=Property(key=destination))
        for source, destination in pairs
    ]
    return kept + added


def _view(found: JobPlan) -> Table:
    table = Table(
        title=f'{found.job.id}  {found.job.status}  {escape(found.job.info or "")}',
        title_justify='left',
        header_style='bold',
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
    )
    for column in ('SOURCE', 'DESTINATION', 'CERTAINTY', 'PREVIEW'):
        table.add_column(column, overflow='ellipsis', no_wrap=column != 'PREVIEW')
    for edge in found.plan.field_mapping:
        metadata = edge.metadata
        sure = metadata.certainty or metadata.source or '' if metadata else ''
        if metadata and metadata.confidence is not None:
            sure += f' {metadata.confidence:.2f}'
        table.add_row(
            escape(edge.source_field.key),
            escape(edge.destination_field.key),
            sure,
            escape(', '.join(edge.preview or [])),
        )
    for source in found.plan.unmapped_source_fields:
        table.add_row(escape(source.source_field.key), '[dim]unmapped[/]', '', escape(', '.join(source.preview or [])))
    for destination in found.plan.unmapped_destination_fields:
        table.add_row('[dim]unmapped[/]', escape(destination.destination_field.key), '', '')
    return table
