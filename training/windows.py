"""Whole tunes as id sequences for full-context evaluation, and their loss in bits per token
(training windows come from `batches`)."""

from __future__ import annotations

import numpy as np

from tunegen.runtime.vocab import Vocabulary


def padded_tunes(tunes: list, vocab: Vocabulary) -> list[np.ndarray]:
    """Whole tunes as id arrays (start + text + end), for full-context evaluation."""
    return [np.asarray(vocab.encode(t, wrap=True), np.int32) for t in tunes]


def length_batches(seqs: list[np.ndarray], batch: int):
    """Batches of similar-length sequences, padded with 0: yields (inputs, targets, mask)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for s in range(0, len(order), batch):
        group = [seqs[i] for i in order[s:s + batch]]
        t = max(len(g) for g in group) - 1
        x = np.zeros((len(group), t), np.int32)
        y = np.zeros((len(group), t), np.int32)
        for i, g in enumerate(group):
            x[i, :len(g) - 1] = g[:-1]
            y[i, :len(g) - 1] = g[1:]
        yield x, y, y != 0


def bits_per_char(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Summed negative log2-likelihood of the masked targets, and how many there were."""
    logits = logits.astype(np.float64)
    m = logits.max(-1, keepdims=True)
    logz = np.log(np.exp(logits - m).sum(-1)) + m[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], -1)[..., 0]
    nll = (logz - picked) / np.log(2)
    return float(nll[mask].sum()), int(mask.sum())
