"""Keras step model -> TFLite bytes in each quantization tunegen offers, and what a graph needs."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable

# variant -> how much worse (relative) its validation loss may be than the Keras model's
BOUNDS = {"float32": 0.001, "float16": 0.005, "dynamic-int8": 0.01, "int8": 0.05}
FORBIDDEN_OPS = ("WHILE", "FLEX", "CUSTOM")
# interpreter targets -> the TensorFlow version whose TFLite runtime they carry
TARGETS = {"tflite-runtime-2.14": "2.14.0", "litert": "2.18.0"}


def check_choices(variants: tuple[str, ...], targets: tuple[str, ...]) -> None:
    """Raise ValueError unless every variant is one of BOUNDS, given once, and every target one of
    TARGETS."""
    bad = [v for v in variants if v not in BOUNDS] + [t for t in targets if t not in TARGETS]
    if bad:
        raise ValueError(f"unknown --quantize/--target value {', '.join(bad)}; --quantize takes "
                         f"{', '.join(BOUNDS)}; --target takes {', '.join(TARGETS)}")
    if len(set(variants)) != len(variants):
        raise ValueError("each --quantize variant may be given once")


def convert(step_model, quantization: str,
            representative: Callable[[], Iterable[dict]] | None = None) -> bytes:
    """Convert a step model with builtin ops only.

    Dynamic-range int8 quantizes dense weights per tensor: the default per-channel scheme emits
    FULLY_CONNECTED v12, which tflite-runtime 2.14 cannot load. Full int8 also quantizes
    activations, calibrated on `representative()` (dicts keyed by input name); the token input stays
    int32 and the state and logits stay float at the graph's edge.
    """
    import warnings

    import tensorflow as tf

    if quantization not in BOUNDS:
        raise ValueError(f"unknown quantization {quantization!r}; choose from {', '.join(BOUNDS)}")
    with tempfile.TemporaryDirectory() as d:
        step_model.export(d, format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(d)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "float32":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv._experimental_disable_per_channel_quantization_for_dense_layers = True
        if quantization == "float16":
            conv.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            if representative is None:
                raise ValueError("full int8 needs a representative dataset")
            conv.representative_dataset = representative
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                              tf.lite.OpsSet.TFLITE_BUILTINS]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")  # its calibrator's
            return conv.convert()


def graph_ops(tflite_bytes: bytes) -> set[str]:
    """Names of the ops in a TFLite graph."""
    return set(op_versions(tflite_bytes))


def op_versions(tflite_bytes: bytes) -> dict[str, int]:
    """Each builtin op of a graph with the highest version it is used at."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(tflite_bytes, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops: dict[str, int] = {}
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        name = f"CUSTOM:{custom.decode()}" if custom else names.get(
            max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN")
        ops[name] = max(ops.get(name, 0), code.Version())
    return ops


def min_runtime(tflite_bytes: bytes) -> str:
    """The lowest TFLite runtime (a TensorFlow version) the graph's op versions need, as the
    converter recorded it in the model's `min_runtime_version` metadata."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(tflite_bytes, 0)
    for i in range(model.MetadataLength()):
        meta = model.Metadata(i)
        if meta.Name() == b"min_runtime_version":
            raw = bytes(model.Buffers(meta.Buffer()).DataAsNumpy())
            return raw.split(b"\0")[0].decode()
    return ""


def check_builtin(tflite_bytes: bytes) -> None:
    """Raise if the graph holds a loop, a Flex op or a custom op."""
    bad = sorted(op for op in graph_ops(tflite_bytes) if any(f in op.upper() for f in FORBIDDEN_OPS))
    if bad:
        raise RuntimeError(f"step graph holds ops a device runtime cannot run: {', '.join(bad)}")
