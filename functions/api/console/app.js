// The jobs console: asks for an API key once, then lists the environment's jobs and shows one job
// live. It follows the Events API (a new event means something changed) and reads jobs again when
// one arrives, with a slower plain refresh as a fallback. Routes: #/ (jobs, with ?status=…&type=…
// &operation=…&space=…) and #/jobs/<id>.

import { ApiError, apiRoot, call, downloadFile, events, jobs, key } from './api.js';
import {
  ACTIVE, STATUSES, TERMINAL, ago, badge, clock, copyButton, el, elapsed, eta, jobName, progressBar, when,
} from './views.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
const liveText = document.getElementById('live-text');
const signOut = document.getElementById('sign-out');
const EVENT_POLL_MS = 1000;
const REFRESH_MS = 5000;
const OVERLAP_MS = 5000;
let view = null; // the current view: { stop() }

// ---------------------------------------------------------------- plumbing
function setLive(ok, text) {
  live.hidden = false;
  live.classList.toggle('offline', !ok);
  liveText.textContent = text || (ok ? 'Live' : 'Offline');
}

function toast(message, kind = 'error') {
  const node = el('div', { class: `toast toast-${kind}`, role: 'status' }, message);
  document.body.append(node);
  setTimeout(() => node.classList.add('leaving'), 4000);
  setTimeout(() => node.remove(), 4600);
}

function handleError(error) {
  if (error instanceof ApiError && error.status === 401) {
    key.forget();
    route('The API refused this key. Enter another one.');
    return true;
  }
  setLive(false, error instanceof ApiError && error.status === 0 ? 'Offline' : 'Error');
  return false;
}

// Runs `tick` now and then every `interval` ms (after the previous run) until stopped.
function every(interval, tick) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    try {
      await tick();
    } catch (error) {
      if (handleError(error)) return;
    }
    if (!stopped) timer = setTimeout(run, interval);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}

// New events of the environment (or of one job) since a time, each once. The store is written in
// delivery order, so each poll looks a few seconds back and drops what it has seen.
class EventFeed {
  constructor({ jobId, since }) {
    this.jobId = jobId;
    this.cursor = since;
    this.seen = new Set();
  }

  async poll() {
    const fresh = [];
    let pageToken;
    do {
      const page = await events.list({
        jobId: this.jobId, since: new Date(this.cursor).toISOString(), sortDirection: 'asc', pageSize: 100, pageToken,
      });
      for (const event of page.data) {
        if (!this.seen.has(event.id)) {
          this.seen.add(event.id);
          fresh.push(event);
        }
      }
      pageToken = page.pagination.nextPageToken;
    } while (pageToken);
    if (fresh.length) {
      const latest = Math.max(...fresh.map((event) => Date.parse(event.createdAt)));
      this.cursor = Math.max(this.cursor, latest - OVERLAP_MS);
    }
    return fresh;
  }
}

// ---------------------------------------------------------------- the key
function loginView(message) {
  signOut.hidden = true;
  live.hidden = true;
  const input = el('input', {
    id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', placeholder: 'sk_…', required: true, spellcheck: 'false',
  });
  const error = el('p', { class: 'form-error', role: 'alert' }, message || '');
  const button = el('button', { class: 'button primary wide', type: 'submit' }, 'Connect');
  const form = el('form', { class: 'login-card card', novalidate: true },
    el('h1', {}, 'Connect to Jobs'),
    el('p', { class: 'muted' }, 'Enter an API key of the environment whose jobs you want to see. It is kept in this tab only, until you close it.'),
    el('label', { for: 'api-key' }, 'API key'),
    input,
    error,
    button,
    el('p', { class: 'hint' }, 'Running locally? ', el('code', {}, 'make dev'), ' prints a key. On AWS: ', el('code', {}, 'jobs keys create --environment NAME'), '.'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) { error.textContent = 'Enter an API key.'; return; }
    button.disabled = true;
    button.textContent = 'Connecting…';
    try {
      await call('GET', 'v1/jobs', { query: { pageSize: 1 }, apiKey: value });
      key.set(value);
      route();
    } catch (failure) {
      error.textContent = failure.status === 401 ? 'The API refused this key.' : failure.message;
      button.disabled = false;
      button.textContent = 'Connect';
    }
  });
  main.replaceChildren(el('div', { class: 'login' }, form));
  input.focus();
  return { stop() {} };
}

