// The in-browser scoring core: loads model-info.json and both graph models,
// and scores an image the way scoring.classifier.Classifier.score_image does.
//
// This is the one module that knows where the models are and how to load
// them. Every model constant (input size, margin, threshold, uncertain band,
// detector settings) is read from model-info.json, which the
// converter (`python -m converter`) writes; nothing here re-types them.
//
//   const scorer = await createScorer({ modelBaseUrl: 'model/' });
//   const imageData = await decodeImage(blob);
//   const { faces, image, timings } = await scorer.scoreImage(imageData);
//   const { verdict, score } = imageVerdict(faces, scorer.info.threshold,
//     scorer.info.uncertain_band, scorer.info.greyscale.uncertain_band);

import * as tf from './tf.js';
import {
  getThreadsCount,
  setThreadsCount,
  setWasmPaths,
} from '@tensorflow/tfjs-backend-wasm';

import { colourSpread, cropFace, detectFaces } from './faces.js';

// the verdict rules hold no TF.js: lib/verdicts.js, for pages that only judge scores
export { bandFor, imageVerdict, verdictFor } from './verdicts.js';

// tried in turn when the caller names no backend: fastest first, and cpu
// (pure JS, slow but always there) last
export const BACKENDS = ['webgl', 'wasm', 'cpu'];
// a webgl backend that cannot render to float32 textures computes in float16,
// which moves scores by more than the 0.01 the parity test allows
const WEBGL_NEEDS_FLOAT32 = true;
// model-info.json's format; the converter writes the same number
export const MODEL_INFO_FORMAT = 1;
// where build.mjs puts the wasm backend's binaries, relative to the extension
const WASM_DIR = 'wasm/';
// threaded wasm splits each layer across cores (its workers load from files
// in wasm/; build.mjs says why not blob: URLs). One core stays free for the
// page and the browser: the threads of a layer wait for each other, so on 2
// busy cores two threads took 2-4x the time a face of one (56-83 against
// 187-270 ms an image, load average 11), and they took the page's core.
// (tfjs would cap the pool at half the logical cores; build.mjs lifts it.)
const WASM_CORES_LEFT_FREE = 1;
// 4 at most: a 160 px MobileNetV2's layers are small, each split costs a
// sync, and the page needs cores too
const WASM_MAX_THREADS = 4;
// a threaded start whose workers never load hangs rather than fails: after
// this, start single-threaded instead (a good start, wasm compile included,
// takes about 1 s on 2 busy cores)
const WASM_THREADED_START_TIMEOUT_MS = 15000;

/**
 * Decode image bytes into ImageData the way scoring.faces.load_image does:
 * EXIF orientation applied, first frame of a GIF, no colour-profile
 * conversion, transparency composited onto white. A failure says so in the
 * words a user is shown.
 */
export async function decodeImage(blob) {
  try {
    return await pixelsOf(blob);
  } catch (error) {
    // HEIC, say, where this browser has no decoder for it
    throw new Error(`this browser cannot decode this image (${error.message})`);
  }
}

async function pixelsOf(blob) {
  const bitmap = await createImageBitmap(blob, {
    imageOrientation: 'from-image',
    // Pillow ignores embedded colour profiles; so must we, or scores differ
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'default',
  });
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, bitmap.width, bitmap.height);
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

function extensionUrl(path) {
  const runtime = globalThis.chrome?.runtime;
  if (runtime?.getURL) {
    return runtime.getURL(path);
  }
  return new URL(path, globalThis.location.href).href;
}

// the prefix handed to setWasmPaths, which throws once an init has aborted
let wasmPathSet;
// threads of the wasm backend this page started; it keeps them for good
let wasmThreads;

/** Resolve to false if `promise` has not settled within `ms`. */
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The wasm backend: threaded where the browser allows, else one thread. */
async function startWasm(wasmPath, maxThreads) {
  if (wasmPathSet !== wasmPath) {
    setWasmPaths(wasmPath);
    wasmPathSet = wasmPath;
  }
  const threads = Math.max(
    1,
    Math.min(
      (navigator.hardwareConcurrency || 1) - WASM_CORES_LEFT_FREE,
      maxThreads ?? WASM_MAX_THREADS,
    ),
  );
  if (
    threads > 1 &&
    (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'))
  ) {
    setThreadsCount(threads);
    const started = await within(
      tf.setBackend('wasm'),
      WASM_THREADED_START_TIMEOUT_MS,
    );
    if (started) {
      wasmThreads ??= getThreadsCount();
      return true;
    }
    console.warn('scorer: threaded wasm did not start; using one thread');
  }
  // tfjs picks the single-threaded SIMD binary (no idle workers), and a
  // fresh init supersedes a hung threaded one
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) {
    return false;
  }
  wasmThreads ??= getThreadsCount();
  return true;
}

