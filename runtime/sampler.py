"""Turning logits into a choice: temperature, top-k and top-p (nucleus) over numpy."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np


class Uniforms:
    """A generator's `random()` numbers, the same ones in the same order, drawn many at a time: a
    call of the generator's own costs a sampling step about as much as a numpy call."""

    __slots__ = ("random",)

    def __init__(self, rng: np.random.Generator, size: int = 128) -> None:
        self.random = itertools.chain.from_iterable(iter(lambda: rng.random(size).tolist(), None)).__next__


class Prepared:
    """One row's sampling arithmetic, done for a whole batch at once (`prepare`): the exponentials
    after temperature and top-k (`e`, in vocabulary order), the same in order of probability
    (`ranked`), their running total, how many top-p keeps, and, where sampling already made them
    (temperature 1, no top-k), the logits' peak and the sum of their exponentials less it, of which
    a choice's log-probability follows (`Tally`). Which token a ranked choice is (`choice`) is found
    when a draw needs it: sorting the values alone costs a third of sorting their indices."""

    __slots__ = ("e", "_order", "ranked", "cum", "kept", "peak", "total")

    def __init__(self, e, ranked, cum, kept: int, peak=None, total=None, order=None) -> None:
        self.e, self.ranked, self.cum, self.kept = e, ranked, cum, kept
        self.peak, self.total, self._order = peak, total, order

    @property
    def order(self) -> np.ndarray:
        """Every choice's token, likeliest first (ties in vocabulary order)."""
        if self._order is None:
            self._order = (-self.e).argsort(kind="stable")
        return self._order

    def choice(self, j: int) -> int:
        """The token of ranked choice `j`: `order[j]` without sorting the indices."""
        if self._order is None:
            ranked, v = self.ranked, self.ranked[j]
            if v == v:  # ranked holds the exponentials' values in order: v's tokens are in e
                first = j  # ties stand in vocabulary order: j is the (j - first)th of v's tokens
                while first and ranked[first - 1] == v:
                    first -= 1
                same = self.e == v
                return int(same.argmax() if first == j else np.flatnonzero(same)[j - first])
        return int(self.order[j])


def prepare(logits: np.ndarray, temperature: float, top_k: int, top_p: float) -> list[Prepared]:
    """`Prepared` rows for logits [batch, vocab]: one numpy pass for every row of a batch."""
    if len(logits) == 1:
        return [_prepare_row(logits[0], temperature, top_k, top_p)]
    e, peak = _batch_exps(logits, temperature, top_k)
    ranked = -np.sort(-e, axis=1)  # the values of a stable argsort of -e, in its order
    cum = np.add.accumulate(ranked, axis=1)
    total = cum[:, -1:]
    kept = ((cum < top_p * total).sum(axis=1) + 1 if top_p < 1.0 else (ranked > 0).sum(axis=1)).tolist()
    return [Prepared(e[k], ranked[k], cum[k], min(kept[k], e.shape[1]),
                     *((peak[k, 0], total[k, 0]) if peak is not None else ()))
            for k in range(len(e))]


def _prepare_row(row: np.ndarray, temperature: float, top_k: int, top_p: float) -> Prepared:
    """`prepare` for one row, the same numbers bit for bit in half the time: a batch of one pays
    for every numpy call, so this one makes as few as the arithmetic needs."""
    e, peak = _exps(row, temperature, top_k)
    return _finish(e, top_p, peak)


def _exps(row: np.ndarray, temperature: float, top_k: int) -> tuple[np.ndarray, float | None]:
    """A row's exponentials after temperature and top-k, less their peak (the likeliest is 1.0
    exactly), and that peak where sampling's sum is the model's (temperature 1, no top-k)."""
    # in place where it may be: every numpy call counts, and more so with caches the step emptied
    z = row.astype(np.float64)
    plain = temperature == 1.0
    if not plain:
        np.divide(z, _divisor(temperature), out=z)
    if 0 < top_k < len(z):
        kth = np.partition(z, -top_k)[-top_k]
        z, plain = np.where(z >= kth, z, -np.inf), False
    peak = z[z.argmax()]  # a quarter of the cost of z.max()
    np.subtract(z, peak, out=z)
    return np.exp(z, out=z), (peak if plain else None)


def _finish(e: np.ndarray, top_p: float, peak: float | None) -> Prepared:
    """A row's `Prepared` from its `_exps`."""
    ranked = -np.sort(-e)  # the values of a stable argsort of -e, in its order
    cum = np.add.accumulate(ranked)
    total = cum[-1]
    # cum never falls: the count of its entries below a bound is where the bound would go
    kept = int(cum.searchsorted(top_p * total)) + 1 if top_p < 1.0 else int(np.count_nonzero(ranked))
    return Prepared(e, ranked, cum, min(kept, len(e)), *((peak, total) if peak is not None else ()))


