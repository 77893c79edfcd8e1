"""One sampling loop for every model kind, over the Guide a kind supplies.

A Guide follows a piece token by token and says what may come next; the loop asks the model, draws
among what the guide allows, backs out of a dead end where the guide has a safe point to return to,
and stops at the end token or a limit. `sample` draws pieces again until the kind finds one usable.
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import forked
from .errors import TunegenError
from .model import StepModel
from .options import MAX_ATTEMPTS, Options
from .sampler import Batch, Tally, Uniforms, pick


class Guide(Protocol):
    """What a kind tells the sampling loop about the piece so far."""

    max_backoffs: int  # dead ends a draw may back out of (0: a dead end ends the draw)
    given: int  # tokens a primer gave the piece: max_length counts those that come after

    def forced(self) -> Sequence[str]:
        """Tokens that must come next whatever the model says (empty when the model may choose)."""

    def allows(self, token: str) -> bool:
        """Whether `token` may come next."""

    def can_end(self) -> bool:
        """Whether the piece may end here."""

    def expand(self, token: str) -> Sequence[str]:
        """The tokens a sampled token stands for (usually itself)."""

    def push(self, token: str) -> None:
        """Record one token of the piece."""

    def safe_point(self) -> bool:
        """Whether what came so far is final: it may be passed on, and a dead end later returns
        here."""

    def limit(self, token: str) -> str | None:
        """A reason to stop before `token` (a length limit reached), or None."""


@dataclass
class Draw:
    """What one run of the loop made: its tokens, how many were sampled, their mean
    log-probability, and why it stopped: "end" (the model ended it), "length" (max length),
    "stuck" (no token could follow), or a guide's limit."""

    tokens: list[str]
    sampled: int
    mean_logprob: float
    ending: str
    guide: Any = None  # as it stood at the end


class _Row:
    """One draw of a batch as the loop follows it."""

    __slots__ = ("guide", "rng", "out", "tally", "sampled", "saved", "retries", "emitted", "queue",
                 "most", "ending", "restored", "allowed")

    def __init__(self, guide: Guide, rng: np.random.Generator, max_length: int, tokens, end: int) -> None:
        self.guide, self.rng = guide, Uniforms(rng)
        self.allowed = _allowed(guide, tokens, end)
        self.out: list[str] = []
        self.tally, self.sampled = Tally(undo=guide.max_backoffs > 0), 0
        self.saved = None  # the draw as it stood at its last safe point, to back off to from a dead end
        self.retries = self.emitted = 0
        self.queue: list[str] = []  # tokens to feed before the model is asked again (a forced run)
        self.most = max_length + guide.given  # a primer's tokens are not the model's
        self.ending = ""
        self.restored = None  # the state rows a back-off returned to, fed instead of the batch's


def draws(model: StepModel, opts: Options, rngs: Sequence[np.random.Generator], guides: Sequence[Guide],
          stream: bool = False) -> Generator[list[str], None, list[Draw]]:
    """One draw per guide (each with its own random stream), stepped together: one batched model
    step for every draw still going, then each draw's choice. Returns the Draws; with `stream` (one
    draw) it also yields its tokens in chunks as they become final."""
    vocab = model.manifest.vocab
    tokens, end, index = vocab.tokens, vocab.end, vocab.index
    how = (opts.temperature, opts.top_k, opts.top_p)
    rows = [_Row(g, rng, opts.max_length, tokens, end) for g, rng in zip(guides, rngs, strict=True)]
    active = list(range(len(rows)))  # the draws still going, in the order of the batch's rows
    feed = [vocab.start] * len(rows)
    state = model.zero_state(len(rows))
    while active:
        logits, state = model.step(feed, state)
        batch = Batch(logits, how)
        feed, going, restored, alone = [], [], False, len(active) == 1
        for k, r in enumerate(active):
            row = rows[r]
            tok = _choose(row, logits if alone else logits[k:k + 1], state, k, (batch, k), tokens, end)
            if stream and row.emitted < len(row.out) and row.guide.safe_point():
                yield row.out[row.emitted:]
                row.emitted = len(row.out)
            if tok is not None:
                feed.append(index(tok) if isinstance(tok, str) else tok)
                going.append(k)
                restored = restored or row.restored is not None
        if restored or len(going) < len(active):
            state = _rows_of(state, going, [rows[active[k]] for k in going])
            active = [active[k] for k in going]
    if stream and rows[0].emitted < len(rows[0].out):
        yield rows[0].out[rows[0].emitted:]
    return [Draw(row.out, row.sampled, row.tally.total() / max(row.sampled, 1), row.ending, row.guide)
            for row in rows]


