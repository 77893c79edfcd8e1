"""Turning logits into a choice: temperature, top-k and top-p (nucleus) over numpy."""

from __future__ import annotations

import numpy as np


def distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0) -> np.ndarray:
    """Probabilities [vocab] after temperature, then top-k, then top-p filtering."""
    z = logits.astype(np.float64) / max(temperature, 1e-6)
    if 0 < top_k < len(z):
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p


def choose(p: np.ndarray, rng: np.random.Generator, allowed) -> int:
    """Draw from `p`, redrawing without any choice `allowed(i)` refuses; if nothing sampled is
    allowed, the most likely allowed choice. Returns -1 when nothing at all is allowed."""
    p = p.copy()
    for _ in range(8):
        total = p.sum()
        if total <= 0:
            break
        i = int(np.searchsorted(np.cumsum(p), rng.random() * total, side="right"))
        i = min(i, len(p) - 1)
        if p[i] > 0 and allowed(i):
            return i
        p[i] = 0.0
    for i in np.argsort(-p, kind="stable"):
        if p[i] > 0 and allowed(int(i)):
            return int(i)
    return -1
