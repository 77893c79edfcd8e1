"""The char-level LSTM: Embedding -> stacked LSTM -> Dense over the vocabulary."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class ModelConfig:
    """Sizes of the model; saved with every run so a checkpoint always rebuilds the same model."""

    vocab_size: int
    embedding: int = 64
    units: int = 384
    layers: int = 2
    dropout: float = 0.15

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(cfg: ModelConfig):
    """A Keras model mapping token ids [batch, time] to next-token logits [batch, time, vocab].

    Plain LSTM layers with default activations and no recurrent dropout, so a GPU runs them on
    cuDNN; dropout sits between layers instead.
    """
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(cfg.vocab_size, cfg.embedding, name="embedding")(tokens)
    for i in range(cfg.layers):
        x = keras.layers.LSTM(cfg.units, return_sequences=True, name=f"lstm{i}")(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    # float32 logits even under mixed precision: the softmax and the loss need the range
    logits = keras.layers.Dense(cfg.vocab_size, name="logits", dtype="float32")(x)
    return keras.Model(tokens, logits, name="tunegen_char_lstm")
