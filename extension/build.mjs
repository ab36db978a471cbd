// Builds the loadable extension into dist/: bundles each runtime context's
// entry with esbuild (ES module build of TF.js, no eval, no remote code) and
// copies the static files beside them.
import * as esbuild from 'esbuild';
import {
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  existsSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';

// `node build.mjs [outdir] [--selftest]`: tests build a fresh copy into a
// folder of their own; --selftest adds the scoring self-test page, which the
// parity tests and benchmarks drive (a second copy of TF.js: never shipped)
const ARGS = process.argv.slice(2);
const OUT = ARGS.find((arg) => !arg.startsWith('--')) ?? 'dist';
const SELFTEST = ARGS.includes('--selftest');

// one bundle per runtime context; each path is relative to src/
const ENTRIES = [
  'service-worker.js',
  'popup.js',
  'options.js',
  'result.js',
  'files.js',
];
// the contexts that score: the offscreen document and its scorer workers
// (lib/scorer-pool.js). Built together with code splitting, so TF.js is one
// shared chunk (chunks/), loaded by the workers, and by the document only
// where it scores itself: workers must be files of the extension (MV3 allows
// no blob: or eval'd workers), and module workers import chunks like pages.
// The webgl and cpu backends are chunks of their own, which lib/scorer.js
// imports only when it tries them: the workers, on wasm, never load them
const SCORER_ENTRIES = ['offscreen.js', 'scorer-worker.js'];
// the self-test page: its own copy of TF.js, as a page that scores directly
const SELFTEST_ENTRIES = SELFTEST ? ['selftest.js'] : [];
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
  ['src/files.html', 'files.html'],
  ['src/pages.css', 'pages.css'],
  ...(SELFTEST ? [['src/selftest.html', 'selftest.html']] : []),
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', 'wasm/tfjs-backend-wasm.wasm'],
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', 'wasm/tfjs-backend-wasm-simd.wasm'],
  ['node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm', 'wasm/tfjs-backend-wasm-threaded-simd.wasm'],
];

