"""The MIDI event vocabulary: notes on a grid of 1/12 quarter note as tokens, and back.

A piece is a list of notes (onset, pitch, length in grid ticks) plus its meter and barlines. Its
tokens, after `<start>`, are, for every time something happens:

    w<ticks>   the time since the previous event (a rest is simply a longer wait)
    ts<meter>  the meter, at the start and where it changes (`ts4/4`)
    bar        a barline
    p<pitch> d<ticks>   each note starting now, highest first (notes sounding together make chords)

and `<end>` after the last note. All 128 MIDI pitches are in the vocabulary, so no pitch is unseen.
A piece of a model that knows keys opens with its mode (`major` or `minor`) and is written in C major
or A minor (`REFERENCE`); it is played in another key by moving every pitch (`transposed`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from .vocab import END, PAD, START, Vocabulary

GRID = 12  # ticks per quarter note: sixteenths and eighth-note triplets both land on it
MAX_WAIT = 96  # longer waits are written as several
DURATIONS = tuple(range(1, 97)) + tuple(range(108, 385, 12))  # up to 8 quarters exactly, then 32
METERS = ("2/2", "3/2", "4/2", "2/4", "3/4", "4/4", "5/4", "6/4", "3/8", "6/8", "9/8", "12/8")
BAR = "bar"
MODES = ("major", "minor")
REFERENCE = {"major": 0, "minor": 9}  # the tonic pitch class pieces are written in: C major, A minor
TOKENIZER = "midi-event-2"  # bump when the meaning of a token changes


@dataclass(frozen=True, order=True)
class Note:
    """One note: onset and length in grid ticks, MIDI pitch."""

    start: int
    pitch: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Music:
    """Notes with their meter(s) and barlines, all in grid ticks."""

    notes: list[Note]
    meters: list[tuple[int, str]] = field(default_factory=lambda: [(0, "4/4")])
    barlines: list[int] = field(default_factory=list)
    tonic: int | None = None  # pitch class of the key's tonic, where known
    mode: str | None = None  # "major" or "minor", where known

    @property
    def length(self) -> int:
        return max((n.end for n in self.notes), default=0)

    def meter_at(self, tick: int) -> str:
        starts = [t for t, _ in self.meters]
        return self.meters[max(bisect_right(starts, tick) - 1, 0)][1]


def bar_ticks(meter: str) -> int:
    """Length of one bar of `meter` in ticks."""
    num, den = meter.split("/")
    return int(num) * GRID * 4 // int(den)


def event_vocabulary(modes: bool = True) -> Vocabulary:
    """The fixed vocabulary of every MIDI event model (`modes`: with the mode tokens, which models
    made before keys were known lack)."""
    return Vocabulary((PAD, START, END, BAR, *(f"ts{m}" for m in METERS),
                       *(f"p{p}" for p in range(128)), *(f"d{d}" for d in DURATIONS),
                       *(f"w{w}" for w in range(1, MAX_WAIT + 1)), *(MODES if modes else ())))


def shift_to(tonic: int, target: int) -> int:
    """The move in semitones (-6..5) that takes pitch class `tonic` to `target` by the shorter way."""
    return (target - tonic + 6) % 12 - 6


def transposed(music: Music, shift: int) -> Music:
    """`music` moved by `shift` semitones (pitches that would leave the MIDI range by octaves back)."""
    if not shift:
        return music
    notes = [Note(n.start, _in_range(n.pitch + shift), n.length) for n in music.notes]
    tonic = None if music.tonic is None else (music.tonic + shift) % 12
    return Music(keyboard(notes), music.meters, music.barlines, tonic, music.mode)


def in_reference_key(music: Music) -> Music:
    """A piece whose key is known, moved to C major or A minor (`REFERENCE`) the shorter way."""
    return transposed(music, shift_to(music.tonic, REFERENCE[music.mode]))


def _in_range(p: int) -> int:
    while p > 127:
        p -= 12
    while p < 0:
        p += 12
    return p


def snap_length(ticks: float, down: bool = False) -> int:
    """The representable length nearest to `ticks` (or the longest not above it)."""
    if ticks <= DURATIONS[0]:
        return DURATIONS[0]
    i = bisect_right(DURATIONS, ticks)
    if down or i == len(DURATIONS) or DURATIONS[i - 1] == ticks:
        return DURATIONS[i - 1]
    below, above = DURATIONS[i - 1], DURATIONS[i]
    return below if ticks - below <= above - ticks else above  # a tie goes to the shorter


def keyboard(notes: list[Note]) -> list[Note]:
    """Notes as one keyboard plays them: one note per pitch at an onset (the longest), and a held
    key released when the same key is struck again."""
    best: dict[tuple[int, int], Note] = {}
    for n in notes:
        if not 0 <= n.pitch <= 127 or n.length <= 0 or n.start < 0:
            continue
        n = Note(n.start, n.pitch, snap_length(n.length))
        key = (n.start, n.pitch)
        if key not in best or n.length > best[key].length:
            best[key] = n
    out: list[Note] = []
    last: dict[int, int] = {}  # pitch -> index in out of its latest note
    for n in sorted(best.values()):
        i = last.get(n.pitch)
        if i is not None and out[i].end > n.start:
            prev = out[i]
            out[i] = Note(prev.start, prev.pitch, snap_length(n.start - prev.start, down=True))
        last[n.pitch] = len(out)
        out.append(n)
    return sorted(out)


def encode(music: Music) -> list[str]:
    """Token strings of a piece (without start and end)."""
    at: dict[int, list[Note]] = {}
    for n in music.notes:
        at.setdefault(n.start, []).append(n)
    meters = dict(music.meters)
    bars = set(music.barlines)
    tokens: list[str] = [music.mode] if music.mode else []
    now = 0
    for t in sorted(set(at) | bars | set(meters)):
        gap = t - now
        while gap > 0:
            step = min(gap, MAX_WAIT)
            tokens.append(f"w{step}")
            gap -= step
        now = t
        if t in meters:
            tokens.append(f"ts{meters[t]}")
        if t in bars:
            tokens.append(BAR)
        for n in sorted(at.get(t, ()), key=lambda n: -n.pitch):
            tokens += [f"p{n.pitch}", f"d{n.length}"]
    return tokens


_MEANINGS: dict[str, tuple[str, Any]] = {}


def _meaning(tok: str) -> tuple[str, Any]:
    """What a token says: ("mode", name), ("bar", None), ("ts", meter), ("w", ticks), ("p", pitch),
    ("d", ticks), ("special", None) for start, end and padding, ("", None) for anything else; kept,
    as a vocabulary is small."""
    found = _MEANINGS.get(tok)
    if found is None:
        if tok in (START, END, PAD):
            found = ("special", None)
        elif tok in MODES:
            found = ("mode", tok)
        elif tok == BAR:
            found = ("bar", None)
        elif tok.startswith("ts"):
            found = ("ts", tok[2:])
        elif tok[:1] in ("w", "p", "d") and tok[1:].isdigit():
            found = (tok[0], int(tok[1:]))
        else:
            found = ("", None)
        if len(_MEANINGS) < 4096:  # a model's own tokens; a stray one from elsewhere is read again
            _MEANINGS[tok] = found
    return found


def decode(tokens: list[str]) -> Music:
    """The piece a token sequence describes; stray tokens (a pitch without length) are ignored."""
    notes: list[Note] = []
    meters: list[tuple[int, str]] = []
    barlines: list[int] = []
    now, pitch, mode = 0, None, None
    for tok in tokens:
        what, value = _meaning(tok)
        if what == "p":
            pitch = value
            continue
        if what == "d":
            if pitch is not None:
                notes.append(Note(now, pitch, value))
        elif what == "w":
            now += value
        elif what == "bar":
            barlines.append(now)
        elif what == "ts":
            meters.append((now, value))
        elif what == "mode":
            mode = value
        elif what == "special":
            continue  # it leaves a pitch waiting for its length
        pitch = None
    return Music(sorted(notes), meters or [(0, "4/4")], barlines,
                 REFERENCE[mode] if mode else None, mode)


def transpose_table(vocab: Vocabulary, shift: int) -> list[int]:
    """Token id -> token id moving every pitch by `shift` semitones; a pitch that would leave the
    MIDI range moves by octaves back into it."""
    table = list(range(len(vocab)))
    for p in range(128):
        table[vocab.index(f"p{p}")] = vocab.index(f"p{_in_range(p + shift)}")
    return table


def release_at(notes: list[Note], tick: int) -> list[Note]:
    """Notes cut so that none starts at or sounds past `tick` (a clean ending at a barline)."""
    return [Note(n.start, n.pitch, min(n.length, tick - n.start)) for n in notes if n.start < tick]


MAX_CHORD = 10  # notes struck together: one per finger
CLOSING_CHORD = 4  # notes of the closing chord: a chorale's four voices


@dataclass
class EventGuide:
    """Which event token may come next: a meter first, a length after every pitch, waits that never
    cross a barline, a barline exactly when the bar is full (or after a pickup shorter than a bar).

    A primer's tokens come first, as they are; `max_bars` or `max_ticks` stop the piece at a
    barline, and the end token is refused before `min_bars` barlines.

    With a `tonic` (a model that knows keys: its pieces are in C major or A minor), a piece ends
    only on the tonic chord with the tonic in the bass, every note sounding then a note of it: the
    model may end there itself, and at the length limit the last barline is followed by that chord,
    chosen by the model among its notes."""

    primer: list[str] = field(default_factory=list)
    min_bars: int = 0
    max_bars: int | None = None
    max_ticks: int | None = None
    meter: str | None = None
    now: int = 0
    next_bar: int | None = None  # None until the first barline
    bars: int = 0
    bar_here: bool = False
    pending: int | None = None
    onset: set[int] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    barlines: list[int] = field(default_factory=list)
    primed: bool = False  # the primer was given out
    priming: bool = False  # the tokens forced last were the primer's
    tonic: int | None = None  # the key's tonic pitch class, for the cadence
    mode: str = "major"
    key: Any = None  # the key the piece is played in (`keys.Key`), where the model knows keys
    closing: str | None = None  # the limit that began the closing chord ("bars", "seconds")
    closing_at: int = 0  # where it stands
    _cadence: tuple[int, bool] = (-1, False)  # (notes, whether they end on the tonic chord)
    max_backoffs = 0  # every token is final once made: a dead end ends the piece

    @property
    def given(self) -> int:
        return len(self.primer)

    @property
    def triad(self) -> frozenset[int]:
        """The tonic chord's pitch classes."""
        third = 4 if self.mode == "major" else 3
        return frozenset((self.tonic + i) % 12 for i in (0, third, 7))

    def on_tonic_chord(self) -> bool:
        """Whether every note sounding at the last onset is of the tonic chord, the lowest the tonic."""
        if self._cadence[0] != len(self.notes):
            last = max(n.start for n in self.notes)
            # notes held into the closing chord are released at its barline
            sounding = [n.pitch for n in self.notes if n.start == last or n.start < last < n.end and not self.closing]
            ok = {p % 12 for p in sounding} <= self.triad and min(sounding) % 12 == self.tonic
            self._cadence = (len(self.notes), ok)
        return self._cadence[1]

    @property
    def bar_limit(self) -> int:
        """The time the next barline falls at (a pickup may not be longer than a bar)."""
        return self.next_bar if self.next_bar is not None else bar_ticks(self.meter or "4/4")

    def forced(self) -> list[str]:
        if not self.primed:
            self.primed = True
            if self.primer:
                self.priming = True
                return self.primer
        self.priming = False
        if self.closing:
            return []
        if self.next_bar is not None and self.now > self.next_bar:
            self.next_bar = self.now  # a primer with uneven bars: the next one starts here
        if self.meter and self.pending is None and self.now == self.bar_limit and not self.bar_here:
            return [BAR]
        return []

    def allows(self, tok: str) -> bool:
        if self.meter is None:
            return tok.startswith("ts")
        if self.closing:
            return self._closes(tok)
        if self.pending is not None:
            return tok.startswith("d")
        if tok == BAR:
            return not self.bar_here and not self.onset and (
                self.now == self.next_bar if self.next_bar is not None else self.now <= self.bar_limit)
        if tok.startswith("w"):
            return self.now + int(tok[1:]) <= self.bar_limit
        if tok.startswith("p"):
            return int(tok[1:]) not in self.onset and len(self.onset) < MAX_CHORD
        return False  # a meter change, a stray length, a special token

    def _closes(self, tok: str) -> bool:
        """The closing chord: up to four notes of the tonic chord struck at the last barline, each at
        least a half note long; the fourth must leave the tonic in the bass (below it there is always
        room for one)."""
        if self.pending is not None:
            return tok.startswith("d") and 2 * GRID <= int(tok[1:]) <= 2 * bar_ticks(self.meter or "4/4")
        if not tok.startswith("p"):
            return False
        pitch = int(tok[1:])
        if pitch in self.onset or pitch % 12 not in self.triad or len(self.onset) >= CLOSING_CHORD:
            return False
        if len(self.onset) + 1 == CLOSING_CHORD:  # the last note: the chord must end with the tonic in the bass
            return pitch >= 12 and min(pitch, *self.onset) % 12 == self.tonic
        return pitch >= 24 or pitch % 12 == self.tonic and pitch >= 12

    def can_end(self) -> bool:
        if self.meter is None or self.pending is not None or not self.notes or self.bars < self.min_bars:
            return False
        if self.tonic is None:
            return True
        if self.closing and not self.onset:
            return False
        return self.on_tonic_chord()

    def expand(self, tok: str) -> list[str]:
        return [tok]

    def safe_point(self) -> bool:
        return True

    def limit(self, tok: str) -> str | None:
        """"bars" or "seconds" when a barline would open a bar past the length asked for."""
        if tok != BAR or self.bars == 0 or self.priming:
            return None
        reason = None
        # with a closing chord to come, its bar is the last one asked for
        last = self.max_bars - 1 if self.tonic is not None and self.max_bars and self.max_bars > 1 else self.max_bars
        if last is not None and self.bars >= last:
            reason = "bars"
        elif self.max_ticks is not None and self.now >= self.max_ticks:
            reason = "seconds"
        if reason and self.tonic is not None:  # not the end yet: the closing chord comes first
            self.closing, self.closing_at = reason, self.now
            return None
        return reason

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
