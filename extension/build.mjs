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
// the file esbuild bundles for `import ... from '@tensorflow/tfjs-backend-wasm'`
const BACKEND_WASM_FILE = /tfjs-backend-wasm[\\/]dist[\\/]backend_wasm\.js$/;
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

/** esbuild plugin: applies BLOB_URL_PATCHES, and fails the build if it could not. */
const threadedWasmFromFiles = {
  name: 'threaded-wasm-from-files',
  setup(build) {
    let patched = 0;
    build.onLoad({ filter: BACKEND_WASM_FILE }, ({ path }) => {
      let contents = readFileSync(path, 'utf8');
      for (const [what, pattern, replacement] of BLOB_URL_PATCHES) {
        const found = contents.match(pattern)?.length ?? 0;
        if (found !== 1) {
          throw new Error(
            `build: ${what} matched ${found} times in ${path}, not once; ` +
              'tfjs-backend-wasm changed: update BLOB_URL_PATCHES.',
          );
        }
        contents = contents.replace(pattern, replacement);
      }
      patched += 1;
      return { contents, loader: 'js' };
    });
    build.onEnd((result) => {
      if (!result.errors.length && !patched) {
        throw new Error(
          'build: no bundle loaded tfjs-backend-wasm/dist/backend_wasm.js, so ' +
            'threaded wasm would still use blob: URLs; update BACKEND_WASM_FILE.',
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
  // the factory file as it is: it defines `var WasmBackendModuleThreadedSimd`,
  // the global the worker calls after importScripts
  cpSync(`${WASM_OUT}/${THREADED_FACTORY}`, `${OUT}/wasm/${THREADED_FACTORY}`);
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
// ES modules for the worker and pages (they hold TF.js); an IIFE for content
// scripts
for (const [entries, format, plugins] of [
  [ENTRIES, 'esm', [threadedWasmFromFiles]],
  [CLASSIC_ENTRIES, 'iife', []],
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
      plugins,
    });
  }
}
console.log(`build: extension written to ${OUT}/`);
