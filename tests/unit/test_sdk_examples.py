"""The examples load as listeners without a network or an API key (their clients are made on first
use), and each one asks EventBridge for the events it handles."""

from pathlib import Path

import pytest

from jobs_sdk.loading import load_listeners
from tests.builders import TENANT
from tests.unit.sdk_fixtures import events_table_fixture, sdk_fixture  # noqa: F401 - fixtures

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / 'examples').glob('*.py'))


@pytest.mark.parametrize('path', EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_each_example_is_one_listener_with_patterns(path, monkeypatch):
    monkeypatch.delenv('JOBS_API_URL', raising=False)
    monkeypatch.delenv('JOBS_API_KEY', raising=False)
    (listener,) = load_listeners(path)
    patterns = listener.event_patterns()
    assert len(patterns) == 1
    assert patterns[0]['source'] == ['jobs']


def test_the_export_example_asks_only_for_unmanaged_export_jobs_when_ready():
    (listener,) = load_listeners(EXAMPLES[[path.stem for path in EXAMPLES].index('export_action')])
    assert listener.event_patterns() == [
        {
            'source': ['jobs'],
            'detail-type': ['job:ready'],
            'detail': {'payload': {'job': ['workbook:export'], 'managed': [False]}},
        }
    ]


def commit_created(sheet_slug: str) -> dict:
    """A commit:created envelope in Flatfile's shape: the sheet's slug in the context."""
    return {
        'id': f'us_evt_commit{sheet_slug}',
        'topic': 'commit:created',
        'domain': 'commit',
        'context': {
            'accountId': TENANT.account_id,
            'environmentId': TENANT.environment_id,
            'workbookId': 'us_wb_contacts001',
            'sheetId': 'us_sh_contacts001',
            'sheetSlug': sheet_slug,
            'slugs': {'sheet': sheet_slug},
            'commitId': 'us_vr_contacts001',
        },
        'payload': {'commitId': 'us_vr_contacts001', 'sheetId': 'us_sh_contacts001', 'count': 2},
        'createdAt': '2030-01-01T00:00:00.000Z',
    }


def test_the_custom_job_example_creates_its_job_on_a_commit_to_contacts(sdk):
    # GIVEN the custom job example, with the client of the in-process API
    (listener,) = load_listeners(EXAMPLES[[path.stem for path in EXAMPLES].index('custom_job')])
    listener.api = sdk

    # WHEN a commit lands on another sheet, and then on the contacts sheet
    assert listener.dispatch(commit_created('companies')) == 0
    assert listener.dispatch(commit_created('contacts')) == 1

    # THEN one custom job is created on the commit's workbook, ready to run
    jobs = list(sdk.jobs.list_all(workbook_id='us_wb_contacts001'))
    assert [(job.type, job.operation, job.status) for job in jobs] == [('workbook', 'customOperation', 'ready')]