// ---------------------------------------------------------------- the jobs
function readFilters() {
  const query = new URLSearchParams((location.hash.split('?')[1]) || '');
  return {
    status: query.get('status') || '', type: query.get('type') || '', operation: query.get('operation') || '', space: query.get('space') || '',
  };
}

function writeFilters(filters) {
  const query = new URLSearchParams(Object.entries(filters).filter(([, value]) => value));
  history.replaceState(null, '', `#/${query.size ? `?${query}` : ''}`);
}

function listView() {
  const filters = readFilters();
  const rows = new Map(); // job id → row element
  const types = new Set();
  const operations = new Set();
  let lastLoad = 0;
  let jobsShown = [];

  const statusSelect = el('select', { id: 'filter-status', name: 'status' },
    el('option', { value: '' }, 'Any status'),
    STATUSES.map((status) => el('option', { value: status, selected: status === filters.status }, status)));
  const typeInput = el('input', { id: 'filter-type', name: 'type', list: 'types', placeholder: 'any type', value: filters.type });
  const operationInput = el('input', { id: 'filter-operation', name: 'operation', list: 'operations', placeholder: 'any operation', value: filters.operation });
  const spaceInput = el('input', { id: 'filter-space', name: 'space', placeholder: 'us_sp_…', value: filters.space });
  const typeList = el('datalist', { id: 'types' });
  const operationList = el('datalist', { id: 'operations' });
  const counts = el('div', { class: 'counts' });
  const list = el('div', { class: 'job-list', id: 'job-list', 'aria-live': 'polite' });
  const empty = el('div', { class: 'empty', hidden: true });
  const footer = el('p', { class: 'list-footer muted' });

  const toolbar = el('div', { class: 'toolbar card' },
    el('label', { class: 'field' }, el('span', {}, 'Status'), statusSelect),
    el('label', { class: 'field' }, el('span', {}, 'Type'), typeInput),
    el('label', { class: 'field' }, el('span', {}, 'Operation'), operationInput),
    el('label', { class: 'field' }, el('span', {}, 'Space'), spaceInput),
    el('button', { class: 'button ghost', type: 'button', onclick: clear }, 'Clear'),
    typeList, operationList);

  main.replaceChildren(
    el('div', { class: 'page-head' }, el('div', {}, el('h1', {}, 'Jobs'), el('p', { class: 'muted' }, 'Every job of this environment, live.')), counts),
    toolbar,
    el('div', { class: 'card list-card' },
      el('div', { class: 'job-row job-head', 'aria-hidden': 'true' },
        el('span', {}, 'Status'), el('span', {}, 'Job'), el('span', {}, 'Progress'), el('span', {}, 'Info'), el('span', { class: 'right' }, 'Created')),
      list, empty),
    footer);

  function clear() {
    Object.assign(filters, { status: '', type: '', operation: '', space: '' });
    statusSelect.value = ''; typeInput.value = ''; operationInput.value = ''; spaceInput.value = '';
    changed();
  }

  let debounce = null;
  function changed() {
    Object.assign(filters, {
      status: statusSelect.value, type: typeInput.value.trim(), operation: operationInput.value.trim(), space: spaceInput.value.trim(),
    });
    writeFilters(filters);
    clearTimeout(debounce);
    debounce = setTimeout(() => load().catch(handleError), 250);
  }
  for (const input of [statusSelect, typeInput, operationInput, spaceInput]) input.addEventListener('input', changed);

  function row(job) {
    const bar = progressBar(job);
    const node = el('a', { class: 'job-row', href: `#/jobs/${encodeURIComponent(job.id)}`, 'data-job-id': job.id },
      el('span', { class: 'cell-status' }),
      el('span', { class: 'cell-job' }, el('span', { class: 'job-name' }), el('span', { class: 'job-id mono' }, job.id)),
      el('span', { class: 'cell-progress' }, bar),
      el('span', { class: 'cell-info' }),
      el('span', { class: 'cell-created right muted' }));
    node.bar = bar;
    return node;
  }

  function update(node, job) {
    node.job = job;
    const status = node.querySelector('.cell-status');
    if (status.dataset.status !== job.status) {
      status.dataset.status = job.status;
      status.replaceChildren(badge(job.status));
    }
    node.querySelector('.job-name').textContent = jobName(job);
    node.bar.update(job);
    const info = node.querySelector('.cell-info');
    info.textContent = job.info || '';
    const remaining = eta(job);
    info.append(remaining ? el('span', { class: 'eta' }, ` · ${remaining}`) : '');
    node.querySelector('.cell-created').textContent = ago(job.createdAt);
    node.classList.toggle('is-running', job.status === 'executing');
  }

  function matches(job) {
    return (!filters.type || job.type === filters.type) && (!filters.operation || job.operation === filters.operation);
  }

  async function load() {
    lastLoad = Date.now();
    const page = await jobs.list({ status: filters.status, spaceId: filters.space, pageSize: 100 });
    setLive(true);
    for (const job of page.data) {
      if (!types.has(job.type)) { types.add(job.type); typeList.append(el('option', { value: job.type })); }
      if (!operations.has(job.operation)) { operations.add(job.operation); operationList.append(el('option', { value: job.operation })); }
    }
    jobsShown = page.data.filter(matches);
    const keep = new Set(jobsShown.map((job) => job.id));
    for (const [id, node] of rows) if (!keep.has(id)) { node.remove(); rows.delete(id); }
    jobsShown.forEach((job, index) => {
      let node = rows.get(job.id);
      if (!node) { node = row(job); rows.set(job.id, node); node.classList.add('fresh'); }
      update(node, job);
      if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
    });
    renderCounts();
    const filtered = Object.values(filters).some(Boolean);
    empty.hidden = jobsShown.length > 0;
    empty.replaceChildren(filtered
      ? el('p', {}, 'No job matches these filters.')
      : el('div', {}, el('p', { class: 'empty-title' }, 'No jobs yet'),
        el('p', { class: 'muted' }, 'Create one and it appears here at once:'),
        el('pre', { class: 'code' }, 'jobs create --type workbook --operation export \\\n  --source us_wb_1 --trigger immediate')));
    const total = page.pagination.totalCount;
    footer.textContent = total > page.data.length
      ? `The latest ${page.data.length} of ${total} jobs (type and operation are filtered among them).`
      : `${jobsShown.length} ${jobsShown.length === 1 ? 'job' : 'jobs'}`;
  }

  function renderCounts() {
    const by = {};
    for (const job of jobsShown) by[job.status] = (by[job.status] || 0) + 1;
    counts.replaceChildren(...['executing', 'ready', 'complete', 'failed'].map((status) => el('button', {
      class: `count count-${status}${filters.status === status ? ' selected' : ''}`, type: 'button',
      onclick: () => { statusSelect.value = filters.status === status ? '' : status; changed(); },
    }, el('strong', {}, String(by[status] || 0)), el('span', {}, status))));
  }

  const feed = new EventFeed({ since: Date.now() - OVERLAP_MS });
  const stopPolling = every(EVENT_POLL_MS, async () => {
    const fresh = await feed.poll();
    if (fresh.length || Date.now() - lastLoad > REFRESH_MS || lastLoad === 0) await load();
  });
  const clockTimer = setInterval(() => {
    for (const node of rows.values()) if (node.job) node.querySelector('.cell-created').textContent = ago(node.job.createdAt);
  }, 1000);
  return { stop() { stopPolling(); clearInterval(clockTimer); clearTimeout(debounce); } };
}

