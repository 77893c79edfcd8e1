"""tunegen: generate and play new tunes offline from small quantized LSTM models."""

__version__ = "0.1.0"
