// The scoring self-test page: runs lib/scorer.js, the code the offscreen
// document uses, on image URLs and reports plain JSON. The parity test calls
// window.selftest from Selenium; a person can pass ?urls=...&backend=....

import * as tf from '@tensorflow/tfjs';

import {
  createScorer,
  decodeImage,
  imageVerdict,
  verdictFor,
} from './lib/scorer.js';

let scorerPromise;
let scorerBackend;

/** Load the scorer once (backend: 'webgl', 'wasm', 'cpu' or undefined for the default order). */
async function load(backend) {
  if (scorerPromise && scorerBackend !== backend) {
    (await scorerPromise).dispose();
    scorerPromise = undefined;
  }
  scorerBackend = backend;
  scorerPromise ??= createScorer({
    modelBaseUrl: chrome.runtime.getURL('model/'),
    backend,
  });
  const scorer = await scorerPromise;
  const { name, version, quantization } = scorer.info;
  return { backend: scorer.backend, name, version, quantization };
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
  const { threshold, uncertain_band: band } = scorer.info;
  return {
    ...result,
    ...imageVerdict(result.faces, threshold, band),
    backend: scorer.backend,
    info: { threshold, uncertain_band: band },
  };
}

window.selftest = {
  load,
  score,
  // live tensors: scoring must leave none behind
  tensors: () => Promise.resolve(tf.memory().numTensors),
  verdictFor: ([s, threshold, band]) =>
    Promise.resolve(verdictFor(s, threshold, band)),
};

const params = new URLSearchParams(location.search);
if (params.has('urls')) {
  const out = document.getElementById('out');
  const backend = params.get('backend') || undefined;
  load(backend)
    .then(async () => {
      for (const url of params.get('urls').split(',')) {
        out.textContent += `${url}\n${JSON.stringify(await score(url))}\n`;
      }
    })
    .catch((e) => {
      out.textContent += `error: ${e.message}\n`;
    });
}
