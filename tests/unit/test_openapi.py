"""The committed openapi.json is what the code generates: clients and docs never drift from the API."""

import json

from jobs_local.openapi import document
from tests.builders import ROOT


def test_committed_openapi_matches_the_code():
    committed = (ROOT / 'openapi.json').read_text()
    assert json.loads(committed) == json.loads(document()), 'openapi.json is stale: run `make openapi`'


def test_every_flatfile_job_endpoint_is_documented():
    paths = json.loads(document())['paths']
    expected = {
        ('/v1/jobs', 'get'),
        ('/v1/jobs', 'post'),
        ('/v1/jobs/{jobId}', 'get'),
        ('/v1/jobs/{jobId}', 'patch'),
        ('/v1/jobs/{jobId}', 'delete'),
        *{
            (f'/v1/jobs/{{jobId}}/{action}', 'post')
            for action in ('execute', 'ack', 'complete', 'fail', 'cancel', 'retry', 'outcome/ack')
        },
    }
    documented = {(path, method) for path, methods in paths.items() for method in methods}
    assert expected <= documented
