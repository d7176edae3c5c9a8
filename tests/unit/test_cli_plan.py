"""`jobs plan`: a map job's plan shown as a table (or the API's JSON), and adjusted an edge at a time."""

from jobs_core.data_jobs import data_plane
from tests.builders import TENANT
from tests.unit.cli_fixtures import cli_fixture  # noqa: F401 - fixtures
from tests.unit.data_fixtures import data_api_fixture  # noqa: F401 - fixtures
from tests.unit.sdk_fixtures import events_table_fixture  # noqa: F401 - fixtures

SOURCE = {
    'name': 'Upload',
    'slug': 'upload',
    'fields': [{'key': key, 'type': 'string'} for key in ('Name', 'E-mail', 'Age', 'Notes')],
}


def planned_job(cli) -> str:
    """A map job from an uploaded sheet onto the contacts sheet, planned as the dispatcher plans it."""
    source = cli.data.workbook(name='Upload', sheets=[SOURCE], actions=[])['sheets'][0]
    assert cli.data.insert(source['id'], [{'Name': 'Ann', 'E-mail': 'a@x', 'Age': '31', 'Notes': 'hi'}]).status == 201
    destination = cli.data.sheet()
    reply = cli.data.call(
        'POST',
        '/v1/jobs',
        {
            'type': 'workbook',
            'operation': 'map',
            'source': source['workbookId'],
            'destination': destination['workbookId'],
            'config': {'sourceSheetId': source['id'], 'destinationSheetId': destination['id']},
        },
    )
    assert reply.status == 201, reply.body
    plane = data_plane()
    plane.plans.plan(TENANT, plane.jobs.get(TENANT, reply.data['id']))
    return str(reply.data['id'])


def test_the_plan_shows_each_edge_with_its_certainty_and_preview_and_the_unmapped(cli):
    job_id = planned_job(cli)
    result = cli('plan', job_id)
    assert result.exit_code == 0, result.output
    lines = [' '.join(line.split()) for line in result.stdout.splitlines()]
    assert f'{job_id} planning Plan ready: 3 of 5 destination fields mapped' in lines[0]
    assert 'Name name absolute 1.00 Ann' in lines
    assert 'E-mail email absolute 1.00 a@x' in lines
    assert 'Notes unmapped hi' in lines
    assert 'unmapped active' in lines and 'unmapped tier' in lines


def test_map_and_unmap_change_those_edges_only(cli):
    job_id = planned_job(cli)
    changed = cli.json('plan', job_id, '--map', 'Notes=tier', '--unmap', 'email')['data']['plan']
    assert {edge['sourceField']['key']: edge['destinationField']['key'] for edge in changed['fieldMapping']} == {
        'Name': 'name',
        'Age': 'age',
        'Notes': 'tier',
    }
    patch = [request for request in cli.requests if request.method == 'PATCH']
    assert len(patch) == 1 and patch[0].url.path == f'/v1/jobs/{job_id}/plan'


def test_a_bad_edge_is_the_apis_400_in_one_line_and_a_bad_option_is_refused_before_any_call(cli):
    job_id = planned_job(cli)
    result = cli('plan', job_id, '--map', 'Nope=name')
    assert result.exit_code == 1
    assert "'Nope' is not a field of source sheet upload" in result.output
    sent = len(cli.requests)
    result = cli('plan', job_id, '--map', 'Name')
    assert result.exit_code == 1
    assert '--map takes SOURCE=DESTINATION' in result.output
    assert len(cli.requests) == sent
