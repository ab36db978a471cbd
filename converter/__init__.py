"""Keras model -> TensorFlow.js files for the extension (`python -m converter`)."""

import os

# TensorFlow turns oneDNN's graph rewrites on by itself on some CPUs (AVX-512
# with VNNI or bf16), and they fuse the exported graph differently (model.json
# gains a sigmoid-fused MatMul and shape notes): off, the same model makes the
# same browser files on every host, as the committed-files test checks. Set
# here, before any entry point (converter, converter.quantization) loads TensorFlow
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
