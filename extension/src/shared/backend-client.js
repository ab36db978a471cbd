// Talks to the self-hosted scoring backend (backend/, POST /api/v1/score and
// /api/v1/reports).
// The only module that sends anything to a server; every call checks the
// privacy switch first, so with it on no request is ever made.

import { backendAllowed } from './settings.js';

// a full-resolution image on a slow server; past this the server counts as down
const BACKEND_TIMEOUT_MS = 30000;
// the health check should be quick or the server is not usable
const HEALTH_TIMEOUT_MS = 5000;

/** Why the backend gave no answer: 'off', 'down' or 'refused'. */
export class BackendError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function checkAllowed(settings) {
  if (settings.neverSendImages) {
    throw new BackendError(
      'off',
      'Server checks are off: this browser never sends images to a server.',
    );
  }
  if (!backendAllowed(settings)) {
    throw new BackendError('off', 'No backend is set in the options.');
  }
}

function headers(settings) {
  return settings.apiToken
    ? { Authorization: `Bearer ${settings.apiToken}` }
    : {};
}

async function request(settings, path, init, timeoutMs) {
  checkAllowed(settings);
  let response;
  try {
    response = await fetch(`${settings.backendUrl}${path}`, {
      ...init,
      headers: headers(settings),
      credentials: 'omit',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new BackendError(
      'down',
      `The server is unreachable (${error.message}).`,
    );
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // a proxy's HTML error page: the status says enough
  }
  if (!response.ok) {
    const why = body?.error ?? `HTTP ${response.status}`;
    const kind = response.status >= 500 ? 'down' : 'refused';
    throw new BackendError(
      kind,
      `The server ${kind === 'down' ? 'failed' : 'refused'}: ${why}`,
    );
  }
  if (!body) {
    throw new BackendError(
      'down',
      'The server answered something other than JSON.',
    );
  }
  return body;
}

/**
 * Score image bytes on the backend. Returns its JSON: { verdict, score,
 * faces: [{ box, score, verdict, heatmap? }], model, image, elapsed_ms }.
 */
export async function scoreOnBackend(settings, blob, { explain = false } = {}) {
  checkAllowed(settings);
  const form = new FormData();
  form.append('image', blob, 'image');
  return request(
    settings,
    `/api/v1/score${explain ? '?explain=1' : ''}`,
    { method: 'POST', body: form },
    BACKEND_TIMEOUT_MS,
  );
}

/** GET /api/v1/health. */
export async function backendHealth(settings) {
  return request(
    settings,
    '/api/v1/health',
    { method: 'GET' },
    HEALTH_TIMEOUT_MS,
  );
}

/**
 * POST /api/v1/reports: `fields` ({ url?, sha256, verdict, score,
 * model_version, label, note }) and the image only when `image` is given.
 */
export async function sendReport(settings, fields, image = null) {
  checkAllowed(settings);
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) {
      form.append(key, String(value));
    }
  }
  if (image) {
    form.append('image', image, 'image');
  }
  return request(
    settings,
    '/api/v1/reports',
    { method: 'POST', body: form },
    BACKEND_TIMEOUT_MS,
  );
}
