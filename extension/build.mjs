// Builds the loadable extension into dist/: bundles each runtime context's
// entry with esbuild (ES module build of TF.js, no eval, no remote code) and
// copies the static files beside them.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync, existsSync } from 'node:fs';

// `node build.mjs [outdir]`: tests build a fresh copy into a folder of their own
const OUT = process.argv[2] ?? 'dist';

// one bundle per runtime context; each path is relative to src/
const ENTRIES = [
  'selftest.js', // scoring self-test page; the parity test drives it
  'service-worker.js',
  'offscreen.js',
  'popup.js',
  'options.js',
  'result.js',
];
// content scripts are classic scripts, not modules: bundled as an IIFE so
// nothing leaks into the isolated world's globals
const CLASSIC_ENTRIES = ['content.js'];

// copied as they are: [from, to] relative to this folder and dist/
const STATIC = [
  ['manifest.json', 'manifest.json'],
  ['model', 'model'],
  ['icons', 'icons'],
  ['src/offscreen.html', 'offscreen.html'],
  ['src/popup.html', 'popup.html'],
  ['src/options.html', 'options.html'],
  ['src/result.html', 'result.html'],
  ['src/pages.css', 'pages.css'],
  ['src/selftest.html', 'selftest.html'],
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', 'wasm/tfjs-backend-wasm.wasm'],
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', 'wasm/tfjs-backend-wasm-simd.wasm'],
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm', 'wasm/tfjs-backend-wasm-threaded-simd.wasm'],
];

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const [from, to] of STATIC) {
  if (!existsSync(from)) {
    throw new Error(`build: ${from} is missing; run \`python -m converter\` for model/ or \`npm ci\` for node_modules/.`);
  }
  cpSync(from, `${OUT}/${to}`, { recursive: true });
}
// ES modules for the worker and pages; an IIFE for content scripts
for (const [entries, format] of [
  [ENTRIES, 'esm'],
  [CLASSIC_ENTRIES, 'iife'],
]) {
  if (entries.length) {
    await esbuild.build({
      entryPoints: entries.map((e) => `src/${e}`),
      outdir: OUT,
      outbase: 'src',
      bundle: true,
      format,
      target: 'chrome120',
      minify: true,
      sourcemap: false,
      logLevel: 'info',
    });
  }
}
console.log(`build: extension written to ${OUT}/`);
