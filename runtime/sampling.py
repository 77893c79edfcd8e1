"""One sampling loop for every model kind, over the Guide a kind supplies.

A Guide follows a piece token by token and says what may come next; the loop asks the model, draws
among what the guide allows, backs out of a dead end where the guide has a safe point to return to,
and stops at the end token or a limit. `sample` draws pieces again until the kind finds one usable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .errors import TunegenError
from .model import StepModel
from .options import MAX_ATTEMPTS, Options
from .sampler import Tally, pick
from .stepping import StepRequest, draw


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


def sampler(model: StepModel, opts: Options, rng: np.random.Generator, guide: Guide,
            stream: bool = False) -> Generator[Any, Any, Draw]:
    """The sampling loop as a coroutine (see `stepping`): it asks for model steps and returns the
    Draw; with `stream` it also yields the piece's tokens in chunks as they become final."""
    vocab = model.manifest.vocab
    tokens, end, index = vocab.tokens, vocab.end, vocab.index
    how = (opts.temperature, opts.top_k, opts.top_p)
    logits, state, prepared = yield StepRequest(vocab.start, model.zero_state(), how)
    out: list[str] = []
    tally, sampled = Tally(undo=guide.max_backoffs > 0), 0

    def allowed(i: int) -> bool:
        return guide.can_end() if i == end else i > 2 and guide.allows(tokens[i])

    saved = None  # the piece as it stood at its last safe point, to back off to from a dead end
    retries = emitted = 0
    most = opts.max_length + guide.given  # a primer's tokens are not the model's
    backoffs = guide.max_backoffs
    while len(out) < most:
        forced = guide.forced()
        if forced:
            ending = guide.limit(forced[0])
            if ending:
                break
            for tok in forced:
                guide.push(tok)
                out.append(tok)
                logits, state, prepared = yield StepRequest(index(tok), state, how)
            continue
        if (backoffs or stream) and guide.safe_point() and (saved is None or saved[0] != len(out)):
            if backoffs:
                saved = (len(out), logits, list(state), copy.copy(guide), tally.mark(), sampled, prepared)
            if stream:
                yield out[emitted:]
                emitted = len(out)
        row = logits[0]
        i, prep = pick(row, opts.temperature, opts.top_k, opts.top_p, rng, allowed, prepared)
        if i < 0:
            if saved is None or retries >= backoffs:
                ending = "stuck"
                break
            # nothing can follow: sample again from the last safe point
            retries += 1
            n, logits, state, guide, mark, sampled, prepared = saved
            state, guide = list(state), copy.copy(guide)
            tally.back(mark)
            del out[n:]
            continue
        tally.add(row, i, prep)
        sampled += 1
        if i == end:
            ending = "end"
            break
        tok = tokens[i]
        expanded = guide.expand(tok)
        ending = guide.limit(expanded[0])
        if ending:
            break
        if len(expanded) == 1 and expanded[0] == tok:  # what the model chose stands for itself
            guide.push(tok)
            out.append(tok)
            logits, state, prepared = yield StepRequest(i, state, how)
            continue
        for tok in expanded:
            guide.push(tok)
            out.append(tok)
            logits, state, prepared = yield StepRequest(index(tok), state, how)
    else:
        ending = "length"
    if stream:
        yield out[emitted:]
    return Draw(out, sampled, tally.total() / max(sampled, 1), ending, guide)


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
            drawn = draw(model, lambda rng, i=index: sampler(model, opts, rng, make_guide(i)),
                         [opts.seed, index, attempt], opts.candidates)
            for d in drawn:
                piece = make_piece(d, index, attempt)
                mine = rank(piece)
                if best is None or mine > best_rank:  # the problem only of what would be kept
                    reason = problem(piece) or ""
                    if not reason:
                        best, best_rank = piece, mine
            if best is not None and (best_rank[0] or attempt + 1 >= MAX_TRIES):
                break
        else:
            if best is None:
                raise TunegenError(f"no usable piece after {MAX_ATTEMPTS} attempts ({reason}); "
                                   "try a lower --temperature or another --seed")
        if progress:
            progress()
        yield best
