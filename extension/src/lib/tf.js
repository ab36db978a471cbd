// The TF.js the scorers run: tensors, ops and graph models. Not the
// @tensorflow/tfjs bundle, whose layers and data APIs, and webgl and cpu
// backends, every scorer worker parsed at start for nothing (1.3 MB of code
// against 0.6 MB now). The backends register where they are started: wasm in
// lib/scorer.js, webgl and cpu loaded by it only when they are tried.

// tensor.reshape() and the like, which @tensorflow/tfjs registers for its users
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

export * from '@tensorflow/tfjs-core';
export { loadGraphModel } from '@tensorflow/tfjs-converter';
