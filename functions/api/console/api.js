// The Jobs API from the console: same origin, the key from this tab's session storage.

const KEY_NAME = 'jobs-console-api-key';

// This module is <the API's root>/console/api.js, whatever the stage or base path.
export const apiRoot = new URL('../', import.meta.url);

export class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY_NAME),
  set: (value) => sessionStorage.setItem(KEY_NAME, value),
  forget: () => sessionStorage.removeItem(KEY_NAME),
};

function url(path, query) {
  const target = new URL(path.replace(/^\//, ''), apiRoot);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') target.searchParams.set(name, value);
  }
  return target;
}

export async function call(method, path, { body, query, apiKey } = {}) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${apiKey || key.get() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, `Cannot reach the Jobs API at ${apiRoot.href} (${error.message})`);
  }
  const text = await response.text();
  let payload = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const errors = (payload && payload.errors) || [];
    const message = errors.map((error) => error.message).join('; ') || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, errors);
  }
  return payload;
}

export const jobs = {
  list: (query) => call('GET', 'v1/jobs', { query }),
  get: async (id) => (await call('GET', `v1/jobs/${encodeURIComponent(id)}`)).data,
  act: async (id, action, body) => (await call('POST', `v1/jobs/${encodeURIComponent(id)}/${action}`, { body })).data,
};

export const events = {
  list: (query) => call('GET', 'v1/events', { query }),
};

// A file's bytes: the API answers with a redirect to storage, which the browser follows (the
// key is not sent to storage). Saved under the file's name.
export async function downloadFile(fileId, fallbackName) {
  const file = (await call('GET', `v1/files/${encodeURIComponent(fileId)}`)).data;
  let response;
  try {
    response = await fetch(url(`v1/files/${encodeURIComponent(fileId)}/download`), {
      headers: { Authorization: `Bearer ${key.get() || ''}` },
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, `The download failed (${error.message})`);
  }
  if (!response.ok) throw new ApiError(response.status, `The download failed: HTTP ${response.status}`);
  saveBlob(await response.blob(), file.name || fallbackName || fileId);
}

export function saveBlob(blob, name) {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
