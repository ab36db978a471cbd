// The scoring self-test page: runs lib/scorer.js and lib/provenance.js, the
// code the offscreen document uses, on image URLs and reports plain JSON. The
// parity tests call window.selftest from Selenium; a person can pass
// ?urls=...&backend=...
// (&threads=1 for single-threaded wasm).

import * as tf from './lib/tf.js';

import { readProvenance } from './lib/provenance.js';
import {
  createScorer,
  decodeImage,
  imageVerdict,
  verdictFor,
} from './lib/scorer.js';

let scorerPromise;
let scorerKey;

/**
 * Load the scorer once. `options` is a backend name ('webgl', 'wasm', 'cpu';
 * undefined for the default order) or { backend, threads }: threads caps
 * wasm's threads, and only a fresh page's first wasm load can set them.
 */
async function load(options) {
  const { backend, threads } =
    typeof options === 'object' && options ? options : { backend: options };
  const key = `${backend}/${threads}`;
  if (scorerPromise && scorerKey !== key) {
    (await scorerPromise).dispose();
    scorerPromise = undefined;
  }
  scorerKey = key;
  scorerPromise ??= createScorer({
    modelBaseUrl: chrome.runtime.getURL('model/'),
    backend,
    maxThreads: threads,
  });
  const scorer = await scorerPromise;
  const { name, version, quantization } = scorer.info;
  return {
    backend: scorer.backend,
    threads: scorer.threads,
    cores: navigator.hardwareConcurrency,
    name,
    version,
    quantization,
  };
}

/** Fetch, decode and score one image URL; JSON-friendly. */
async function score(url) {
  const scorer = await scorerPromise;
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url} answered ${response.status}`);
  }
  const imageData = await decodeImage(await response.blob());
  const result = await scorer.scoreImage(imageData);
  const { threshold, uncertain_band: band, greyscale } = scorer.info;
  return {
    ...result,
    ...imageVerdict(result.faces, threshold, band, greyscale.uncertain_band),
    backend: scorer.backend,
    threads: scorer.threads,
    info: { threshold, uncertain_band: band, greyscale },
  };
}

/** What the file at `url` declares, read as the offscreen document reads it, and how long that took. */
async function provenance(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url} answered ${response.status}`);
  }
  const bytes = await response.arrayBuffer();
  const started = performance.now();
  const read = await readProvenance(bytes);
  return { provenance: read, ms: performance.now() - started };
}

window.selftest = {
  load,
  score,
  provenance,
  // live tensors: scoring must leave none behind
  tensors: () => Promise.resolve(tf.memory().numTensors),
  verdictFor: ([s, threshold, band]) =>
    Promise.resolve(verdictFor(s, threshold, band)),
};

const params = new URLSearchParams(location.search);
if (params.has('urls')) {
  const out = document.getElementById('out');
  const backend = params.get('backend') || undefined;
  const threads = Number(params.get('threads')) || undefined;
  load({ backend, threads })
    .then(async () => {
      for (const url of params.get('urls').split(',')) {
        out.textContent += `${url}\n${JSON.stringify(await score(url))}\n`;
      }
    })
    .catch((e) => {
      out.textContent += `error: ${e.message}\n`;
    });
}
