"""Bits per character of validation tunes read through an exported step graph."""

from __future__ import annotations

import numpy as np

from tunegen.runtime.model import StepModel
from tunegen.runtime.vocab import Vocabulary
from tunegen.training.windows import bits_per_char, length_batches, padded_tunes


def step_bits(model: StepModel, tunes: list[str], vocab: Vocabulary, batch: int = 64,
              progress=None) -> float:
    """Full-context bits/char of `tunes`, fed token by token through the step graph, many tunes
    at once."""
    total, count = 0.0, 0
    for x, y, mask in length_batches(padded_tunes(tunes, vocab), batch):
        state = model.zero_state(len(x))
        logits = np.empty(x.shape + (len(vocab),), np.float32)
        for t in range(x.shape[1]):
            logits[:, t], state = model.step(x[:, t], state)
            if progress:
                progress()
        s, n = bits_per_char(logits, y, mask)
        total, count = total + s, count + n
    return total / max(count, 1)
