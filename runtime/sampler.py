"""Turning logits into a choice: temperature, top-k and top-p (nucleus) over numpy."""

from __future__ import annotations

import numpy as np


class Prepared:
    """One row's sampling arithmetic, done for a whole batch at once (`prepare`): the choices in
    order of probability after temperature and top-k, their running total, how many top-p keeps,
    and the log-sum-exp of the logits (a choice's log-probability under the model is its logit
    less that)."""

    __slots__ = ("order", "ranked", "cum", "kept", "lse")

    def __init__(self, order, ranked, cum, kept: int, lse: float) -> None:
        self.order, self.ranked, self.cum, self.kept, self.lse = order, ranked, cum, kept, lse


def prepare(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> list[Prepared]:
    """`Prepared` rows for logits [batch, vocab]: one numpy pass for every row of a batch."""
    if len(logits) == 1:
        return [_prepare_row(logits[0], temperature, top_k, top_p)]
    z = logits.astype(np.float64)
    scaled = z / max(temperature, 1e-6) if temperature != 1.0 else z
    if 0 < top_k < z.shape[1]:
        kth = np.partition(scaled, -top_k, axis=1)[:, -top_k][:, None]
        scaled = np.where(scaled >= kth, scaled, -np.inf)
    peak = scaled.max(axis=1, keepdims=True)
    e = np.exp(scaled - peak)
    order = np.argsort(-e, axis=1, kind="stable")
    ranked = np.take_along_axis(e, order, 1)
    cum = np.cumsum(ranked, axis=1)
    total = cum[:, -1:]
    kept = ((cum < top_p * total).sum(axis=1) + 1 if top_p < 1.0 else (ranked > 0).sum(axis=1)).tolist()
    if scaled is z:  # at temperature 1 without top-k the softmax's sum is already known
        lse = (peak + np.log(total))[:, 0]
    else:
        zpeak = z.max(axis=1, keepdims=True)
        lse = (zpeak + np.log(np.exp(z - zpeak).sum(axis=1, keepdims=True)))[:, 0]
    return [Prepared(order[k], ranked[k], cum[k], min(kept[k], z.shape[1]), float(lse[k]))
            for k in range(len(z))]


def _prepare_row(row: np.ndarray, temperature: float, top_k: int, top_p: float) -> Prepared:
    """`prepare` for one row, the same numbers bit for bit in half the time: a batch of one pays
    for every numpy call, so this one makes as few as the arithmetic needs."""
    z = row.astype(np.float64)
    scaled = z / max(temperature, 1e-6) if temperature != 1.0 else z
    if 0 < top_k < len(z):
        kth = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled >= kth, scaled, -np.inf)
    peak = scaled[scaled.argmax()]
    e = np.exp(scaled - peak)
    order = (-e).argsort(kind="stable")
    ranked = e[order]
    cum = np.add.accumulate(ranked)
    total = cum[-1]
    # cum never falls: the count of its entries below a bound is where the bound would go
    kept = int(cum.searchsorted(top_p * total)) + 1 if top_p < 1.0 else int(np.count_nonzero(ranked))
    if scaled is z:
        lse = float(peak + np.log(total))
    else:
        zpeak = z[z.argmax()]
        lse = float(zpeak + np.log(np.add.reduce(np.exp(z - zpeak))))
    return Prepared(order, ranked, cum, min(kept, len(z)), lse)


class Batch:
    """A batch's logits with the sampling settings its rows are drawn with; the arithmetic is
    done once for every row, when the first row asks (steps whose logits nobody draws from, a
    forced token's, cost nothing)."""

    __slots__ = ("logits", "settings", "_rows")

    def __init__(self, logits: np.ndarray, settings: tuple[float, int, float]) -> None:
        self.logits, self.settings, self._rows = logits, settings, None

    def row(self, k: int) -> Prepared:
        if self._rows is None:
            self._rows = prepare(self.logits, *self.settings)
        return self._rows[k]


def _draw(prep: Prepared, rng: np.random.Generator, allowed) -> int:
    """A choice among the kept ones, redrawn without those `allowed` refuses; the likeliest allowed
    one when no draw is; -1 when none is."""
    kept, order = prep.kept, prep.order
    cum, ranked = prep.cum[:kept], None
    for _ in range(8):
        total = cum[-1]
        if total <= 0:
            break
        j = min(int(cum.searchsorted(rng.random() * total, "right")), kept - 1)
        i = int(order[j])
        if (ranked is None or ranked[j] > 0) and allowed(i):
            return i
        if ranked is None:
            ranked = prep.ranked[:kept].copy()
        ranked[j] = 0.0
        cum = np.cumsum(ranked)
    weights = prep.ranked[:kept] if ranked is None else ranked
    for j in range(kept):
        if weights[j] > 0 and allowed(int(order[j])):
            return int(order[j])
    return -1


def pick(row: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator,
         allowed, prepared: Prepared | tuple[Batch, int] | None = None) -> tuple[int, float]:
    """One sampling step: a choice from logits `row` that `allowed` accepts (falling back to the
    model's own distribution when the filtered choices are all refused), and its log-probability
    under the model. (-1, 0.0) when nothing is allowed. `prepared` is the row as `prepare` made it
    for a whole batch, or (the `Batch`, the row's index)."""
    if isinstance(prepared, tuple):
        prepared = prepared[0].row(prepared[1])
    prep = prepared or prepare(row[None, :], temperature, top_k, top_p)[0]
    i = _draw(prep, rng, allowed)
    if i < 0:  # the filtered choices were all refused: take from the model's whole distribution
        i = _draw(prepare(row[None, :], 1.0, 0, 1.0)[0], rng, allowed)
    if i < 0:
        return -1, 0.0
    return i, float(row[i]) - prep.lse


def distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0) -> np.ndarray:
    """Probabilities [vocab] after temperature, then top-k, then top-p filtering (what `prepare`
    draws from, in the vocabulary's order)."""
    prep = prepare(np.asarray(logits)[None, :], temperature, top_k, top_p)[0]
    p = np.zeros(len(prep.order))
    p[prep.order[:prep.kept]] = prep.ranked[:prep.kept] / prep.cum[prep.kept - 1]
    return p


def choose(p: np.ndarray, rng: np.random.Generator, allowed) -> int:
    """Draw from probabilities `p` as `pick` draws: redrawing without any choice `allowed(i)`
    refuses, then the most likely allowed one; -1 when nothing at all is allowed."""
    order = np.argsort(-p, kind="stable")
    ranked = np.asarray(p, np.float64)[order]
    kept = int(np.count_nonzero(ranked))
    return _draw(Prepared(order, ranked, np.cumsum(ranked), kept, 0.0), rng, allowed) if kept else -1
