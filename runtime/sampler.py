"""Turning logits into a choice: temperature, top-k and top-p (nucleus) over numpy."""

from __future__ import annotations

import numpy as np


def _softmax(z: np.ndarray) -> tuple[np.ndarray, float]:
    """exp(z - max z) and its sum, the two halves of a softmax."""
    e = np.exp(z - z.max())
    return e, float(e.sum())


def distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0) -> np.ndarray:
    """Probabilities [vocab] after temperature, then top-k, then top-p filtering."""
    return _filtered(logits.astype(np.float64) / max(temperature, 1e-6), top_k, top_p)[0]


def _filtered(z: np.ndarray, top_k: int, top_p: float) -> tuple[np.ndarray, tuple | None]:
    """`distribution` of scaled logits `z`, and the unfiltered softmax halves where no top-k cut
    changed them (a log-probability at temperature 1 reuses them)."""
    softmax = None
    if 0 < top_k < len(z):
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    else:
        softmax = _softmax(z)
    e, total = softmax or _softmax(z)
    p = e / total
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        keep = order[: int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p, softmax


def choose(p: np.ndarray, rng: np.random.Generator, allowed, copy: bool = True) -> int:
    """Draw from `p`, redrawing without any choice `allowed(i)` refuses; if nothing sampled is
    allowed, the most likely allowed choice. Returns -1 when nothing at all is allowed.
    (`copy=False` lets it zero refused choices of `p` in place.)"""
    if copy:
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


def pick(row: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator,
         allowed) -> tuple[int, float]:
    """One sampling step: a choice from logits `row` that `allowed` accepts (falling back to the
    model's own distribution when the filtered choices are all refused), and its log-probability
    under the model. (-1, 0.0) when nothing is allowed."""
    z = row.astype(np.float64)
    scaled = z / max(temperature, 1e-6)
    p, softmax = _filtered(scaled, top_k, top_p)
    i = choose(p, rng, allowed, copy=False)
    if i < 0:  # the filtered choices were all refused: take the model's best allowed one
        i = choose(distribution(row, 1.0), rng, allowed, copy=False)
    if i < 0:
        return -1, 0.0
    # at temperature 1 the scaled logits are the logits, and their softmax is already known
    e, total = softmax if softmax is not None and temperature == 1.0 else _softmax(z)
    return i, float(z[i] - z.max() - np.log(total))
