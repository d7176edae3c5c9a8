"""The console's page and files, served by the API function itself without a key."""

import pytest

from tests.builders import ROOT

CONSOLE = ROOT / 'functions' / 'api' / 'console'


def test_the_page_is_served_without_a_key_with_a_strict_policy(api):
    reply = api('GET', '/console', tenant=None)
    assert reply.status == 200
    assert reply.headers['Content-Type'].startswith('text/html')
    assert reply.body == (CONSOLE / 'index.html').read_text()
    policy = reply.headers['Content-Security-Policy']
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    ('name', 'kind'),
    [
        ('app.js', 'text/javascript'),
        ('api.js', 'text/javascript'),
        ('views.js', 'text/javascript'),
        ('console.css', 'text/css'),
        ('favicon.svg', 'image/svg+xml'),
    ],
)
def test_every_file_the_page_loads_is_served_with_its_type(api, name, kind):
    reply = api('GET', f'/console/{name}', tenant=None)
    assert reply.status == 200
    assert reply.headers['Content-Type'].startswith(kind)
    assert reply.body == (CONSOLE / name).read_text()


def test_nothing_else_is_served(api):
    for name in ('app.py', '..%2Fapp.py', 'index.html.bak'):
        reply = api('GET', f'/console/{name}', tenant=None)
        assert reply.status == 404, name
    assert {path.name for path in CONSOLE.iterdir()} == {
        'index.html',
        'app.js',
        'api.js',
        'views.js',
        'console.css',
        'favicon.svg',
    }
