"""Keras step model -> TFLite bytes, with the quantization variants tunegen ships."""

from __future__ import annotations

import tempfile

# variant -> the bound on how much worse (relative) its bits/char may be than the Keras model's
BOUNDS = {"dynamic-int8": 0.01, "float32": 0.001}
FORBIDDEN_OPS = ("WHILE", "FLEX", "CUSTOM")


def convert(step_model, quantization: str) -> bytes:
    """Convert a step model with builtin ops only.

    Dynamic-range int8 quantizes dense weights per tensor: the default per-channel scheme emits
    FULLY_CONNECTED v12, which tflite-runtime 2.14 cannot load.
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as d:
        step_model.export(d, format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization == "dynamic-int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv._experimental_disable_per_channel_quantization_for_dense_layers = True
        elif quantization != "float32":
            raise ValueError(f"unknown quantization {quantization!r}; choose from {', '.join(BOUNDS)}")
        return conv.convert()


def graph_ops(tflite_bytes: bytes) -> set[str]:
    """Names of the ops in a TFLite graph."""
    from tunegen.runtime.interpreter import interpreter_class

    cls, _ = interpreter_class()
    return {op["op_name"] for op in cls(model_content=tflite_bytes)._get_ops_details()}


def check_builtin(tflite_bytes: bytes) -> None:
    """Raise if the graph holds a loop, a Flex op or a custom op."""
    bad = sorted(op for op in graph_ops(tflite_bytes) if any(f in op.upper() for f in FORBIDDEN_OPS))
    if bad:
        raise RuntimeError(f"step graph holds ops a device runtime cannot run: {', '.join(bad)}")
