"""Shipped models: each a `.tflite` with its JSON manifest beside it."""
