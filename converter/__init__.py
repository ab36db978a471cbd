"""Keras model -> TensorFlow.js files for the extension (`python -m converter`)."""
