"""Sampling whole tunes from a step model: primer, meter-aware sampling, end marker, validity."""

from __future__ import annotations

import copy
import re
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from .abc import HEADER_FIELDS, BarGuide
from .errors import PrimerError, TunegenError
from .model import StepModel
from .sampler import choose, distribution
from .stepping import StepRequest, draw, finish, run_one

MAX_ATTEMPTS = 20
# used where a manifest names no default
FALLBACK_SAMPLING = {"temperature": 0.8, "top_k": 0, "top_p": 0.95, "max_length": 2000}
MAX_BACKOFFS = 32  # dead ends a tune may back out of before it is drawn again


@dataclass
class Options:
    """Sampling settings; None means the model's default from its manifest."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    primer: str = ""
    max_length: int | None = None
    count: int = 1
    bars: int | None = None  # MIDI event models: length in bars, or
    seconds: float | None = None  # in seconds (ended at the next barline)

    def resolved(self, defaults: dict) -> Options:
        out = Options(**self.__dict__)
        for name in ("temperature", "top_k", "top_p", "max_length"):
            if getattr(out, name) is None:
                setattr(out, name, defaults.get(name, FALLBACK_SAMPLING[name]))
        if out.seed is None:
            out.seed = int(np.random.default_rng().integers(0, 2**31))
        if not out.temperature > 0:
            raise TunegenError(f"temperature must be above 0 (got {out.temperature})")
        if not 0 < out.top_p <= 1:
            raise TunegenError(f"top-p must be in (0, 1] (got {out.top_p})")
        if out.top_k < 0:
            raise TunegenError(f"top-k must be 0 (off) or more (got {out.top_k})")
        if out.max_length < 16:
            raise TunegenError(f"max length must be at least 16 characters (got {out.max_length})")
        if out.count < 1:
            raise TunegenError(f"count must be at least 1 (got {out.count})")
        return out


@dataclass
class Tune:
    """One generated tune: its ABC (header and body), the seed that makes it again, and how it went."""

    abc: str
    seed: int
    index: int
    model: str
    resampled: int = 0
    tokens: int = 0
    mean_logprob: float = 0.0
    ended: bool = True
    score: object = field(default=None, repr=False)
    candidates: int = 1  # sampled together; this is the one the model found likeliest

    def document(self, number: int = 1) -> str:
        """A complete ABC tune with reference number and title."""
        title = f"tunegen {self.model} seed {self.seed}" + (f" #{self.index + 1}" if self.index else "")
        return f"X:{number}\nT:{title}\n{self.abc}\n"


def parse_primer(primer: str, vocab) -> tuple[dict[str, str], str]:
    """Split a primer into header fields to fix and opening music to continue."""
    fixed: dict[str, str] = {}
    body = ""
    text = primer.replace("\\n", "\n").strip()
    fields_done = False
    for line in text.split("\n"):
        line = line.strip()
        found = list(re.finditer(r"([A-Za-z]):\s*(\S+)", line)) if not fields_done else []
        if found and re.fullmatch(r"(\s*[A-Za-z]:\s*\S+)+\s*", line):
            for m in found:
                name, value = m.group(1), m.group(2)
                if name not in HEADER_FIELDS:
                    raise PrimerError(f"primer field {name}: is not one the model uses "
                                      f"({', '.join(HEADER_FIELDS)}); drop it")
                fixed[name] = value
            continue
        fields_done = True
        body += line + "\n"
    body = body.strip()
    body = body + " " if body and not body.endswith("|") else body
    bad = vocab.unknown("".join(fixed.values()) + body)
    if bad:
        raise PrimerError(f"primer has characters the model never saw: {' '.join(repr(c) for c in bad)}; "
                          "remove or replace them")
    return fixed, body


def sample_tune(model: StepModel, opts: Options, rng: np.random.Generator,
                fixed: dict[str, str], body: str) -> tuple[str, int, float, bool]:
    """Sample one tune's text; returns (text, tokens, mean log-prob per sampled token, ended)."""
    return finish(sample_steps(model, opts, rng, fixed, body))


