"""Finding a TFLite interpreter: LiteRT when installed, else tflite-runtime, else TensorFlow's own.

Imported lazily so `tunegen --help` and `tunegen models` never pay for it. `$TUNEGEN_INTERPRETER`
(`ai_edge_litert`, `tflite_runtime` or `tensorflow`) picks one package explicitly.
"""

from __future__ import annotations

import os
from importlib import metadata

from .errors import ModelError

PACKAGES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
DISTRIBUTIONS = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime",
                 "tensorflow": "tensorflow"}


def _import(package: str) -> type:
    if package == "ai_edge_litert":
        from ai_edge_litert.interpreter import Interpreter
    elif package == "tflite_runtime":
        from tflite_runtime.interpreter import Interpreter
    else:  # the last resort, only where neither interpreter package is installed
        import importlib

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import warnings

        # it says it is deprecated in favour of LiteRT, which is exactly what was not found
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        Interpreter = importlib.import_module("tensorflow").lite.Interpreter
    return Interpreter


def interpreter_class() -> tuple[type, str]:
    """The Interpreter class of the first interpreter package that imports, and its name."""
    wanted = os.environ.get("TUNEGEN_INTERPRETER", "").strip()
    if wanted:
        if wanted not in PACKAGES:
            raise ModelError(f"TUNEGEN_INTERPRETER={wanted} is not one of {', '.join(PACKAGES)}")
        try:
            return _import(wanted), wanted
        except ImportError as e:
            raise ModelError(f"TUNEGEN_INTERPRETER={wanted}, but it does not import ({e})") from None
    for package in PACKAGES:
        try:
            return _import(package), package
        except ImportError:
            continue
    raise ModelError("no TFLite interpreter is installed: pip install ai-edge-litert "
                     "(or tflite-runtime on an older device)")


def package_version(package: str) -> str:
    """The installed version of an interpreter package ('' when unknown)."""
    try:
        return metadata.version(DISTRIBUTIONS.get(package, package))
    except metadata.PackageNotFoundError:
        return ""


def _version_tuple(v: str) -> tuple[int, ...]:
    parts = []
    for x in v.split(".")[:3]:
        digits = "".join(c for c in x if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def runtime_fits(min_runtime: str, package: str, version: str) -> bool:
    """Whether an interpreter package at `version` can run a graph needing TFLite `min_runtime`.

    tflite-runtime and TensorFlow share TensorFlow's version numbers. LiteRT (ai-edge-litert) took
    over at TensorFlow 2.18: its 1.x releases count as 2.18, 2.x as 2.21."""
    if not min_runtime or not version:
        return True
    have = _version_tuple(version)
    if package == "ai_edge_litert":
        have = (2, 21, 0) if have >= (2,) else (2, 18, 0)
    return _version_tuple(min_runtime) <= have