class Batch:
    """A batch's logits with the sampling settings its rows are drawn with; the arithmetic is
    done once for every row, when the first row asks (steps whose logits nobody draws from, a
    forced token's, cost nothing).

    A row is first offered its likeliest choice (`first`): most draws take it, and those need no
    sort (`pick`); where the choice's log-probability needs the sorted sum (temperature 1, no
    top-k), `Tally` sorts the rows it was given later, many in one numpy pass."""

    __slots__ = ("logits", "settings", "_first")

    def __init__(self, logits: np.ndarray, settings: tuple[float, int, float]) -> None:
        self.logits, self.settings, self._first = logits, settings, None

    def row(self, k: int) -> Prepared:
        """Row k prepared whole (from its exponentials: rows are finished one by one)."""
        e, _, _, peaks = self._exps()
        return _finish(e[k], self.settings[2], None if peaks is None else peaks[k])

    def first(self, k: int) -> tuple[int, float, Prepared] | None:
        """Row k's likeliest choice, a bound on the sum of its exponentials in any order (see
        `pick`), and what `Tally.add` takes if the choice is drawn; None where the row must be
        prepared whole."""
        e, top, bound, peaks = self._exps()
        if not math.isfinite(bound[k]):
            return None
        return top[k], bound[k], _UNSORTED if peaks is None else Prepared(e[k], None, None, 0, peaks[k])

    def _exps(self) -> tuple[np.ndarray, list[int], list[float], list | None]:
        if self._first is None:
            # the sums bound a draw only (`pick`): summed as a dot product, in a quarter of the time
            if len(self.logits) == 1:
                e, peak = _exps(self.logits[0], *self.settings[:2])
                self._first = (e[None, :], [int(e.argmax())], [float(e.dot(_ones(len(e)))) * _slack(len(e))],
                               None if peak is None else [peak])
            else:
                e, peak = _batch_exps(self.logits, *self.settings[:2])
                self._first = (e, e.argmax(axis=1).tolist(), (e.dot(_ones(e.shape[1])) * _slack(e.shape[1])).tolist(),
                               None if peak is None else peak[:, 0])
        return self._first


@functools.lru_cache(maxsize=8)
def _divisor(temperature: float) -> np.ndarray:
    """The temperature a row is divided by, as an array: a ufunc takes it in half the time of a
    Python float (the same number, so the same quotients)."""
    divisor = np.array(max(temperature, 1e-6))
    divisor.flags.writeable = False
    return divisor


@functools.lru_cache(maxsize=8)
def _ones(n: int) -> np.ndarray:
    ones = np.ones(n)
    ones.flags.writeable = False
    return ones


