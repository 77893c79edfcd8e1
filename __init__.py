"""tunegen: generate and play new tunes offline from small quantized LSTM models.

    import tunegen
    piece = tunegen.load("folk").generate(seed=7)
    piece.save("tune.wav")
"""

from tunegen.runtime.errors import TunegenError

__version__ = "0.1.0"
__all__ = ["TunegenError", "load", "__version__"]


def __getattr__(name: str):
    # the API pulls in numpy and the interpreter: load it on first use, not on `import tunegen`
    if name == "load":
        from tunegen.runtime.api import load

        return load
    raise AttributeError(f"module 'tunegen' has no attribute {name!r}")
