"""Finding a TFLite interpreter: LiteRT when installed, else tflite-runtime.

Imported lazily so `tunegen --help` and `tunegen models` never pay for it.
"""

from __future__ import annotations

from .errors import ModelError


def interpreter_class() -> tuple[type, str]:
    """The Interpreter class of the first interpreter package that imports, and its name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        raise ModelError(
            "no TFLite interpreter is installed: pip install ai-edge-litert (or tflite-runtime)"
        ) from None
