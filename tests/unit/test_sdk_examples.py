"""The examples load as listeners without a network or an API key (their clients are made on first
use), and each one asks EventBridge for the events it handles."""

from pathlib import Path

import pytest

from jobs_sdk.loading import load_listeners

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
