// One scorer of lib/scorer-pool.js's pool: a module Worker that loads the
// model with lib/scorer.js and, for each image Blob it is sent, decodes and
// scores it off the offscreen document's thread. Single-threaded on small
// machines: two of these score two images at once on two cores without the
// per-layer syncs of threaded wasm, which spin-wait on busy cores.
//
// Protocol (lib/scorer-pool.js is the other side):
//   in:  { type: 'start', modelBaseUrl, maxThreads, lockName }
//        { type: 'score', id, blob }
//   out: { type: 'locked' }  (holds lockName until this worker ends)
//        { type: 'ready', info, backend, threads } | { type: 'failed', error }
//        { type: 'scored', id, faces, image, timings } | { type: 'scored', id, error }

import { createScorer, decodeImage } from './lib/scorer.js';

let scorerPromise;

/**
 * Hold `lockName` for as long as this worker lives: the pool asks for the
 * same lock and is granted it the moment the worker ends (terminated,
 * closed or crashed), which no Worker event reports.
 */
function holdLock(lockName) {
  return new Promise((granted) => {
    navigator.locks.request(lockName, () => {
      granted();
      return new Promise(() => {}); // never released while alive
    });
  });
}

async function start({ modelBaseUrl, maxThreads, lockName }) {
  await holdLock(lockName);
  postMessage({ type: 'locked' });
  try {
    // wasm as today's offscreen document picks it where WebGL has no GPU;
    // the pool is only started there
    scorerPromise = createScorer({ modelBaseUrl, backend: 'wasm', maxThreads });
    const { info, backend, threads } = await scorerPromise;
    postMessage({ type: 'ready', info, backend, threads });
  } catch (error) {
    postMessage({ type: 'failed', error: error.message });
  }
}

async function score({ id, blob }) {
  try {
    const scorer = await scorerPromise;
    const decodeStarted = performance.now();
    const imageData = await decodeImage(blob);
    const decodeMs = performance.now() - decodeStarted;
    const { faces, image, timings } = await scorer.scoreImage(imageData);
    postMessage({
      type: 'scored',
      id,
      faces,
      image,
      timings: { ...timings, decodeMs },
    });
  } catch (error) {
    postMessage({ type: 'scored', id, error: error.message });
  }
}

addEventListener('message', ({ data }) => {
  switch (data?.type) {
    case 'start':
      start(data);
      break;
    case 'score':
      score(data);
      break;
    default:
      console.warn(`scorer-worker: unknown message type ${data?.type}`);
  }
});