def _rows_of(state: list[np.ndarray], going: list[int], rows: list[_Row]) -> list[np.ndarray]:
    """The batch state for the draws going on: their rows of `state`, or the rows a back-off
    returned to."""
    out = [s[going] for s in state]  # a copy: a row replaced here is no row another draw saved
    for k, row in enumerate(rows):
        if row.restored is not None:
            for s, saved in zip(out, row.restored, strict=True):
                s[k] = saved[0]
            row.restored = None
    return out


def _choose(row: _Row, logits: np.ndarray, state: list[np.ndarray], k: int, prepared, tokens,
            end: int) -> int | str | None:
    """What one draw feeds the model next (a token id, or a token), having drawn from `logits` (its
    row of the batch's, `state` row `k` the state after them) and followed its guide; None when the
    draw is done (`row.ending` says why)."""
    if row.queue:
        return _feed(row, (row.queue.pop(),))
    guide, out, allowed = row.guide, row.out, row.allowed
    backoffs, row_logits = guide.max_backoffs, logits[0]
    while len(out) < row.most:
        forced = guide.forced()
        if forced:
            row.ending = guide.limit(forced[0]) or ""
            if row.ending:
                return None
            return _feed(row, forced)
        if backoffs and guide.safe_point() and (row.saved is None or row.saved[0] != len(out)):
            rows = [s[k:k + 1] for s in state] if row.restored is None else row.restored
            row.saved = (len(out), logits, rows, copy.copy(guide), row.tally.mark(), row.sampled, prepared)
        i, prep = pick(row_logits, *prepared[0].settings, row.rng, allowed, prepared)
        if i < 0:
            if row.saved is None or row.retries >= backoffs:
                row.ending = "stuck"
                return None
            # nothing can follow: sample again from the last safe point
            row.retries += 1
            n, logits, row.restored, guide, mark, row.sampled, prepared = row.saved
            guide = row.guide = copy.copy(guide)
            allowed = row.allowed = _allowed(guide, tokens, end)
            row_logits = logits[0]
            row.tally.back(mark)
            del out[n:]
            continue
        row.tally.add(row_logits, i, prep)
        row.sampled += 1
        if i == end:
            row.ending = "end"
            return None
        tok = tokens[i]
        expanded = guide.expand(tok)
        row.ending = guide.limit(expanded[0]) or ""
        if row.ending:
            return None
        first = _feed(row, expanded)
        return i if first == tok else first  # what the model chose stands for itself: its id is known
    row.ending = "length"
    return None


def _allowed(guide: Guide, tokens: Sequence[str], end: int) -> Callable[[int], bool]:
    """Whether `guide` allows token id i next (the end token where the piece may end)."""
    def allowed(i: int) -> bool:
        return guide.can_end() if i == end else i > 2 and guide.allows(tokens[i])
    return allowed


def _feed(row: _Row, toks: Sequence[str]) -> str:
    """The first of `toks`, recorded as the draw's next token; the rest wait in the row's queue."""
    if len(toks) > 1:
        row.queue = list(reversed(toks[1:]))
    row.guide.push(toks[0])
    row.out.append(toks[0])
    return toks[0]


