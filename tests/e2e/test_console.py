"""The jobs console in a real browser: Debian's Chromium driven by Playwright, against the local stack.

A person's path through it: give the key, see a job appear in the list, open it, watch its bar move
as the test acknowledges it with progress, see it complete with its outcome, acknowledge the outcome.
A screenshot of each state goes to test-output/console/. Nothing downloads a browser: Playwright
drives /usr/bin/chromium (`make test` installs Debian's chromium package when it is missing).
"""

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROOT, RunningStack, issue_key

pytestmark = pytest.mark.xdist_group('localstack')

CHROMIUM = Path(os.environ.get('JOBS_CHROMIUM', '/usr/bin/chromium'))
SHOTS = ROOT / 'test-output' / 'console'
# As the machine's probe ran it: headless, and nothing that reaches for the network on its own.
FLAGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
]
WAIT_MS = 15_000


@pytest.fixture(scope='module')
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f'{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)')
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope='module')
def api(stack: RunningStack) -> Iterator[httpx.Client]:
    """A client with a key of its own environment, so the console shows only this test's jobs."""
    key = issue_key(stack, 'e2e-console')
    with httpx.Client(base_url=stack.url, headers={'Authorization': f'Bearer {key}'}, timeout=30) as client:
        client.key = key  # type: ignore[attr-defined]
        yield client


def post(api: httpx.Client, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code < 300, response.text
    return dict(response.json()['data'])


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f'{name}.png'), full_page=True)


def test_a_job_live_in_the_console_from_ready_to_its_acknowledged_outcome(browser, stack, api):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    problems: list[str] = []
    page.on('pageerror', lambda error: problems.append(f'page error: {error}'))
    page.on('console', lambda message: message.type == 'error' and problems.append(f'console: {message.text}'))

    # GIVEN the console, which asks for a key once
    page.goto(f'{stack.url}/console')
    expect(page.get_by_role('heading', name='Connect to Jobs')).to_be_visible()
    page.fill('#api-key', 'sk_not_a_key')
    page.click('button[type=submit]')
    expect(page.locator('.form-error')).to_have_text('The API refused this key.', timeout=WAIT_MS)
    shot(page, '01-key')
    page.fill('#api-key', api.key)
    page.click('button[type=submit]')
    expect(page.get_by_text('No jobs yet')).to_be_visible(timeout=WAIT_MS)

    # WHEN a job is created, THEN it appears in the list without a reload, ready
    job = post(
        api,
        '/v1/jobs',
        {
            'type': 'workbook',
            'operation': 'export',
            'source': 'us_wb_console0001',
            'trigger': 'immediate',
            'managed': False,
            'info': 'Waiting for a worker',
        },
    )
    row = page.locator(f'[data-job-id="{job["id"]}"]')
    expect(row.locator('.badge')).to_have_text('ready', timeout=WAIT_MS)
    expect(row).to_contain_text('workbook:export')
    shot(page, '02-list-ready')

    # WHEN it is opened, THEN its page shows it ready, with its fields
    row.click()
    expect(page.locator('#job-status .badge')).to_have_text('ready', timeout=WAIT_MS)
    expect(page.locator('.fields')).to_contain_text('us_wb_console0001')
    expect(page.locator('#events')).to_contain_text('job:ready', timeout=WAIT_MS)
    shot(page, '03-job-ready')

    # WHEN the test acknowledges it with progress, THEN the bar moves, with the info and the ETA
    bar = page.locator('#job-progress [role=progressbar]')
    eta = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    tick = {'progress': 20, 'info': 'Exporting rows 1-4,000', 'estimatedCompletionAt': eta}
    post(api, f'/v1/jobs/{job["id"]}/ack', tick)
    expect(bar).to_have_attribute('aria-valuenow', '20', timeout=WAIT_MS)
    expect(page.locator('#job-status .badge')).to_have_text('executing')
    expect(page.locator('#job-info')).to_have_text('Exporting rows 1-4,000')
    expect(page.locator('.stats')).to_contain_text('left')
    page.wait_for_timeout(700)  # the bar's width transition
    shot(page, '04-progress-20')

    tick = {'progress': 65, 'info': 'Exporting rows 8,001-13,000', 'estimatedCompletionAt': eta}
    post(api, f'/v1/jobs/{job["id"]}/ack', tick)
    expect(bar).to_have_attribute('aria-valuenow', '65', timeout=WAIT_MS)
    expect(page.locator('#events li[data-topic="job:updated"]')).to_have_count(2, timeout=WAIT_MS)
    page.wait_for_timeout(700)
    shot(page, '05-progress-65')

    # WHEN it completes, THEN the outcome shows with its next action and the acknowledge button
    outcome = {
        'heading': 'Export ready',
        'message': 'Exported 20,000 rows to contacts.csv',
        'next': {'type': 'url', 'url': 'https://example.com/exports/contacts.csv', 'label': 'Open the export'},
        'acknowledge': True,
    }
    post(api, f'/v1/jobs/{job["id"]}/complete', {'outcome': outcome})
    expect(page.locator('#outcome-message')).to_have_text(outcome['message'], timeout=WAIT_MS)
    expect(page.locator('#job-status .badge')).to_have_text('complete')
    expect(bar).to_have_attribute('aria-valuenow', '100')
    expect(page.locator('#outcome-next')).to_have_attribute('href', outcome['next']['url'])
    expect(page.locator('#events')).to_contain_text('job:completed', timeout=WAIT_MS)
    page.wait_for_timeout(700)
    shot(page, '06-complete')

    # WHEN the outcome is acknowledged, THEN the API has it and the page says so
    page.click('#acknowledge')
    expect(page.locator('#acknowledged')).to_be_visible(timeout=WAIT_MS)
    assert api.get(f'/v1/jobs/{job["id"]}').json()['data']['outcomeAcknowledgedAt']
    expect(page.locator('#events')).to_contain_text('job:outcome-acknowledged', timeout=WAIT_MS)
    shot(page, '07-acknowledged')

    # AND back on the list it is complete; a status filter leaves it out, then in
    page.click('a.back')
    expect(row.locator('.badge')).to_have_text('complete', timeout=WAIT_MS)
    shot(page, '08-list-complete')
    page.select_option('#filter-status', 'failed')
    expect(page.get_by_text('No job matches these filters.')).to_be_visible(timeout=WAIT_MS)
    page.select_option('#filter-status', 'complete')
    expect(row).to_be_visible(timeout=WAIT_MS)
    assert '#/?status=complete' in page.url

    # the only failed request was the refused key's
    assert [problem for problem in problems if 'status of 401' not in problem] == [], problems
    page.close()


def test_the_console_needs_no_key_and_names_its_files_relative_to_itself(anonymous):
    page = anonymous.get('/console')
    assert page.status_code == 200
    assert page.headers['content-type'].startswith('text/html')
    assert "script-src 'self'" in page.headers['content-security-policy']
    assert 'src="console/app.js"' in page.text and 'https://' not in page.text
    for name, kind in (('app.js', 'text/javascript'), ('console.css', 'text/css'), ('favicon.svg', 'image/svg+xml')):
        asset = anonymous.get(f'/console/{name}')
        assert asset.status_code == 200, name
        assert asset.headers['content-type'].startswith(kind)
    assert anonymous.get('/console/secrets.py').status_code == 404