def sample_steps(model: StepModel, opts: Options, rng: np.random.Generator, fixed: dict[str, str],
                 body: str) -> Generator[str, None, tuple[str, int, float, bool]]:
    """Sample one tune, yielding its text as it becomes final (bar by bar: sampling may back out of
    an unfinished bar, never out of a finished one); returns what `sample_tune` returns."""
    return (yield from run_one(model, tune_sampler(model, opts, rng, fixed, body)))


def tune_sampler(model: StepModel, opts: Options, rng: np.random.Generator, fixed: dict[str, str],
                 body: str):
    """The sampler coroutine behind `sample_steps` (see `stepping`): it asks for model steps and
    yields text as it becomes final."""
    vocab = model.manifest.vocab
    tokens, end = vocab.tokens, vocab.end
    guide = BarGuide(fixed, body)
    logits, state = yield StepRequest(vocab.start, model.zero_state())
    text: list[str] = []
    logp, sampled = 0.0, 0

    def feed(s: str):
        for ch in s:
            guide.push(ch)
            text.append(ch)
            yield StepRequest(vocab.index(ch), state)

    def allowed(i: int) -> bool:
        return guide.can_end() if i == end else i > 2 and guide.allows(tokens[i])

    saved = None  # the tune as it stood after its last barline, to back off to from a dead end
    retries = emitted = 0
    while len(text) < opts.max_length:
        forced = guide.forced()
        if forced:
            for request in feed(forced):
                logits, state = yield request
            continue
        if guide.at_bar_start and (saved is None or saved[0] != len(text)):
            saved = (len(text), logits, list(state), copy.copy(guide), logp, sampled)
            yield "".join(text[emitted:])
            emitted = len(text)
        row = logits[0]
        i = choose(distribution(row, opts.temperature, opts.top_k, opts.top_p), rng, allowed)
        if i < 0:  # the filtered choices were all refused: take the model's best allowed one
            i = choose(distribution(row, 1.0), rng, allowed)
        if i < 0:
            if saved is None or retries >= MAX_BACKOFFS:
                break
            # no character can follow: sample this bar again from its start
            retries += 1
            n, logits, state, guide, logp, sampled = saved
            state, guide = list(state), copy.copy(guide)
            del text[n:]
            continue
        z = row.astype(np.float64)
        logp += float(z[i] - z.max() - np.log(np.exp(z - z.max()).sum()))
        sampled += 1
        if i == end:
            yield "".join(text[emitted:])
            return "".join(text), len(text), logp / sampled, True
        for request in feed(guide.expand(tokens[i])):
            logits, state = yield request
    yield "".join(text[emitted:])
    return "".join(text), len(text), logp / max(sampled, 1), False


def generate(model: StepModel, opts: Options, validate=None, progress=None, candidates: int = 1) -> list[Tune]:
    """Generate `opts.count` tunes. `validate(tune)` returns a reason the tune is unusable or None;
    unusable tunes are resampled (at most MAX_ATTEMPTS times each) and counted. With `candidates`
    above 1, that many tunes are sampled together in one batch and the valid one the model finds
    likeliest (mean log-probability per sampled token) is kept."""
    opts = opts.resolved(model.manifest.sampling)
    if candidates < 1:
        raise TunegenError(f"candidates must be at least 1 (got {candidates})")
    fixed, body = parse_primer(opts.primer, model.manifest.vocab)
    tunes = []
    for index in range(opts.count):
        for attempt in range(MAX_ATTEMPTS):
            drawn = draw(model, lambda rng: tune_sampler(model, opts, rng, fixed, body),
                         [opts.seed, index, attempt], candidates)
            best = None
            for text, n, lp, ended in drawn:
                tune = Tune(text.strip(), opts.seed, index, model.manifest.name, attempt, n, lp, ended,
                            candidates=candidates)
                if not ended and n < opts.max_length:
                    continue  # sampling reached a dead end: no character could follow
                if (best is None or lp > best.mean_logprob) and (validate is None or validate(tune) is None):
                    best = tune
            if best is not None:
                break
        else:
            raise TunegenError(f"no valid tune after {MAX_ATTEMPTS} attempts; "
                               "try a lower --temperature or another --seed")
        tunes.append(best)
        if progress:
            progress()
    return tunes
