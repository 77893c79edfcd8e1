"""Sampling pieces from a MIDI event model: an event grammar that keeps bars whole, a length in
bars or seconds, a primer piece to continue, and a clean ending."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import PrimerError, TunegenError
from .events import BAR, GRID, METERS, Music, Note, bar_ticks, decode, encode, release_at
from .generate import MAX_ATTEMPTS, Options
from .model import StepModel
from .sampler import choose, distribution
from .stepping import StepRequest, draw, finish, run_one

# used where a manifest names no default; `bars` is the length limit when none is asked for
MIDI_SAMPLING = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "max_length": 8000, "bars": 24,
                 "min_bars": 8}
MAX_CHORD = 10  # notes struck together: one per finger
MIN_NOTES = 8  # fewer is no piece; it is drawn again
PRIMER_BARS = 4


@dataclass
class Composition:
    """One generated piece: its notes, the seed that makes it again, and how it ended."""

    music: Music
    tokens: list[str]
    seed: int
    index: int
    model: str
    resampled: int = 0
    steps: int = 0
    mean_logprob: float = 0.0
    ending: str = "end"  # "end" (the model ended it), "bars", "seconds" or "length" (a limit)
    primer_notes: int = 0
    candidates: int = 1  # sampled together; this is the one the model found likeliest

    @property
    def ended(self) -> bool:
        return self.ending == "end"


@dataclass
class EventGuide:
    """Which event token may come next: a meter first, a length after every pitch, waits that never
    cross a barline, a barline exactly when the bar is full (or after a pickup shorter than a bar)."""

    meter: str | None = None
    now: int = 0
    next_bar: int | None = None  # None until the first barline
    bars: int = 0
    bar_here: bool = False
    pending: int | None = None
    onset: set[int] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    barlines: list[int] = field(default_factory=list)

    @property
    def limit(self) -> int:
        """The time the next barline falls at (a pickup may not be longer than a bar)."""
        return self.next_bar if self.next_bar is not None else bar_ticks(self.meter or "4/4")

    def forced(self) -> str | None:
        if self.meter and self.pending is None and self.now == self.limit and not self.bar_here:
            return BAR
        return None

    def allows(self, tok: str) -> bool:
        if self.meter is None:
            return tok.startswith("ts")
        if self.pending is not None:
            return tok.startswith("d")
        if tok == BAR:
            return not self.bar_here and not self.onset and (
                self.now == self.next_bar if self.next_bar is not None else self.now <= self.limit)
        if tok.startswith("w"):
            return self.now + int(tok[1:]) <= self.limit
        if tok.startswith("p"):
            return int(tok[1:]) not in self.onset and len(self.onset) < MAX_CHORD
        return False  # a meter change, a stray length, a special token

    min_bars: int = 0  # the end token is refused before this many barlines: a piece, not a snippet

    def can_end(self) -> bool:
        return (self.meter is not None and self.pending is None and bool(self.notes)
                and self.bars >= self.min_bars)

    def push(self, tok: str) -> None:
        if tok.startswith("ts"):
            self.meter = tok[2:]
        elif tok == BAR:
            self.bars += 1
            self.bar_here = True
            self.barlines.append(self.now)
            self.next_bar = self.now + bar_ticks(self.meter or "4/4")
        elif tok.startswith("w"):
            self.now += int(tok[1:])
            self.onset, self.bar_here = set(), False
        elif tok.startswith("p"):
            self.pending = int(tok[1:])
        elif tok.startswith("d") and self.pending is not None:
            self.notes.append(Note(self.now, self.pending, int(tok[1:])))
            self.onset.add(self.pending)
            self.pending = None


def primer_tokens(path: str | Path, bars: int = PRIMER_BARS) -> list[str]:
    """The opening `bars` bars of a MIDI or score file as event tokens, to be continued."""
    from .score import NotMusic, read_music

    path = Path(path).expanduser()
    if not path.is_file():
        raise PrimerError(f"primer file {path} not found; give a MIDI or score file to continue")
    try:
        music = read_music(path)
    except NotMusic as e:
        raise PrimerError(f"primer {path} cannot be used: {e}") from None
    meter = music.meters[0][1]
    if meter not in METERS:
        raise PrimerError(f"primer {path} is in {meter}, a meter the model does not know")
    cut = music.barlines[bars] if len(music.barlines) > bars else music.length
    opening = Music(release_at(music.notes, cut), [m for m in music.meters if m[0] < cut],
                    [b for b in music.barlines if b < cut])
    tokens = encode(opening)
    if not opening.notes:
        raise PrimerError(f"primer {path} has no notes in its opening {bars} bars")
    # wait to the cut, so the piece goes on where the primer's bars end
    end_of_tokens = max(max(n.start for n in opening.notes), max(opening.barlines, default=0))
    gap = cut - end_of_tokens
    while gap > 0:
        step = min(gap, 96)
        tokens.append(f"w{step}")
        gap -= step
    return tokens


def sample_piece(model: StepModel, opts: Options, rng: np.random.Generator, primer: list[str],
                 bpm: float) -> tuple[list[str], Music, int, float, str]:
    """Sample one piece: (tokens, music, sampled steps, mean log-prob per sampled token, ending)."""
    return finish(piece_steps(model, opts, rng, primer, bpm))


def piece_steps(model: StepModel, opts: Options, rng: np.random.Generator, primer: list[str],
                bpm: float) -> Generator[str, None, tuple[list[str], Music, int, float, str]]:
    """Sample one piece, yielding each event token as it is made (none is ever taken back);
    returns what `sample_piece` returns."""
    return (yield from run_one(model, piece_sampler(model, opts, rng, primer, bpm)))


def piece_sampler(model: StepModel, opts: Options, rng: np.random.Generator, primer: list[str],
                  bpm: float):
    """The sampler coroutine behind `piece_steps` (see `stepping`)."""
    vocab = model.manifest.vocab
    tokens, end = vocab.tokens, vocab.end
    guide = EventGuide()
    out: list[str] = []
    default_bars = model.manifest.sampling.get("bars", MIDI_SAMPLING["bars"])
    max_bars = opts.bars if opts.bars else (None if opts.seconds else default_bars)
    guide.min_bars = min(model.manifest.sampling.get("min_bars", MIDI_SAMPLING["min_bars"]), max_bars or 10**6)
    if opts.seconds:
        guide.min_bars = 0  # a length in seconds is its own floor
    logits, state = yield StepRequest(vocab.start, model.zero_state())
    max_ticks = round(opts.seconds * bpm / 60 * GRID) if opts.seconds else None

    def feed(tok: str) -> StepRequest:
        guide.push(tok)
        out.append(tok)
        return StepRequest(vocab.index(tok), state)

    for tok in primer:
        logits, state = yield feed(tok)
        yield tok
    if guide.next_bar is not None and guide.now > guide.next_bar:
        guide.next_bar = guide.now  # a primer with uneven bars: the next one starts here
    logp, sampled, ending = 0.0, 0, "length"
    while len(out) < opts.max_length:
        tok = guide.forced()
        if tok is None:
            row = logits[0]

            def allowed(i: int) -> bool:
                return guide.can_end() if i == end else i > 2 and guide.allows(tokens[i])

            i = choose(distribution(row, opts.temperature, opts.top_k, opts.top_p), rng, allowed)
            if i < 0:
                i = choose(distribution(row, 1.0), rng, allowed)
            if i < 0:
                break
            z = row.astype(np.float64)
            logp += float(z[i] - z.max() - np.log(np.exp(z - z.max()).sum()))
            sampled += 1
            if i == end:
                ending = "end"
                break
            tok = tokens[i]
        if tok == BAR and guide.bars > 0:
            if max_bars is not None and guide.bars >= max_bars:
                ending = "bars"
                break
            if max_ticks is not None and guide.now >= max_ticks:
                ending = "seconds"
                break
        logits, state = yield feed(tok)
        yield tok
    music = decode(out)
    if ending != "end":  # stopped by a limit: every note released at the last barline
        cut = guide.now if ending in ("bars", "seconds") else max(guide.barlines, default=guide.now)
        music = Music(release_at(music.notes, cut), music.meters, [b for b in music.barlines if b < cut])
    return out, music, sampled, logp / max(sampled, 1), ending


def resolved(model: StepModel, opts: Options) -> tuple[Options, list[str]]:
    """Options with the model's defaults filled in and checked, and the primer's tokens."""
    opts = opts.resolved(model.manifest.sampling)
    if opts.bars is not None and opts.bars < 1:
        raise TunegenError(f"bars must be at least 1 (got {opts.bars})")
    if opts.seconds is not None and opts.seconds <= 0:
        raise TunegenError(f"seconds must be above 0 (got {opts.seconds:g})")
    return opts, primer_tokens(opts.primer) if opts.primer else []


def compose(model: StepModel, opts: Options, bpm: float, progress=None, candidates: int = 1) -> list[Composition]:
    """Generate `opts.count` pieces from a MIDI event model. A draw with too few notes is drawn
    again (at most MAX_ATTEMPTS times) and counted. With `candidates` above 1, that many pieces are
    sampled together in one batch and the one the model finds likeliest (mean log-probability per
    sampled token) is kept."""
    opts, primer = resolved(model, opts)
    if candidates < 1:
        raise TunegenError(f"candidates must be at least 1 (got {candidates})")
    primed = len(decode(primer).notes)
    pieces = []
    for index in range(opts.count):
        for attempt in range(MAX_ATTEMPTS):
            drawn = draw(model, lambda rng: piece_sampler(model, opts, rng, primer, bpm),
                         [opts.seed, index, attempt], candidates)
            usable = [d for d in drawn if len(d[1].notes) >= MIN_NOTES]
            if usable:
                toks, music, n, lp, ending = max(usable, key=lambda d: d[3])
                break
        else:
            raise TunegenError(f"no piece with {MIN_NOTES} notes or more after {MAX_ATTEMPTS} attempts; "
                               "try a lower --temperature or another --seed")
        pieces.append(Composition(music, toks, opts.seed, index, model.manifest.name, attempt, n, lp,
                                  ending, primed, candidates))
        if progress:
            progress()
    return pieces