def _batch_exps(logits: np.ndarray, temperature: float, top_k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """`_exps` for every row of a batch [batch, vocab] at once (the same numbers: a test holds
    them together), and the peaks [batch, 1] where sampling's sum is the model's."""
    z = logits.astype(np.float64)
    plain = temperature == 1.0
    if not plain:
        np.divide(z, _divisor(temperature), out=z)  # in place, as `_exps`: fewer arrays to fill
    if 0 < top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z, plain = np.where(z >= kth, z, -np.inf), False
    peak = z.max(axis=1, keepdims=True)
    np.subtract(z, peak, out=z)
    # at temperature 1 without top-k the softmax's sum is the model's
    return np.exp(z, out=z), (peak if plain else None)


# what `pick` hands `Tally.add` for a choice it took without preparing the row where the
# log-probability needs no sorted sum
_UNSORTED = Prepared(None, None, None, 0)


def _slack(n: int) -> float:
    """The factor by which a sum of n exponentials (each between 0 and 1) in one order may exceed
    their sum in another, with a margin: each order is within n roundings of the exact sum."""
    return 1.0 + 1e-12 + n * 1e-15


def _draw(prep: Prepared, rng: np.random.Generator, allowed, u: float | None = None, refused: int = -1) -> int:
    """A choice among the kept ones, redrawn without those `allowed` refuses; the likeliest allowed
    one when no draw is; -1 when none is. `u` is the first draw's uniform number when it was
    drawn already, and `refused` a token `allowed` refused already (the guide's test is the
    dearest part of a step)."""
    if refused >= 0:
        allowed = functools.partial(_unless, refused, allowed)
    kept = prep.kept
    cum, ranked = prep.cum[:kept], None
    for _ in range(8):
        total = cum[-1]
        if total <= 0:
            break
        if u is None:
            u = rng.random()
        j = min(int(cum.searchsorted(u * total, "right")), kept - 1)
        u = None
        i = prep.choice(j)
        if (ranked is None or ranked[j] > 0) and allowed(i):
            return i
        if ranked is None:
            ranked = prep.ranked[:kept].copy()
        ranked[j] = 0.0
        cum = np.cumsum(ranked)
    weights = prep.ranked[:kept] if ranked is None else ranked
    order = prep.order
    for j in range(kept):
        if weights[j] > 0 and allowed(int(order[j])):
            return int(order[j])
    return -1


def _unless(refused: int, allowed, i: int) -> bool:
    return i != refused and allowed(i)


def pick(row: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator,
         allowed, prepared: Prepared | tuple[Batch, int] | None = None) -> tuple[int, Prepared]:
    """One sampling step: a choice from logits `row` that `allowed` accepts (falling back to the
    model's own distribution when the filtered choices are all refused), or -1 when nothing is
    allowed; and the row's `Prepared`, for the choice's log-probability (`Tally.add`). `prepared`
    is the row as `prepare` made it for a whole batch, or (the `Batch`, the row's index)."""
    u, refused = None, -1
    if isinstance(prepared, tuple):
        batch, k = prepared
        first = batch.first(k)
        if first is not None:
            # The full draw takes the likeliest choice exactly when u times the kept choices'
            # sum falls below 1.0 (the likeliest one's exponential, where the running total
            # starts). The kept sum is at most the sum of all, and the sum of all in sorted order
            # is below `bound` (a sum in another order, and its slack): below the bound the full
            # draw would take the likeliest choice with this same random number, so it is taken
            # without the sort.
            u = rng.random()
            top, bound, taken = first
            if u * bound < 1.0:
                if allowed(top):
                    return top, taken
                refused = top
        prepared = batch.row(k)
    prep = prepared or prepare(row[None, :], temperature, top_k, top_p)[0]
    i = _draw(prep, rng, allowed, u, refused)
    if i < 0:  # the filtered choices were all refused: take from the model's whole distribution
        i = _draw(prepare(row[None, :], 1.0, 0, 1.0)[0], rng, allowed)
    return i, prep


class Tally:
    """The sampled tokens' log-probabilities under the model, summed in the order they were drawn.
    A log-probability is the token's logit less the logits' log-sum-exp; where sampling did not
    already make that sum, it is made for many steps in one numpy pass (the same numbers as one
    by one) rather than at every step, which would cost a batch of one about as much as its draw.
    With `undo`, `back` returns to the last `mark`."""

    __slots__ = ("sum", "undo", "_waiting", "_plain")
    MOST = 256  # steps left waiting at most where nothing is undone (a long piece's logits are not all held)

    def __init__(self, undo: bool = False) -> None:
        self.sum, self.undo = 0.0, undo
        # (logit, peak, sum) where the log-probability follows the sorted sum (`_plain`), the sum
        # as sampling made it or the exponentials to sort for it; else (row, choice)
        self._waiting: list[tuple] = []
        self._plain = True

    def add(self, row: np.ndarray, i: int, prep: Prepared) -> None:
        plain = prep.peak is not None
        if self._waiting and (plain != self._plain or not self.undo and len(self._waiting) >= self.MOST):
            self._settle()
        self._plain = plain
        self._waiting.append((float(row[i]), prep.peak, prep.e if prep.total is None else prep.total)
                             if plain else (row, i))

    def _settle(self) -> None:
        waiting = self._waiting
        if not waiting:
            return
        if self._plain:
            logit, peak, sums = zip(*waiting, strict=True)
            unsorted = [k for k, s in enumerate(sums) if isinstance(s, np.ndarray)]
            if unsorted:  # the sums `_finish` would have made: its sort and running total, for each row
                sums = list(sums)
                ranked = -np.sort(-np.stack([sums[k] for k in unsorted]), axis=1)
                for k, s in zip(unsorted, np.add.accumulate(ranked, axis=1)[:, -1].tolist(), strict=True):
                    sums[k] = s
            lse = np.array(peak) + np.log(np.array(sums))
            logit = np.array(logit)
        else:
            z = np.stack([row for row, _ in waiting]).astype(np.float64)
            zpeak = z.max(axis=1, keepdims=True)
            lse = (zpeak + np.log(np.exp(z - zpeak).sum(axis=1, keepdims=True)))[:, 0]
            logit = z[np.arange(len(z)), [i for _, i in waiting]]
        for lp in (logit - lse).tolist():
            self.sum += lp
        waiting.clear()

    def mark(self) -> tuple:
        """Where the tally stands, for `back`; what waits is summed first when it has grown long
        (nothing before the last mark is undone)."""
        if len(self._waiting) >= self.MOST:
            self._settle()
        return self.sum, len(self._waiting)

    def back(self, mark: tuple) -> None:
        """Forget what was added since `mark`."""
        self.sum, n = mark
        del self._waiting[n:]

    def total(self) -> float:
        """The sum of every log-probability added."""
        self._settle()
        return self.sum


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
    return _draw(Prepared(p, ranked, np.cumsum(ranked), kept, order=order), rng, allowed) if kept else -1
