// The in-browser scoring core: loads model-info.json and both graph models,
// and scores an image the way scoring.classifier.Classifier.score_image does.
//
// This is the one module that knows where the models are and how to load
// them. Every model constant (input size, margin, threshold, uncertain band,
// flip averaging, detector settings) is read from model-info.json, which the
// converter (`python -m converter`) writes; nothing here re-types them.
//
//   const scorer = await createScorer({ modelBaseUrl: 'model/' });
//   const imageData = await decodeImage(blob);
//   const { faces, image, timings } = await scorer.scoreImage(imageData);
//   const { verdict, score } = imageVerdict(faces, scorer.info.threshold,
//                                           scorer.info.uncertain_band);

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import { cropFace, detectFaces } from './faces.js';

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
// threaded wasm starts its workers from blob: URLs, which an extension's CSP
// blocks, and the backend then waits for them forever: single-threaded SIMD
const WASM_THREADS = false;

/** The verdict for one score: 'uncertain' inside [low, high), else fake at/above the threshold. */
export function verdictFor(score, threshold, band) {
  const [low, high] = band;
  if (low <= score && score < high) {
    return 'uncertain';
  }
  return score >= threshold ? 'fake' : 'real';
}

/**
 * An image is as suspicious as its most suspicious face:
 * { verdict, score } with verdict 'no_face' and score null when there is none.
 */
export function imageVerdict(faces, threshold, band) {
  if (!faces.length) {
    return { verdict: 'no_face', score: null };
  }
  let worst = faces[0];
  for (const face of faces) {
    if (face.score > worst.score) {
      worst = face;
    }
  }
  return {
    verdict: verdictFor(worst.score, threshold, band),
    score: worst.score,
  };
}

/**
 * Decode image bytes into ImageData the way scoring.faces.load_image does:
 * EXIF orientation applied, first frame of a GIF, no colour-profile
 * conversion, transparency composited onto white.
 */
export async function decodeImage(blob) {
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

async function tryBackend(name, wasmPath) {
  try {
    if (name === 'wasm') {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', WASM_THREADS);
      setWasmPaths(wasmPath);
    }
    if (!(await tf.setBackend(name))) {
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

async function chooseBackend(backend, wasmPath) {
  const wanted =
    backend === undefined || backend === null ? BACKENDS : [backend];
  for (const name of wanted) {
    if (await tryBackend(name, wasmPath)) {
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
 * { info, backend, scoreImage(imageData), dispose() }.
 */
export async function createScorer({ modelBaseUrl, backend, wasmPath } = {}) {
  const base = new URL(modelBaseUrl ?? 'model/', extensionUrl('')).href.replace(
    /\/?$/,
    '/',
  );
  const chosen = await chooseBackend(
    backend,
    wasmPath ?? extensionUrl(WASM_DIR),
  );
  const infoUrl = `${base}model-info.json`;
  const info = await fetchJson(infoUrl);
  checkInfo(info, infoUrl);
  const [detector, classifier] = await Promise.all([
    tf.loadGraphModel(base + info.face_detector.model),
    tf.loadGraphModel(base + info.model),
  ]);
  const size = info.input_size;

  // P(fake) for a batch of crops, averaged with the mirror images when the
  // model was shipped with flip averaging (Classifier.score_crops)
  function scoreCrops(crops) {
    const p = classifier.execute(crops).reshape([-1]);
    if (!info.tta_flip) {
      return p;
    }
    const mirrored = classifier.execute(tf.reverse(crops, 2)).reshape([-1]);
    return tf.div(tf.add(p, mirrored), 2);
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
    const rgb = tf.browser.fromPixels(imageData, 3);
    try {
      const t0 = performance.now();
      const found = await detectFaces(detector, rgb, info);
      const t1 = performance.now();
      let scores = [];
      if (found.length) {
        const p = tf.tidy(() =>
          scoreCrops(
            tf.stack(
              found.map((f) =>
                cropFace(rgb, f.box, info.margin, size, info.resize),
              ),
            ),
          ),
        );
        scores = Array.from(await p.data());
        p.dispose();
      }
      const t2 = performance.now();
      return {
        faces: found.map((f, i) => ({
          box: f.box,
          score: scores[i],
          confidence: f.confidence,
        })),
        image: { width, height },
        timings: { detectMs: t1 - t0, classifyMs: t2 - t1 },
      };
    } finally {
      rgb.dispose();
    }
  }

  function dispose() {
    detector.dispose();
    classifier.dispose();
  }

  return { info, backend: chosen, scoreImage, dispose };
}
