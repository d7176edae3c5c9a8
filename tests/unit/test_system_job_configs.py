"""A managed system job's config is checked when it is created: 400 then, not a failed job later."""

import pytest


@pytest.mark.parametrize(
    ('job', 'config', 'message'),
    [
        ('sheet:find-replace', None, 'config of sheet:find-replace: fieldKey: Field required'),
        ('sheet:find-replace', {'fieldKey': 'a', 'find': {'x': 1}}, 'find is a cell value'),
        ('sheet:delete-records', {'filter': 'some'}, "filter: Input should be 'valid', 'error', 'all' or 'none'"),
        ('sheet:delete-records', {'filtr': 'valid'}, 'filtr: Extra inputs are not permitted'),
        ('sheet:delete-records', {'q': 'name like "a%"'}, 'q (FFQL) is not supported'),
        ('sheet:delete-records', {'filterField': 'email'}, 'filterField narrows filter valid or error'),
        ('workbook:delete-records', {'filter': 'all'}, 'sheet (the id of the sheet) is required'),
        ('sheet:export', {'options': {'commitId': 'us_vr_1'}}, 'exporting a past version'),
        ('workbook:export', {'options': {'format': 'pdf'}}, "format: Input should be 'csv' or 'xlsx'"),
        ('workbook:export', {'options': {'ids': 'us_rc_1'}}, 'options.ids: Input should be a valid list'),
        ('file:extract', {'driver': 'xml'}, "driver: Input should be 'csv'"),
        ('file:extract', {'options': {'headerRow': -1}}, 'options.headerRow is the 0-based row'),
        ('file:extract', {'options': {'delimiter': ';;'}}, 'options.delimiter is one character'),
    ],
)
def test_a_config_its_operation_cannot_run_is_refused(api, job, config, message):
    job_type, operation = job.split(':')
    body = {'type': job_type, 'operation': operation, 'source': 'us_sh_1', 'trigger': 'immediate', 'config': config}
    reply = api('POST', '/v1/jobs', body)
    assert reply.status == 400, reply.body
    assert reply.error_keys == ['config']
    assert message in reply.body['errors'][0]['message']


@pytest.mark.parametrize(
    ('job', 'config'),
    [
        ('sheet:find-replace', {'fieldKey': 'email', 'find': '"a"', 'replace': 'b', 'ids': ['us_rc_1']}),
        ('workbook:delete-records', {'sheet': 'us_sh_1', 'filter': 'none', 'exceptions': ['us_rc_1']}),
        ('sheet:export', {'options': {'filter': 'valid', 'sortField': 'name', 'sortDirection': 'desc'}}),
        ('workbook:export', {'format': 'xlsx'}),
        ('sheet:export', None),
        ('file:extract', {'driver': 'csv', 'options': {'headerRow': 2, 'delimiter': ';'}}),
        ('file:extract', None),
    ],
)
def test_flatfiles_configs_are_accepted(api, job, config):
    job_type, operation = job.split(':')
    body = {'type': job_type, 'operation': operation, 'source': 'us_sh_1', 'config': config}
    reply = api('POST', '/v1/jobs', body)
    assert reply.status == 201, reply.body
    assert reply.data['managed'] is True


def test_a_system_job_a_listener_runs_is_not_checked(api):
    # managed: false means the caller runs it: its config is the caller's business, as for custom jobs
    body = {'type': 'sheet', 'operation': 'find-replace', 'source': 'us_sh_1', 'managed': False, 'config': {'x': 1}}
    assert api('POST', '/v1/jobs', body).status == 201
