// The content script's and result tab's line to the extension: requests go
// to the service worker and are retried, because Chrome may stop the worker
// while a request is in flight (the answer is then lost, but the offscreen
// document finishes the work and caches it, so the retry is quick).

import { envelope, MSG, TARGET, unwrap } from './messages.js';

// tries per request: the worker restarts within a few hundred ms
const MAX_ATTEMPTS = 6;
// first retry after this; doubled each time (0.2 + 0.4 + ... = 6.2 s in all)
const RETRY_BASE_MS = 200;
// data: and blob: images travel inside the message; Chrome caps messages at 64 MB
const MAX_INLINE_BYTES = 16 * 1024 * 1024;

/** The extension was reloaded or removed: this content script is orphaned. */
export class ExtensionGone extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function extensionAlive() {
  try {
    return Boolean(chrome.runtime?.id);
  } catch {
    return false;
  }
}

/**
 * Send to the service worker; retry while no answer comes back (worker
 * stopped, restarting), but not when the answer is an error.
 */
async function ask(type, data) {
  const message = envelope(type, TARGET.serviceWorker, data);
  for (let attempt = 1; ; attempt += 1) {
    if (!extensionAlive()) {
      throw new ExtensionGone('the extension was reloaded or removed');
    }
    let answer;
    let lost;
    try {
      answer = await chrome.runtime.sendMessage(message);
    } catch (error) {
      if (/context invalidated/i.test(error.message)) {
        throw new ExtensionGone(error.message);
      }
      lost = error;
    }
    if (answer) {
      return unwrap(answer);
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw lost ?? new Error('the extension did not answer');
    }
    await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
  }
}

/** A Blob (or File) as a data: URL. */
export function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/**
 * What the extension needs to get an image's bytes: its URL, which the
 * extension fetches itself; data: and blob: images only this page can read,
 * so they travel inline.
 */
async function imageRef(src) {
  if (src.startsWith('data:')) {
    return { src: 'data: image', dataUrl: src };
  }
  if (src.startsWith('blob:')) {
    const blob = await (await fetch(src)).blob();
    if (blob.size > MAX_INLINE_BYTES) {
      throw new Error('the image is over 16 MB');
    }
    return { src: 'blob: image', dataUrl: await readAsDataUrl(blob) };
  }
  return { src };
}

/**
 * The check result for one image (see shared/results.js). `priority`: 'high'
 * when the user asked for this image (a panel), 'low' for auto-badges.
 * `credentials`: 'include' only for the gesture that earns the site's
 * cookies, "Check for deepfake" in the context menu; else 'omit'.
 */
export async function scoreImage(
  src,
  { priority = 'low', credentials = 'omit' } = {},
) {
  return ask(MSG.scoreImage, {
    ...(await imageRef(src)),
    priority,
    credentials,
  });
}

/** The backend's answer for the image at full resolution, with heatmaps. */
export async function checkFullResolution(src) {
  return ask(MSG.checkFullResolution, await imageRef(src));
}

/**
 * "This is wrong": the report to the backend, which the extension sends with
 * the image's hash (and its bytes, only when `report.includeImage`); the
 * bytes are fetched with the `credentials` its panel's verdict was.
 */
export async function reportWrong(src, report, { credentials = 'omit' } = {}) {
  return ask(MSG.reportWrong, {
    ...(await imageRef(src)),
    report,
    credentials,
  });
}
