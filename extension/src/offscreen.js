// The offscreen document: the one place that holds the model. It fetches
// image bytes itself (host permissions, so images served without CORS
// headers work), has them scored by a pool of TF.js workers
// (lib/scorer-pool.js; lib/scorer.js in this document where workers are no
// use), asks the backend when the browser's answer is not good enough, and
// caches results by image URL. The service worker hands it the settings with each message;
// offscreen documents cannot read chrome.storage.

import { readProvenance } from './lib/provenance.js';
import { createScorerPool, poolSize } from './lib/scorer-pool.js';
import { bandFor, imageVerdict, verdictFor } from './lib/verdicts.js';
import {
  BackendError,
  scoreOnBackend,
  sendReport,
} from './shared/backend-client.js';
import { envelope, listen, MSG, TARGET } from './shared/messages.js';
import { BoundedCache, TaskQueue } from './shared/queue.js';
import { verdictName } from './shared/results.js';
import { backendAllowed, modelDecision } from './shared/settings.js';

// a page with hundreds of images keeps recent ones without growing forever
const MAX_CACHED_RESULTS = 1000;
// image downloads overlap: they wait on the network, not the CPU
const FETCH_CONCURRENCY = 4;
// scorer workers: one a core, two at most (lib/scorer-pool.js says why)
const SCORER_WORKERS = poolSize(navigator.hardwareConcurrency);
// without workers TF.js runs one model at a time in this document; more
// would only interleave and add latency (the pool queues its own images)
const SCORE_CONCURRENCY = 1;
// images read at once, those being scored included: each worker's image and
// the next one, handed over the moment the worker answers (the workers
// decode, so these are compressed bytes; in-document, the next ones decode)
const PIXEL_SLOTS = 2 * SCORER_WORKERS;
// a hung image server must not hold a queue slot forever
const FETCH_TIMEOUT_MS = 20000;
// answers of a site that shows an image only to signed-in visitors
const SIGNED_IN_ONLY = new Set([401, 403]);
// larger files are not photos a page shows; decoding them risks memory
const MAX_IMAGE_BYTES = 40 * 1024 * 1024;
// "large": the image is over this many times the model's input on a side
const LARGE_IMAGE_FACTOR = 4;

const localCache = new BoundedCache(MAX_CACHED_RESULTS);
const serverCache = new BoundedCache(MAX_CACHED_RESULTS);
const fetchQueue = new TaskQueue(FETCH_CONCURRENCY);
const scoreQueue = new TaskQueue(SCORE_CONCURRENCY);
const pixelQueue = new TaskQueue(PIXEL_SLOTS);

// WebGL drawn by the CPU (no usable GPU) is ~10x slower than wasm here:
// 2-3.5 s against 0.1-0.25 s an image in headless Chromium on SwiftShader
const SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|software/i;

/** Whether WebGL here draws on a GPU (not software, not missing). */
function webglOnGpu() {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) {
    return false;
  }
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl.getParameter(
    info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER,
  );
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return !SOFTWARE_GL.test(String(renderer));
}

/**
 * lib/scorer.js in this document, scoring one image at a time: webgl, else
 * wasm, else cpu; but wasm first where WebGL has no GPU. TF.js loads only
 * here, for pages that need it.
 */
async function inDocumentScorer(modelBaseUrl, gpu) {
  const { createScorer, decodeImage } = await import('./lib/scorer.js');
  let scorer;
  if (!gpu) {
    try {
      scorer = await createScorer({ modelBaseUrl, backend: 'wasm' });
    } catch (error) {
      console.warn('offscreen: wasm failed; trying every backend', error);
    }
  }
  scorer ??= await createScorer({ modelBaseUrl });
  return {
    info: scorer.info,
    backend: scorer.backend,
    threads: scorer.threads,
    workers: 0,
    async scoreBlob(blob, { priority }) {
      // decoded outside the score slot: the next image decodes meanwhile
      const imageData = await decodeImage(blob);
      return scoreQueue.run(() => scorer.scoreImage(imageData), { priority });
    },
  };
}

/**
 * Scorer workers on wasm where WebGL has no GPU (a real GPU is best used by
 * one scorer: in this document), or where they cannot start (no module
 * workers) TF.js in this document. Either way: { info, backend, threads,
 * workers, scoreBlob(blob, { priority }) }.
 */
async function loadScorer() {
  const modelBaseUrl = chrome.runtime.getURL('model/');
  const gpu = webglOnGpu();
  if (!gpu) {
    try {
      return await createScorerPool({
        workerUrl: chrome.runtime.getURL('scorer-worker.js'),
        modelBaseUrl,
        size: SCORER_WORKERS,
      });
    } catch (error) {
      console.warn('offscreen: no scorer workers; scoring here', error);
    }
  }
  return inDocumentScorer(modelBaseUrl, gpu);
}

