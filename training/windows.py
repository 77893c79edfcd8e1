"""Training windows: each tune wrapped in start/end, cut into tune-aligned windows."""

from __future__ import annotations

import numpy as np

from tunegen.runtime.vocab import Vocabulary


def tune_windows(tunes: list, vocab: Vocabulary, seq_len: int):
    """Inputs, targets and weights [n, seq_len]: every window starts inside one tune at a multiple
    of `seq_len` and never crosses into the next tune; padding has weight 0. A tune is a text
    (one token per character) or a list of tokens."""
    return id_windows(padded_tunes(tunes, vocab), seq_len)


def id_windows(seqs: list[np.ndarray], seq_len: int):
    """`tune_windows` of sequences already turned into ids (start ... end)."""
    xs, ys = [], []
    for ids in seqs:
        for s in range(0, len(ids) - 1, seq_len):
            xs.append(ids[s:s + seq_len])
            ys.append(ids[s + 1:s + seq_len + 1])
    x = np.zeros((len(xs), seq_len), np.int32)
    y = np.zeros((len(xs), seq_len), np.int32)
    for i, (a, b) in enumerate(zip(xs, ys, strict=True)):
        x[i, :len(a)] = a
        y[i, :len(b)] = b
    return x, y, (y != 0).astype(np.float32)


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
