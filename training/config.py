"""The settings of a training run, each checked once, here, where the config is built."""

from __future__ import annotations

from dataclasses import dataclass, fields

from tunegen.runtime.errors import ModelError

from . import kinds
from .devices import PRECISIONS, STRATEGIES


class ConfigError(ValueError):
    """A training setting out of its range; the message names it and what it takes."""


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved in the run folder as `config.json`."""

    corpus: str
    kind: str = "abc"  # a kind's short name: "abc" (characters) or "midi" (note events)
    transpose: int = 0  # MIDI: each epoch shifts every training piece by a random -N..N semitones
    embedding: int = 64
    units: int = 384
    layers: int = 2
    dropout: float = 0.15
    epochs: int = 40
    max_steps: int | None = None
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 2e-3
    patience: int = 3
    valid_percent: int = 10
    max_chars: int = 3000
    seed: int = 0
    strategy: str = "auto"  # auto, one, mirrored, multiworker (tf.distribute)
    precision: str = "float32"  # or "mixed": float16 compute, float32 logits and weights

    def __post_init__(self) -> None:
        try:
            kind = kinds.get(self.kind)
        except ModelError as e:
            raise ConfigError(str(e)) from None
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; use one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if min(self.layers, self.units, self.embedding, self.epochs, self.batch_size, self.seq_len,
               self.patience, self.max_chars) < 1 or not 0 <= self.dropout < 1 or self.lr <= 0 \
                or not 0 <= self.transpose <= 12 or not 0 <= self.valid_percent < 100 \
                or (self.max_steps is not None and self.max_steps < 1):
            raise ConfigError("sizes, epochs, patience, batch size, sequence length and steps must be "
                              "positive, dropout in [0, 1), lr > 0, transpose 0-12, valid percent 0-99")
        if self.transpose and not kind.transposes:
            raise ConfigError(f"{kind.kind.plural} cannot be transposed; leave transpose at 0")

    @classmethod
    def from_dict(cls, saved: dict) -> TrainConfig:
        """A config as a run folder saved it: options added since take their defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})