// the backends other than wasm, imported the first time one is tried: the
// scorer workers, on wasm only, never load their code
const OTHER_BACKENDS = {
  webgl: () => import('@tensorflow/tfjs-backend-webgl'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
};

/** webgl or cpu: its code loaded, then started. */
async function startOther(name) {
  await OTHER_BACKENDS[name]();
  return tf.setBackend(name);
}

async function tryBackend(name, wasmPath, maxThreads) {
  try {
    const started =
      name === 'wasm'
        ? await startWasm(wasmPath, maxThreads)
        : await startOther(name);
    if (!started) {
      return false;
    }
    await tf.ready();
    if (
      name === 'webgl' &&
      WEBGL_NEEDS_FLOAT32 &&
      !tf.env().getBool('WEBGL_RENDER_FLOAT32_CAPABLE')
    ) {
      console.warn(
        'scorer: webgl renders in float16 only; trying the next backend',
      );
      return false;
    }
    return true;
  } catch (e) {
    console.warn(`scorer: backend ${name} failed (${e.message})`);
    return false;
  }
}

async function chooseBackend(backend, wasmPath, maxThreads) {
  const wanted =
    backend === undefined || backend === null ? BACKENDS : [backend];
  for (const name of wanted) {
    if (await tryBackend(name, wasmPath, maxThreads)) {
      return tf.getBackend();
    }
  }
  throw new Error(
    `scorer: no TF.js backend of ${wanted.join(', ')} starts here; ` +
      "for 'wasm' check that dist/wasm/ holds the .wasm files and the " +
      "manifest's CSP allows 'wasm-unsafe-eval'.",
  );
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(
      `scorer: ${url} answered ${response.status}; run \`python -m converter\` ` +
        'and `npm run build` so the extension holds model/.',
    );
  }
  return response.json();
}

function checkInfo(info, url) {
  if (info.format !== MODEL_INFO_FORMAT) {
    throw new Error(
      `scorer: ${url} has format ${info.format}, this code reads ` +
        `${MODEL_INFO_FORMAT}; rebuild the extension with the converter's output.`,
    );
  }
}

/**
 * Load model-info.json and both graph models from modelBaseUrl, pick a
 * backend (undefined: webgl, then wasm, then cpu), warm up once, and return
 * { info, backend, threads, scoreImage(imageData), dispose() }; threads is
 * how many threads wasm computes with (1: single-threaded), null elsewhere.
 * maxThreads caps wasm's threads (1: single-threaded); a page's first wasm
 * start fixes them.
 */
export async function createScorer({
  modelBaseUrl,
  backend,
  wasmPath,
  maxThreads,
} = {}) {
  const base = new URL(modelBaseUrl ?? 'model/', extensionUrl('')).href.replace(
    /\/?$/,
    '/',
  );
  const chosen = await chooseBackend(
    backend,
    wasmPath ?? extensionUrl(WASM_DIR),
    maxThreads,
  );
  const infoUrl = `${base}model-info.json`;
  const info = await fetchJson(infoUrl);
  checkInfo(info, infoUrl);
  const [detector, classifier] = await Promise.all([
    tf.loadGraphModel(base + info.face_detector.model),
    tf.loadGraphModel(base + info.model),
  ]);
  const size = info.input_size;

  // P(fake) for a batch of crops, one pass each (Classifier.score_crops)
  function scoreCrops(crops) {
    return classifier.execute(crops).reshape([-1]);
  }

  // warm up once: compiles shaders / wasm kernels before the first real image
  tf.tidy(() => {
    scoreCrops(tf.zeros([1, size, size, 3]));
    detector.execute(
      tf.zeros([
        1,
        info.face_detector.input_size,
        info.face_detector.input_size,
        3,
      ]),
      info.face_detector.output_names,
    );
  });

  async function scoreImage(imageData) {
    const { width, height } = imageData;
    const t0 = performance.now();
    const found = await detectFaces(detector, imageData, info);
    const t1 = performance.now();
    let scores = [];
    let spreads = [];
    if (found.length) {
      const [p, spread] = tf.tidy(() => {
        const crops = found.map((f) =>
          cropFace(imageData, f.box, info.margin, size, info.resize),
        );
        return [
          scoreCrops(tf.stack(crops)),
          tf.stack(crops.map((c) => colourSpread(c, info.greyscale.top_share))),
        ];
      });
      [scores, spreads] = (await Promise.all([p.data(), spread.data()])).map(
        (values) => Array.from(values),
      );
      p.dispose();
      spread.dispose();
    }
    const t2 = performance.now();
    return {
      faces: found.map((f, i) => ({
        box: f.box,
        score: scores[i],
        confidence: f.confidence,
        // black-and-white: judged with info.greyscale.uncertain_band
        greyscale: spreads[i] <= info.greyscale.max_spread,
      })),
      image: { width, height },
      timings: { detectMs: t1 - t0, classifyMs: t2 - t1 },
    };
  }

  function dispose() {
    detector.dispose();
    classifier.dispose();
  }

  const threads = chosen === 'wasm' ? wasmThreads : null;
  return { info, backend: chosen, threads, scoreImage, dispose };
}