// ---------------------------------------------------------------- one job
function jobView(jobId) {
  let job = null;
  let outcomeKey = '';
  const headBadge = el('span', { id: 'job-status' });
  const title = el('h1', { class: 'job-title' });
  const bar = progressBar({ progress: 0, status: 'created' }, { large: true });
  bar.id = 'job-progress';
  const info = el('p', { class: 'job-info', id: 'job-info' });
  const stats = el('div', { class: 'stats' });
  const actions = el('div', { class: 'actions' });
  const outcome = el('section', { id: 'outcome', class: 'outcome', hidden: true });
  const fields = el('dl', { class: 'fields' });
  const extras = el('div', { class: 'extras' });
  const timeline = el('ol', { class: 'timeline', id: 'events' });
  const noEvents = el('p', { class: 'muted' }, 'No events yet.');

  main.replaceChildren(
    el('a', { class: 'back', href: '#/' }, '← All jobs'),
    el('div', { class: 'card job-card' },
      el('div', { class: 'job-head-row' },
        el('div', {}, title, el('div', { class: 'job-id-row' }, el('span', { class: 'mono' }, jobId), copyButton(jobId))),
        el('div', { class: 'job-head-right' }, headBadge, actions)),
      bar, info, stats),
    outcome,
    el('div', { class: 'columns' },
      el('section', { class: 'card' }, el('h2', {}, 'Details'), fields, extras),
      el('section', { class: 'card' }, el('h2', {}, 'Events ', el('span', { class: 'muted small' }, 'as they arrive')), noEvents, timeline)));

  function button(label, className, action) {
    const node = el('button', { class: `button ${className}`, type: 'button' }, label);
    node.addEventListener('click', async () => {
      node.disabled = true;
      try {
        await action();
        await refresh();
      } catch (error) {
        if (!handleError(error)) toast(error.message);
      } finally {
        node.disabled = false;
      }
    });
    return node;
  }

  function renderStats() {
    const remaining = eta(job);
    stats.replaceChildren(
      stat('Progress', `${job.progress || 0}%`),
      stat(TERMINAL.has(job.status) ? 'Took' : 'Elapsed', job.startedAt || TERMINAL.has(job.status) ? elapsed(job) : '–'),
      stat('ETA', remaining || (TERMINAL.has(job.status) ? 'done' : 'unknown'), job.estimatedCompletionAt && !TERMINAL.has(job.status) ? when(job.estimatedCompletionAt) : ''),
      stat('Attempt', String(job.attempt || 1)));
  }

  function stat(label, value, detail) {
    return el('div', { class: 'stat' }, el('span', { class: 'stat-label' }, label), el('span', { class: 'stat-value' }, value), detail ? el('span', { class: 'stat-detail muted' }, detail) : null);
  }

  function renderFields() {
    const rows = [
      ['Type', job.type], ['Operation', job.operation], ['Source', job.source], ['Destination', job.destination],
      ['Space', job.spaceId], ['File', job.fileId], ['Parent', job.parentId], ['Mode', job.mode], ['Trigger', job.trigger],
      ['Managed', job.managed ? 'yes (run by the platform)' : null], ['Created', when(job.createdAt)], ['Started', when(job.startedAt)],
      ['Finished', when(job.finishedAt)], ['Updated', when(job.updatedAt)], ['Version', String(job.version)],
    ];
    fields.replaceChildren(...rows.filter(([, value]) => value).flatMap(([label, value]) => [el('dt', {}, label), el('dd', { class: /^us_/.test(value) ? 'mono' : '' }, value)]));
    extras.replaceChildren(...['config', 'input', 'metadata', 'result', 'partData'].filter((name) => job[name]).map((name) =>
      el('details', {}, el('summary', {}, name), el('pre', { class: 'code' }, JSON.stringify(job[name], null, 2)))));
  }

  function renderActions() {
    const buttons = [];
    if (job.status === 'created' || job.status === 'planning') buttons.push(button('Execute', 'ghost', () => call('POST', `v1/jobs/${jobId}/execute`)));
    if (ACTIVE.has(job.status)) buttons.push(button('Cancel', 'ghost danger', () => jobs.act(jobId, 'cancel')));
    if (job.status === 'failed' || job.status === 'canceled') buttons.push(button('Retry', 'ghost', () => jobs.act(jobId, 'retry')));
    actions.replaceChildren(...buttons);
  }

  function nextAction(next) {
    const label = next.label;
    switch (next.type) {
      case 'url':
        return el('a', { class: 'button primary', id: 'outcome-next', href: next.url, target: '_blank', rel: 'noopener' }, label || 'Open link', ' ↗');
      case 'download': {
        const api = next.url.startsWith('/v1/') || next.url.startsWith(apiRoot.href);
        const fileId = (next.url.match(/\/v1\/files\/([^/]+)\/download/) || [])[1];
        if (api && fileId) return button(label || `Download ${next.fileName || ''}`.trim(), 'primary', () => downloadFile(fileId, next.fileName));
        return el('a', { class: 'button primary', id: 'outcome-next', href: next.url, download: next.fileName || '' }, label || `Download ${next.fileName || 'file'}`);
      }
      case 'files':
        return el('div', { class: 'file-buttons' }, (next.files || []).map((file) =>
          button(file.label || `Download ${file.fileId}`, 'primary', () => downloadFile(file.fileId))));
      case 'retry':
        return button(label || 'Retry', 'primary', () => jobs.act(jobId, 'retry'));
      case 'id':
        return el('p', {}, label || 'Go to ', el('span', { class: 'mono' }, next.id), next.path ? ` / ${next.path}` : '', next.query ? ` ?${next.query}` : '');
      case 'snapshot':
        return el('p', {}, label || 'Snapshot ', el('span', { class: 'mono' }, next.snapshotId), ' of sheet ', el('span', { class: 'mono' }, next.sheetId));
      case 'view':
        return el('p', {}, label || 'View sheet ', el('span', { class: 'mono' }, next.sheetId), (next.hiddenColumns || []).length ? ` (hiding ${next.hiddenColumns.join(', ')})` : '');
      case 'clearFilters':
        return el('p', {}, label || `Clear the filters of ${(next.sheetIds || []).join(', ') || 'every sheet'}`);
      case 'wait':
        return el('p', { class: 'muted' }, 'Waiting…');
      default:
        return el('pre', { class: 'code' }, JSON.stringify(next, null, 2));
    }
  }

  function renderOutcome() {
    const signature = JSON.stringify([job.status, job.outcome, job.outcomeAcknowledgedAt]);
    if (signature === outcomeKey) return;
    outcomeKey = signature;
    const data = job.outcome;
    outcome.hidden = !data && !TERMINAL.has(job.status);
    if (outcome.hidden) return;
    const ended = job.status === 'complete' || job.status === 'failed';
    const heading = (data && data.heading) || { complete: 'Completed', failed: 'Failed', canceled: 'Canceled' }[job.status] || 'Outcome';
    const buttons = [];
    if (data && data.next) buttons.push(nextAction(data.next));
    if (ended && !job.outcomeAcknowledgedAt) {
      const acknowledge = button((data && data.buttonText) || 'Acknowledge', data && data.acknowledge ? 'primary' : 'ghost', () => jobs.act(jobId, 'outcome/ack'));
      acknowledge.id = 'acknowledge';
      buttons.push(acknowledge);
    }
    outcome.className = `outcome card outcome-${job.status}`;
    outcome.replaceChildren(
      el('div', { class: 'outcome-icon', 'aria-hidden': 'true' }, { complete: '✓', failed: '!', canceled: '■' }[job.status] || '•'),
      el('div', { class: 'outcome-body' },
        el('h2', {}, heading),
        data && data.message ? el('p', { class: 'outcome-message', id: 'outcome-message' }, data.message) : null,
        buttons.length ? el('div', { class: 'outcome-actions' }, buttons) : null,
        job.outcomeAcknowledgedAt ? el('p', { class: 'acknowledged', id: 'acknowledged' }, `✓ Acknowledged ${when(job.outcomeAcknowledgedAt)}`) : null));
  }

  function render() {
    document.title = `${jobName(job)} · ${job.status} · Jobs console`;
    title.textContent = jobName(job);
    if (headBadge.dataset.status !== job.status) {
      headBadge.dataset.status = job.status;
      headBadge.replaceChildren(badge(job.status));
    }
    bar.update(job);
    info.textContent = job.info || (TERMINAL.has(job.status) ? '' : 'No info yet.');
    info.classList.toggle('muted', !job.info);
    renderStats();
    renderFields();
    renderActions();
    renderOutcome();
  }

  function addEvents(fresh) {
    noEvents.hidden = timeline.children.length + fresh.length > 0;
    for (const event of fresh) {
      const payload = event.payload || {};
      timeline.prepend(el('li', { class: `event fresh topic-${event.topic.replace(/[^a-z-]/g, '-')}`, 'data-topic': event.topic },
        el('span', { class: 'event-dot', 'aria-hidden': 'true' }),
        el('div', { class: 'event-body' },
          el('div', { class: 'event-head' }, el('strong', {}, event.topic), el('time', { class: 'muted mono', datetime: event.createdAt, title: when(event.createdAt) }, clock(event.createdAt))),
          el('div', { class: 'event-detail' },
            payload.status ? badge(payload.status) : null,
            payload.status === 'executing' && payload.progress !== undefined ? el('span', { class: 'event-progress' }, `${payload.progress}%`) : null,
            payload.info ? el('span', { class: 'event-info' }, payload.info) : null))));
    }
  }

  async function refresh() {
    job = await jobs.get(jobId);
    setLive(true);
    render();
  }

  let feed = null;
  let lastRead = 0;
  const stopPolling = every(EVENT_POLL_MS, async () => {
    if (!job) {
      try {
        await refresh();
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          main.replaceChildren(el('a', { class: 'back', href: '#/' }, '← All jobs'), el('div', { class: 'card empty' }, el('p', { class: 'empty-title' }, 'Job not found'), el('p', { class: 'muted' }, `${jobId} does not exist in this environment (or was deleted).`)));
          stopPolling();
          return;
        }
        throw error;
      }
      lastRead = Date.now();
      feed = new EventFeed({ jobId, since: Date.parse(job.createdAt) - 1000 });
    }
    const fresh = await feed.poll();
    if (fresh.length) addEvents(fresh);
    if (fresh.length || Date.now() - lastRead > REFRESH_MS) {
      lastRead = Date.now();
      await refresh();
    }
  });
  const clockTimer = setInterval(() => { if (job) renderStats(); }, 1000);
  return { stop() { stopPolling(); clearInterval(clockTimer); } };
}

// ---------------------------------------------------------------- routes
function route(message) {
  if (view) view.stop();
  if (!key.get()) {
    view = loginView(message);
    return;
  }
  signOut.hidden = false;
  const found = location.hash.match(/^#\/jobs\/([^/?]+)/);
  view = found ? jobView(decodeURIComponent(found[1])) : listView();
  window.scrollTo(0, 0);
}

signOut.addEventListener('click', () => { key.forget(); route(); });
window.addEventListener('hashchange', () => route());
document.getElementById('docs-link').href = new URL('v1/docs', apiRoot).href;
route();
