"""Loading listener files for `jobs listen`: what is a listener, and errors that say where."""

import pytest

from jobs_cli.listen import ListenError, load, parse_since
from jobs_sdk.loading import eventbridge_event, load_listeners
from tests.unit.sdk_fixtures import envelope


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_module_level_listeners_are_found_once_and_classes_are_not(tmp_path):
    path = write(
        tmp_path,
        'two.py',
        'import jobs_sdk\n'
        'from jobs_sdk import Listener\n'
        'first = Listener()\n'
        'second = Listener()\n'
        'alias = first\n'
        'child = first.filter({"isPart": False})\n',
    )
    assert [name for name, _ in load([path])] == ['two.first', 'two.second']
    assert len(load_listeners(path)) == 2


def test_a_listener_file_imports_its_neighbours(tmp_path):
    write(tmp_path, 'helpers.py', 'MESSAGE = "from a neighbour"\n')
    path = write(
        tmp_path, 'uses.py', 'from helpers import MESSAGE\nfrom jobs_sdk import Listener\nlistener = Listener()\n'
    )
    assert load([path])[0][0] == 'uses.listener'


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('x = 1\n\ny = undefined\n', "broken.py:3: NameError: name 'undefined' is not defined"),
        ('x = 1\n', 'broken.py: defines no listener'),
        ('def broken(:\n', 'broken.py'),
    ],
)
def test_errors_say_which_file_and_line(tmp_path, text, message):
    path = write(tmp_path, 'broken.py', text)
    with pytest.raises(ListenError) as refused:
        load([path])
    assert message in str(refused.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(ListenError, match='no such file'):
        load([tmp_path / 'missing.py'])


def test_since_is_iso_8601_utc_by_default():
    assert parse_since('2030-01-01T12:00:00Z').isoformat() == '2030-01-01T12:00:00+00:00'
    assert parse_since('2030-01-01T12:00:00').isoformat() == '2030-01-01T12:00:00+00:00'
    assert parse_since(None) is None
    with pytest.raises(ListenError, match='ISO-8601'):
        parse_since('yesterday')


def test_the_eventbridge_event_of_an_envelope():
    item = envelope('job:ready')
    event = eventbridge_event(item)
    assert (event['source'], event['detail-type'], event['detail']) == ('jobs', 'job:ready', item)


def test_cli_errors_are_printed_as_text_not_markup(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jobs_cli.main import app

    monkeypatch.setenv('JOBS_API_URL', 'http://127.0.0.1:9')  # restored after the test: `listen` sets both
    monkeypatch.setenv('JOBS_API_KEY', 'sk_test')
    path = write(tmp_path, 'markup.py', "raise RuntimeError('[bold]not markup[/bold]')\n")

    result = CliRunner().invoke(app, ['listen', str(path)])

    assert result.exit_code == 1
    assert 'markup.py:1: RuntimeError: [bold]not markup[/bold]' in result.stderr
