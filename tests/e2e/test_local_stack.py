"""The local stack itself: open routes, gateway answers, the admin key route, `jobs keys create`,
loopback binding and a clean stop."""

import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack, assert_errors, issue_key, run_cli, start_stack

pytestmark = pytest.mark.xdist_group('localstack')


# ---------------------------------------------------------------- open routes
def test_health_needs_no_key(anonymous):
    response = anonymous.get('/health')
    assert response.status_code == 200
    assert response.json() == {'status': 'ok'}


def test_openapi_needs_no_key(anonymous):
    response = anonymous.get('/v1/openapi.json')
    assert response.status_code == 200
    document = response.json()
    assert document['openapi'].startswith('3.')
    assert '/v1/jobs' in document['paths']
    assert '/v1/jobs/{jobId}/outcome/ack' in document['paths']


def test_docs_need_no_key_and_are_self_contained(anonymous):
    response = anonymous.get('/v1/docs')
    assert response.status_code == 200
    assert response.headers['content-type'].startswith('text/html')
    assert 'swagger' in response.text.lower()
    assert 'https://cdn' not in response.text


# ---------------------------------------------------------------- what the gateway answers itself
def test_a_path_outside_the_api_is_the_gateways_403_in_the_error_shape(client):
    response = client.get('/nowhere')
    errors = assert_errors(response, 403, 'request')
    assert errors[0]['message'] == 'Missing Authentication Token'


def test_a_method_the_route_lacks_is_the_gateways_403(anonymous):
    assert_errors(anonymous.post('/health'), 403)


def test_an_unknown_route_under_v1_is_the_apis_404(client):
    assert_errors(client.get('/v1/nothing-here'), 404, 'path')


def test_every_response_carries_a_request_id(client, anonymous):
    assert client.get('/v1/jobs').headers['x-amzn-requestid']
    assert anonymous.get('/v1/jobs').headers['x-amzn-requestid']


# ---------------------------------------------------------------- keys
def test_local_keys_route_issues_a_key_for_a_new_environment(stack, anonymous):
    # WHEN a key is asked for a new environment
    response = anonymous.post('/_local/keys', json={'environment': 'e2e-admin'})

    # THEN it comes back with its ids, and it works
    assert response.status_code == 201, response.text
    data = response.json()['data']
    assert set(data) == {'key', 'keyId', 'environmentId', 'environment'}
    assert data['environment'] == 'e2e-admin'
    assert data['environmentId'].startswith('us_env_')
    listed = anonymous.get('/v1/jobs', headers={'Authorization': f'Bearer {data["key"]}'})
    assert listed.status_code == 200, listed.text


def test_two_keys_of_one_environment_see_the_same_jobs(stack, anonymous):
    first, second = issue_key(stack, 'e2e-shared'), issue_key(stack, 'e2e-shared')
    assert first != second
    body = {'type': 'workbook', 'operation': 'export', 'source': 'us_wb_shared'}
    created = anonymous.post('/v1/jobs', json=body, headers={'Authorization': f'Bearer {first}'})
    assert created.status_code == 201, created.text
    job_id = created.json()['data']['id']
    assert anonymous.get(f'/v1/jobs/{job_id}', headers={'Authorization': f'Bearer {second}'}).status_code == 200


@pytest.mark.parametrize(
    'body',
    [b'{"environment": "Not Valid!"}', b'{"environment": ""}', b'{"environment": 3}', b'{}', b'nope', b'[]'],
)
def test_local_keys_route_refuses_bad_bodies_with_400(anonymous, body):
    response = anonymous.post('/_local/keys', content=body, headers={'Content-Type': 'application/json'})
    assert_errors(response, 400)


def test_jobs_keys_create_local_gives_a_key_that_works(stack, anonymous):
    # WHEN the CLI creates a key against the running local stack
    result = run_cli('keys', 'create', '--environment', 'e2e-cli', '--local', '--api-url', stack.url)

    # THEN it prints the key alone on stdout, and the key works
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith('sk_')
    response = anonymous.get('/v1/jobs', headers={'Authorization': f'Bearer {key}'})
    assert response.status_code == 200, response.text


def test_jobs_keys_create_local_json_and_api_url_from_the_environment(stack, anonymous):
    result = run_cli('keys', 'create', '-e', 'e2e-cli-json', '--local', '--json', JOBS_API_URL=stack.url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data['environment'] == 'e2e-cli-json'
    assert anonymous.get('/v1/jobs', headers={'Authorization': f'Bearer {data["key"]}'}).status_code == 200


def test_jobs_keys_create_local_with_a_bad_name_fails_in_one_line(stack):
    result = run_cli('keys', 'create', '--environment', 'Bad Name', '--local', '--api-url', stack.url)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'Traceback' not in result.stderr


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


def test_jobs_keys_create_local_without_a_stack_fails_in_one_line():
    result = run_cli('keys', 'create', '-e', 'dev', '--local', '--api-url', f'http://127.0.0.1:{closed_port()}')
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert 'jobs dev' in result.stderr
    assert 'Traceback' not in result.stderr


# ---------------------------------------------------------------- the process
def listening_addresses(pid: int) -> set[str]:
    """The local addresses of every listening TCP socket the process owns (Linux /proc)."""
    inodes = set()
    for descriptor in Path(f'/proc/{pid}/fd').iterdir():
        target = descriptor.readlink().name if descriptor.is_symlink() else ''
        if target.startswith('socket:['):
            inodes.add(target[len('socket:[') : -1])
    addresses = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == '0A' and inode in inodes:  # 0A: LISTEN
                address = local.split(':')[0]
                addresses.add(address)
    return addresses


def test_every_listener_is_bound_to_loopback_only(stack):
    # THEN the API and moto listen on 127.0.0.1 alone (0100007F in /proc's little-endian hex)
    addresses = listening_addresses(stack.process.pid)
    assert addresses == {'0100007F'}, addresses
    # ...so another loopback address of this machine is refused
    with pytest.raises(OSError), socket.create_connection(('127.0.0.2', stack.port), timeout=2):
        pass


def test_sigint_stops_the_stack_cleanly_and_quickly(tmp_path):
    # GIVEN a stack of its own, ready
    own: RunningStack = start_stack(tmp_path / 'jobs-dev.log')

    # WHEN it gets Ctrl-C
    started = time.monotonic()
    own.process.send_signal(signal.SIGINT)
    code = own.process.wait(timeout=15)

    # THEN it exits 0 within a few seconds, without a traceback, and the port is free again
    assert code == 0, own.output()
    assert time.monotonic() - started < 5
    assert 'Traceback' not in own.output()
    with pytest.raises(httpx.TransportError):
        httpx.get(f'{own.url}/health', timeout=2)


def test_the_dev_key_is_printed_with_the_url(tmp_path):
    own = start_stack(tmp_path / 'jobs-dev.log')
    try:
        output = own.output()
        assert own.url in output
        key = next(word for word in output.split() if word.startswith('sk_'))
        response = httpx.get(f'{own.url}/v1/jobs', headers={'Authorization': f'Bearer {key}'}, timeout=30)
        assert response.status_code == 200, response.text
    finally:
        own.process.send_signal(signal.SIGTERM)
        assert own.process.wait(timeout=15) == 0