def finish(steps: Generator) -> Any:
    """Run a generator to its end and return what it returns (what it yields is dropped)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def draw(model: StepModel, opts: Options, make_guide: Callable[[], Guide], seed: list[int],
         candidates: int = 1) -> list[Draw]:
    """One draw seeded with `seed`, or `candidates` draws (seeded `seed + [k]`) stepped together,
    one batch per core (`forked.Helpers`), each with a guide `make_guide()` gives."""
    seeds = [seed] if candidates == 1 else [[*seed, k] for k in range(candidates)]
    if candidates == 1:
        return _part(opts, make_guide, model, seeds)
    helpers = _HELPERS.get(model)
    if helpers is None:
        helpers = _HELPERS[model] = forked.Helpers(weakref.proxy(model))
    return helpers.split(seeds, functools.partial(_part, opts, make_guide))


# each model's copies of this process kept to draw candidates: they go when the model does
_HELPERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _part(opts: Options, make_guide: Callable[[], Guide], model: StepModel, seeds: Sequence[list[int]]) -> list[Draw]:
    """The draws of `seeds`, stepped in one batch (what one process draws of a split)."""
    return finish(draws(model, opts, [np.random.default_rng(s) for s in seeds], [make_guide() for _ in seeds]))


def sample(model: StepModel, opts: Options, make_guide: Callable[[int], Guide],
           make_piece: Callable[[Draw, int, int], Any], problem: Callable[[Any], str | None],
           progress: Callable[[], None] | None = None, rank: Callable[[Any], tuple] | None = None) -> list:
    """`opts.count` pieces, each the first usable draw of guides `make_guide(index)` gives:
    `make_piece(draw, index, attempt)` builds a piece and `problem(piece)` says why it is unusable
    (or None); unusable draws are drawn again, at most MAX_ATTEMPTS times. With `opts.candidates`
    above 1 that many are drawn together in one batch and the usable one ranked first is kept:
    `rank(piece)` is (whether it is all it should be, a score), by default (True, the mean
    log-probability per token). A draw that is usable but not all it should be (not clearly in its
    key, say) is drawn again up to MAX_TRIES times, and the best kept."""
    return list(samples(model, opts, make_guide, make_piece, problem, progress, rank))


MAX_TRIES = 6  # draws of a usable piece that is not all it should be, before the best is kept


def likeliest(piece) -> tuple[bool, float]:
    return True, piece.mean_logprob


def samples(model: StepModel, opts: Options, make_guide: Callable[[int], Guide],
            make_piece: Callable[[Draw, int, int], Any], problem: Callable[[Any], str | None],
            progress: Callable[[], None] | None = None,
            rank: Callable[[Any], tuple] | None = None) -> Generator[Any, None, None]:
    """`sample`'s pieces one by one as each is made, so a caller can write it at once."""
    rank = rank or likeliest
    for index in range(opts.count):
        reason = ""
        best, best_rank = None, None
        for attempt in range(MAX_ATTEMPTS):
            drawn = draw(model, opts, functools.partial(make_guide, index), [opts.seed, index, attempt], opts.candidates)
            pieces = [make_piece(d, index, attempt) for d in drawn]
            ranks = [rank(piece) for piece in pieces]
            # the likeliest first (the earliest of equals): the first usable one is the one kept,
            # and only the problems of those before it are looked for
            for k in sorted(range(len(pieces)), key=lambda k: ranks[k], reverse=True):
                if best is not None and not ranks[k] > best_rank:
                    break
                reason = problem(pieces[k]) or ""
                if not reason:
                    best, best_rank = pieces[k], ranks[k]
                    break
            if best is not None and (best_rank[0] or attempt + 1 >= MAX_TRIES):
                break
        else:
            if best is None:
                raise TunegenError(f"no usable piece after {MAX_ATTEMPTS} attempts ({reason}); "
                                   "try a lower --temperature or another --seed")
        if progress:
            progress()
        yield best