// Threaded wasm without blob: URLs. tfjs-backend-wasm starts its pthread
// workers from a blob: worker script, and hands them the module factory as a
// Blob to importScripts; the extension CSP (script-src 'self', and MV3 allows
// no blob: there) blocks both, and the backend then waits forever. So both go
// into wasm/ as files and init() is rewritten to name them by URL: the
// worker's URL is found like the .wasm files' (the setWasmPaths prefix), and
// the worker's importScripts resolves the factory's bare name beside itself.
const WASM_OUT = 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out';
const THREADED_FACTORY = 'tfjs-backend-wasm-threaded-simd.js';
const THREADED_WORKER = 'tfjs-backend-wasm-threaded-simd.worker.js';
// the files esbuild bundles for `import ... from '@tensorflow/tfjs-backend-wasm'`
const BACKEND_WASM_FILE = /tfjs-backend-wasm[\\/]dist[\\/]backend_wasm\.js$/;
const THREADED_FACTORY_FILE = /tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;
// [what, pattern, replacement]: each must match exactly once, so a tfjs
// upgrade that moves this code fails the build instead of silently hanging
const BLOB_URL_PATCHES = [
  [
    'locateFile: the worker script as a blob: URL',
    /const response = wasmWorkerContents\.replace[^;]*;\s*const blob = new Blob\([^;]*;\s*return URL\.createObjectURL\(blob\);/g,
    'return (wasmPathPrefix != null ? wasmPathPrefix : prefix) + path;',
  ],
  [
    'mainScriptUrlOrBlob: the module factory as a Blob',
    /factoryConfig\.mainScriptUrlOrBlob = new Blob\(\[`var WasmBackendModuleThreadedSimd = ` \+\s*wasmFactoryThreadedSimd\.toString\(\)\], \{ type: 'text\/javascript' \}\);/g,
    `factoryConfig.mainScriptUrlOrBlob = '${THREADED_FACTORY}';`,
  ],
];
// tfjs' C++ caps XNNPACK's pool at half of emscripten_num_logical_cores
// (navigator.hardwareConcurrency), guessing two hyper-threads per core, so a
// 2-vCPU machine (most laptops' VMs, and CI) computes on one thread at twice
// the time a face. lib/scorer.js sizes the pool itself (setThreadsCount), so
// the factory reports twice the logical cores and the cap becomes theirs.
const CORE_COUNT_PATCHES = [
  [
    'emscripten_num_logical_cores: navigator.hardwareConcurrency',
    /function _emscripten_num_logical_cores\(\)\{if\(ENVIRONMENT_IS_NODE\)return require\("os"\)\.cpus\(\)\.length;return navigator\["hardwareConcurrency"\]\}/g,
    'function _emscripten_num_logical_cores(){return 2*(navigator["hardwareConcurrency"]||1)}',
  ],
];
// [file pattern, its patches] for the esbuild plugin below
const WASM_PATCHES = [
  [BACKEND_WASM_FILE, BLOB_URL_PATCHES],
  [THREADED_FACTORY_FILE, CORE_COUNT_PATCHES],
];

/** `contents` with each patch applied; throws where one does not match exactly once. */
function applyPatches(contents, patches, path) {
  for (const [what, pattern, replacement] of patches) {
    const found = contents.match(pattern)?.length ?? 0;
    if (found !== 1) {
      throw new Error(
        `build: ${what} matched ${found} times in ${path}, not once; ` +
          'tfjs-backend-wasm changed: update the patches in build.mjs.',
      );
    }
    contents = contents.replace(pattern, replacement);
  }
  return contents;
}

/** esbuild plugin: applies WASM_PATCHES, and fails the build if it could not. */
const threadedWasmFromFiles = {
  name: 'threaded-wasm-from-files',
  setup(build) {
    const patched = new Set();
    for (const [file, patches] of WASM_PATCHES) {
      build.onLoad({ filter: file }, ({ path }) => {
        patched.add(file);
        return { contents: applyPatches(readFileSync(path, 'utf8'), patches, path), loader: 'js' };
      });
    }
    build.onEnd((result) => {
      const missed = WASM_PATCHES.filter(([file]) => !patched.has(file));
      if (!result.errors.length && missed.length) {
        throw new Error(
          `build: no bundle loaded ${missed.map(([file]) => file).join(', ')}, so ` +
            'threaded wasm would use blob: URLs or one core in two; update WASM_PATCHES.',
        );
      }
    });
  },
};

/** The threaded build's worker and factory, as files in OUT/wasm/. */
function writeThreadedWasmScripts() {
  const require = createRequire(import.meta.url);
  const { wasmWorkerContents } = require(`./${WASM_OUT}/${THREADED_WORKER}`);
  // the worker ships as a template string, which turned its one "\n" inside a
  // string literal into a newline; escape it back, as tfjs does for its blob
  const worker = wasmWorkerContents.replace(/\n/g, '\\n');
  new vm.Script(worker, { filename: THREADED_WORKER }); // throws if not valid JS
  writeFileSync(`${OUT}/wasm/${THREADED_WORKER}`, worker);
  // the factory file, patched as the bundled copy is: it defines `var
  // WasmBackendModuleThreadedSimd`, the global the worker calls after importScripts
  const factory = `${WASM_OUT}/${THREADED_FACTORY}`;
  writeFileSync(
    `${OUT}/wasm/${THREADED_FACTORY}`,
    applyPatches(readFileSync(factory, 'utf8'), CORE_COUNT_PATCHES, factory),
  );
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const [from, to] of STATIC) {
  if (!existsSync(from)) {
    throw new Error(`build: ${from} is missing; run \`python -m converter\` for model/ or \`npm ci\` for node_modules/.`);
  }
  cpSync(from, `${OUT}/${to}`, { recursive: true });
}
writeThreadedWasmScripts();
// ES modules for the service worker, pages and scorers (those with TF.js
// take the wasm patches); an IIFE for content scripts
for (const [entries, format, plugins, splitting] of [
  [ENTRIES, 'esm', [], false],
  [SCORER_ENTRIES, 'esm', [threadedWasmFromFiles], true],
  [SELFTEST_ENTRIES, 'esm', [threadedWasmFromFiles], false],
  [CLASSIC_ENTRIES, 'iife', [], false],
]) {
  if (entries.length) {
    await esbuild.build({
      entryPoints: entries.map((e) => `src/${e}`),
      outdir: OUT,
      outbase: 'src',
      bundle: true,
      format,
      splitting,
      chunkNames: 'chunks/[name]-[hash]',
      target: 'chrome120',
      minify: true,
      sourcemap: false,
      logLevel: 'info',
      plugins,
    });
  }
}
console.log(`build: extension written to ${OUT}/`);