// the model loads once, behind one in-flight promise; a failure is retried
// on the next image
let scorerPromise;
function getScorer() {
  scorerPromise ??= loadScorer().catch((error) => {
    scorerPromise = undefined;
    throw error;
  });
  return scorerPromise;
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

async function sha256(text) {
  return sha256Hex(new TextEncoder().encode(text));
}

/** Cache key: the URL, or a hash of inline bytes (data: and blob: images). */
async function cacheKey({ src, dataUrl }) {
  return dataUrl ? `sha256:${await sha256(dataUrl)}` : src;
}

/**
 * The image's bytes: fetched here, or inline from the content script.
 *
 * `priority` ('high': the user asked for this image; 'low': a badge) orders
 * the queue and the request. Without the user's cookies first (privacy: the
 * site learns nothing new about who looks). An image its site shows only to
 * signed-in visitors (401/403) is asked for again with the site's cookies, as
 * the page itself did, only with `credentials: 'include'`, which the context
 * menu's check alone sends, and never for heatmaps that would put its pixels
 * into the page.
 */
function fetchBytes({ src, dataUrl }, { priority, credentials }) {
  return fetchQueue.run(
    async () => {
      const url = dataUrl ?? src;
      if (!/^(https?|data):/.test(url)) {
        throw new Error(`cannot fetch ${url.split(':')[0]}: images`);
      }
      const get = (withCookies) =>
        fetch(url, {
          credentials: withCookies,
          priority,
          signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        });
      const mayUseCookies = credentials === 'include';
      let response = await get('omit');
      if (SIGNED_IN_ONLY.has(response.status) && mayUseCookies) {
        response = await get('include');
      }
      if (SIGNED_IN_ONLY.has(response.status)) {
        throw new Error(
          mayUseCookies
            ? `the site refused this image even with your login (HTTP ${response.status})`
            : 'the site shows this image only to signed-in visitors; right-click it ' +
              'and choose "Check for deepfake" to check it with your login',
        );
      }
      if (!response.ok) {
        throw new Error(`the image answered HTTP ${response.status}`);
      }
      const blob = await response.blob();
      if (blob.size > MAX_IMAGE_BYTES) {
        throw new Error('the image file is over 40 MB');
      }
      return blob;
    },
    { priority },
  );
}

/** In-browser scores for one image: faces with raw P(fake), image size, timings. */
async function scoreInBrowser(image, access) {
  const started = performance.now();
  // the model loads while the bytes download and decode
  const scorerReady = getScorer();
  scorerReady.catch(() => {}); // awaited below; a failed download never gets there
  const blob = await fetchBytes(image, access);
  const fetched = performance.now();
  const { priority } = access;
  return pixelQueue.run(
    async () => {
      // what the file declares, from the same bytes; never part of the score
      const readStarted = performance.now();
      const provenance = await readProvenance(await blob.arrayBuffer());
      const provenanceMs = performance.now() - readStarted;
      const scorer = await scorerReady;
      const scored = await scorer.scoreBlob(blob, { priority });
      return {
        ...scored,
        provenance,
        timings: {
          ...scored.timings,
          provenanceMs,
          fetchMs: fetched - started,
          totalMs: performance.now() - started,
        },
      };
    },
    { priority },
  );
}

function modelOf(info) {
  return { name: info.name, version: info.version };
}

/** Verdicts under the user's threshold and band for cached raw scores. */
function browserResult(scored, scorer, settings) {
  const { info } = scorer;
  const { threshold, band, greyBand } = modelDecision(settings, info);
  const faces = scored.faces.map((face) => ({
    ...face,
    verdict: verdictFor(face.score, threshold, bandFor(face, band, greyBand)),
  }));
  const { verdict, score } = imageVerdict(faces, threshold, band, greyBand);
  return {
    verdict: verdictName(verdict),
    score,
    source: 'browser',
    faces,
    image: scored.image,
    model: modelOf(info),
    threshold,
    band,
    tfBackend: scorer.backend,
    tfThreads: scorer.threads,
    // images scored side by side in workers (0: in the offscreen document)
    tfWorkers: scorer.workers,
    timings: scored.timings,
    provenance: scored.provenance,
  };
}

function serverResult(answer, browser) {
  return {
    verdict: verdictName(answer.verdict),
    score: answer.score ?? null,
    source: 'server',
    faces: (answer.faces ?? []).map((face) => ({
      ...face,
      verdict: verdictName(face.verdict),
    })),
    image: answer.image,
    model: answer.model,
    elapsedMs: answer.elapsed_ms,
    browser: browser && { verdict: browser.verdict, score: browser.score },
    // the server validates Content Credentials; the browser only summarises them
    provenance: answer.provenance ?? browser?.provenance ?? null,
  };
}

/** Why the server should have a say, or '' when the browser's answer stands. */
function fallbackReason(result, info) {
  if (result.verdict === 'error') {
    return 'browser-failed';
  }
  if (result.verdict === 'uncertain') {
    return 'uncertain';
  }
  const size = info.input_size;
  const { width, height } = result.image;
  const large = Math.max(width, height) > LARGE_IMAGE_FACTOR * size;
  const smallFaces =
    result.faces.length > 0 &&
    result.faces.every((f) => Math.max(f.box[2], f.box[3]) < size);
  return large && smallFaces ? 'small-faces' : '';
}

/** `access`: { priority, credentials } for the fetch (heatmaps: never cookies). */
async function askServer(image, key, settings, explain, access) {
  const serverKey = [settings.backendUrl, settings.apiToken, explain, key].join(
    '\n',
  );
  return serverCache.remember(serverKey, async () =>
    scoreOnBackend(
      settings,
      await fetchBytes(image, {
        ...access,
        credentials: explain ? 'omit' : access.credentials,
      }),
      { explain },
    ),
  );
}

/** Check one image: in the browser, then the server where that falls short. */
async function checkImage({ src, dataUrl, settings, priority, credentials }) {
  const image = { src, dataUrl };
  const access = { priority, credentials };
  const key = await cacheKey(image);
  let result;
  let info;
  try {
    const scored = await localCache.remember(key, () =>
      scoreInBrowser(image, access),
    );
    const scorer = await getScorer();
    info = scorer.info;
    result = browserResult(scored, scorer, settings);
  } catch (error) {
    console.warn(`offscreen: could not score ${src.slice(0, 120)}`, error);
    result = {
      verdict: 'error',
      score: null,
      source: 'browser',
      faces: [],
      error: error.message,
    };
  }
  const reason = fallbackReason(result, info ?? {});
  if (!reason || !backendAllowed(settings)) {
    return result;
  }
  try {
    const answer = await askServer(image, key, settings, false, access);
    return serverResult(answer, result);
  } catch (error) {
    const status = error instanceof BackendError ? error.kind : 'down';
    return { ...result, fallback: { reason, status, message: error.message } };
  }
}

/** "Check at full resolution": the original bytes to the backend, with heatmaps. */
async function checkFullResolution({ src, dataUrl, settings, priority }) {
  if (settings.neverSendImages) {
    throw new BackendError(
      'off',
      'Full-resolution checks are off: this browser never sends images to a server.',
    );
  }
  const image = { src, dataUrl };
  const answer = await askServer(image, await cacheKey(image), settings, true, {
    priority,
    credentials: 'omit',
  });
  return serverResult(answer, null);
}

/**
 * "This is wrong": the image's hash, what the panel showed and the user's
 * label and note, to the user's backend; the image itself only when the user
 * ticked "include the image". Never with the privacy switch on.
 */
async function reportWrong({ src, dataUrl, settings, report, credentials }) {
  if (settings.neverSendImages) {
    throw new BackendError(
      'off',
      'Reports are off: this browser never sends anything to a server.',
    );
  }
  // fetched as its panel's verdict was: with cookies only from the context menu
  const blob = await fetchBytes(
    { src, dataUrl },
    { priority: 'high', credentials },
  );
  const fields = {
    // data: and blob: images have no address worth keeping
    url: /^https?:/.test(src) ? src : undefined,
    sha256: await sha256Hex(await blob.arrayBuffer()),
    verdict: report.verdict === 'no-face' ? 'no_face' : report.verdict,
    score: typeof report.score === 'number' ? report.score : '',
    model_version: report.modelVersion ?? '',
    label: report.label,
    note: report.note ?? '',
  };
  return sendReport(settings, fields, report.includeImage ? blob : null);
}

listen(TARGET.offscreen, {
  [MSG.reportWrong]: reportWrong,
  [MSG.scoreImage]: checkImage,
  [MSG.checkFullResolution]: checkFullResolution,
});
// the service worker waits for this instead of polling; the model starts
// loading now, before the first image asks for it
chrome.runtime
  .sendMessage(envelope(MSG.offscreenReady, TARGET.serviceWorker))
  .catch(() => {}); // no worker listening: the next one finds the document ready
getScorer().catch(() => {}); // a failure is retried with the first image
