// Small rendering helpers: elements, status badges, progress bars, times.

export const STATUSES = ['created', 'planning', 'scheduled', 'waiting', 'ready', 'executing', 'complete', 'failed', 'canceled'];
export const TERMINAL = new Set(['complete', 'failed', 'canceled']);
export const ACTIVE = new Set(['created', 'planning', 'scheduled', 'waiting', 'ready', 'executing']);

// el('div', {class: 'x', onclick: fn}, child, 'text', …): an element; null and false children are skipped.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function badge(status) {
  return el('span', { class: `badge badge-${status}`, 'data-status': status }, status);
}

export function jobName(job) {
  return `${job.type}:${job.operation}`;
}

// A progress bar whose fill follows the job; update() changes it in place so it animates.
export function progressBar(job, { large = false } = {}) {
  const fill = el('div', { class: 'bar-fill' });
  const bar = el('div', { class: `bar${large ? ' bar-large' : ''}`, role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill);
  const label = el('span', { class: 'bar-label' });
  const wrap = el('div', { class: 'bar-wrap' }, bar, label);
  wrap.update = (next) => {
    const progress = Math.max(0, Math.min(100, next.progress || 0));
    bar.setAttribute('aria-valuenow', progress);
    bar.dataset.status = next.status;
    fill.style.width = `${progress}%`;
    label.textContent = `${progress}%`;
  };
  wrap.update(job);
  return wrap;
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function ago(iso) {
  if (!iso) return '';
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 5) return 'just now';
  return seconds < 0 ? `in ${duration(-seconds)}` : `${duration(seconds)} ago`;
}

export function when(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false }) + `.${String(new Date(iso).getMilliseconds()).padStart(3, '0')}`;
}

// "about 12s left" from estimatedCompletionAt while the job runs; '' when unknown or finished.
export function eta(job) {
  if (!job.estimatedCompletionAt || TERMINAL.has(job.status)) return '';
  const left = (Date.parse(job.estimatedCompletionAt) - Date.now()) / 1000;
  return left > 0 ? `about ${duration(left)} left` : 'any moment now';
}

export function elapsed(job) {
  const start = job.startedAt || job.createdAt;
  const end = TERMINAL.has(job.status) && job.finishedAt ? Date.parse(job.finishedAt) : Date.now();
  return duration((end - Date.parse(start)) / 1000);
}

export function copyButton(text) {
  const button = el('button', { class: 'copy', type: 'button', title: 'Copy', 'aria-label': `Copy ${text}` }, 'Copy');
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select it';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1200);
  });
  return button;
}
