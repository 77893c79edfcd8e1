"""ABC notation: the header fields tunegen uses, note durations, and bar lengths.

The scanner here understands the subset of ABC that tunegen's normalised corpus uses (notes, rests,
chords, simple tuplets, broken rhythm, ties, barlines and repeats). Training uses it to reject tunes
it cannot read; sampling uses it to keep every bar the length its meter asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .keys import LETTERS, parse_key

# Header fields a tune carries, in the order a normalised tune writes them.
HEADER_FIELDS = ("R", "M", "L", "K")
REQUIRED_FIELDS = ("M", "L", "K")

_NOTE = re.compile(r"[\^_=]*([A-Ga-gzx])[',]*(\d*)(/*)(\d*)")
_TUPLET = re.compile(r"\((\d)")
# chord contents; each note's length is unambiguous so that matching never backtracks badly
_CHORD_NOTE = r"[\^_=]{0,2}[A-Ga-g][',]{0,3}(?:\d{1,2})?(?:/{1,2}\d{0,2})?"
_CHORD_NOTES = re.compile(f"(?:{_CHORD_NOTE})+")
_OPEN_CHORD = re.compile(f"\\[(?:{_CHORD_NOTE}){{0,3}}[\\^_=]*")  # at most four notes
_OPEN_FIELD = re.compile(r"\[[KM](:[^\]]*)?$")
_METER_FIELD = re.compile(r"\[M:([^\]]*)\]")
_NOTES_AFTER = re.compile(r"\[[^\]]*\]|[A-Ga-gzx]")
_LENGTH = re.compile(r"(\d*)(/*)(\d*)")
_BARLINE_CHARS = frozenset("|:")
_NOTE_LETTERS = re.compile(r"[A-Ga-g]")
# the values tunegen's header fields may take (R: is free text in lower case)
FIELD_VALUES = {
    "M": {"C", "C|"} | {f"{n}/{d}" for n in range(1, 17) for d in (1, 2, 4, 8, 16)},
    "L": {f"1/{d}" for d in (1, 2, 4, 8, 16, 32)},
    "K": {t + a + m for t in "ABCDEFG" for a in ("", "#", "b")
          for m in ("", "m", "Mix", "Dor", "Phr", "Lyd", "Loc")},
}
_FIELD_PREFIXES = {k: {v[:i] for v in vs for i in range(1, len(v) + 1)} for k, vs in FIELD_VALUES.items()}
_RHYTHM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz ")


def _open_tuplet(bar: str) -> bool:
    """Whether the bar's last tuplet still lacks notes (a barline may not cut it)."""
    start = bar.rfind("(")
    if start < 0:
        return False
    m = _TUPLET.match(bar, start)
    return bool(m) and len(_NOTES_AFTER.findall(bar, m.end())) < int(m.group(1))


def _trailing_signs(text: str) -> str:
    """The accidentals that end `text` (waiting for their note)."""
    k = len(text)
    while k and text[k - 1] in "^_=":
        k -= 1
    return text[k:]


class AbcSyntaxError(ValueError):
    """Raised when ABC text uses a construct tunegen cannot read."""


def parse_fraction(text: str) -> Fraction:
    """Parse `3/4`, `C` (4/4) or `C|` (2/2) into a fraction of a whole note."""
    text = text.strip()
    if text in ("C", "C|"):
        return Fraction(1)
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if not m or int(m.group(2)) == 0 or int(m.group(1)) == 0:
        raise AbcSyntaxError(f"not a fraction: {text!r}")
    return Fraction(int(m.group(1)), int(m.group(2)))


def default_unit(meter: str) -> str:
    """The ABC standard's default unit length for a meter: 1/16 below 3/4, else 1/8."""
    try:
        return "1/16" if parse_fraction(meter) < Fraction(3, 4) else "1/8"
    except AbcSyntaxError:
        return "1/8"


def note_length(digits: str, slashes: str, denom: str) -> tuple[int, int]:
    """A written length as (numerator, denominator) of units."""
    num = int(digits) if digits else 1
    if not slashes:
        return num, 1
    if denom:
        return num, int(denom) * 2 ** (len(slashes) - 1)
    return num, 2 ** len(slashes)


# Inside the scanner lengths are whole numbers of 1/SCALE unit (ints add and compare many times
# faster than Fractions, and a sampled character is scanned several times): every length tunegen
# writes, in a tuplet, with broken rhythm on both sides, is a whole number of them. One that is
# not (an odd length in a tunebook) is kept as a Fraction of them, exact all the same.
SCALE = 2**14 * 3


def _times(x, num: int, den: int):
    """x * num / den, exactly: an int where it divides, else a Fraction."""
    y = x * num
    if isinstance(y, int) and y % den == 0:
        return y // den
    return Fraction(y, den)


SIGNS = {"^": 1, "^^": 2, "_": -1, "__": -2, "=": 0}  # an accidental's alteration in semitones


def note_pitch(sign: str, letter: str, marks: str, held: dict, sig: dict[str, int]) -> int:
    """A note's MIDI pitch: its own sign (`held` then to the end of the bar, as ABC says), else the
    bar's sign for that letter and octave, else the key signature's (`keys.signature`)."""
    octave = (4 if letter.isupper() else 5) + marks.count("'") - marks.count(",")
    k = (letter.upper(), octave)
    if sign:
        held[k] = SIGNS.get(sign, 0)
    return 12 * (octave + 1) + LETTERS[k[0]] + held.get(k, sig[k[0]])


def _length_ok(digits: str, slashes: str, denom: str, trailing: bool) -> bool:
    """Whether a note length is one tunegen writes: 1-16 units, halved at most four times."""
    if digits and (digits[0] == "0" or int(digits) > 16):
        return False
    if len(slashes) > 2 or (denom and len(slashes) != 1):
        return False
    return not denom or denom in ("2", "4", "8", "16") or (trailing and denom == "1")


TUPLET_TIME = {2: (3, 2), 3: (2, 3), 4: (3, 4), 6: (1, 3)}
BROKEN = {">": ((3, 2), (1, 2)), ">>": ((7, 4), (1, 4)), "<": ((1, 2), (3, 2)), "<<": ((1, 4), (7, 4))}
_SHORTEST = _times(SCALE, 1, 16)


# scanner state between tokens: (total, tuplet_left, tuplet_scale, tuplet_size, pending_next,
# last, note_end); lengths in 1/SCALE units, scales as (numerator, denominator)
_START = (0, 0, (1, 1), 0, (1, 1), 0, -1)


def bar_units(text: str, strict: bool = False, partial: bool = False) -> Fraction:
    """Total length of the notes in `text` (one bar, no barlines) in unit lengths.

    With `strict`, anything the scanner does not know raises AbcSyntaxError; with `partial` too, a
    construct cut off by the end of the text (an accidental, `(`, an open chord) is no error, so a
    half-written bar can be checked as it grows. Without `strict`, unknown characters are skipped.
    """
    return units(scan(text, 0, _START, strict, partial)[0])


def units(scaled) -> Fraction:
    """A length the scanner gives, in units."""
    return Fraction(scaled, SCALE)


def scan(text: str, i: int, state: tuple, strict: bool, partial: bool) -> tuple[int | Fraction, tuple[int, tuple]]:
    """`bar_units` of `text` scanned from `i` with the scanner `state` there, in 1/SCALE units;
    returns the total and (the position where the last token starts, the state there): text that
    only grows after that point may be scanned again from it, not from the bar's start."""
    total, tuplet_left, tuplet_scale, tuplet_size, pending_next, last, note_end = state
    n = len(text)
    resume = (i, state)

    def bad(msg: str, cut_off: bool = False) -> None:
        if strict and not (partial and cut_off):
            raise AbcSyntaxError(msg)

    skipped = False  # the last character was passed over: no token starts after it
    while i < n:
        if not skipped:
            resume = (i, (total, tuplet_left, tuplet_scale, tuplet_size, pending_next, last, note_end))
        skipped = False
        ch = text[i]
        if ch in " \t\n":
            i += 1
            continue
        if ch == "-":
            if note_end != i and text[i - 1:i] not in ("<", ">"):
                bad("tie without a note")
            if note_end == i:
                note_end = i + 1  # "A-<B": broken rhythm may follow a tie
            i += 1
            continue
        if ch == "(":
            m = _TUPLET.match(text, i)
            if tuplet_left and tuplet_left == tuplet_size:  # no note of the open tuplet yet
                bad("tuplet inside a tuplet")
            if not m or int(m.group(1)) not in TUPLET_TIME:
                bad(f"unsupported tuplet or slur at {text[i:i + 4]!r}", cut_off=i == n - 1)
                i, skipped = i + 1, True
                continue
            tuplet_left, tuplet_scale = int(m.group(1)), TUPLET_TIME[int(m.group(1))]
            tuplet_size = tuplet_left
            i = m.end()
            continue
        if ch in "<>":
            op = text[i:i + 2] if text[i:i + 2] in BROKEN else ch
            if note_end != i:
                bad("broken rhythm without a note before it")
            (b_num, b_den), after = BROKEN[op]
            total += _times(last, b_num - b_den, b_den)
            pending_next = after
            i += len(op)
            continue
        if ch == "[" and text[i + 1:i + 3] in ("K:", "M:"):  # a key or meter change, as [K:G]
            end = text.find("]", i)
            value = text[i + 3:end] if end >= 0 else text[i + 3:]
            name = text[i + 1]
            if end < 0:
                bad("unclosed field", cut_off=value in _FIELD_PREFIXES[name] or not value)
                return total, resume
            if (normal_key(value) if name == "K" else value) not in FIELD_VALUES[name]:
                bad(f"bad field {text[i:end + 1]!r}")
            i = end + 1
            continue
        if ch == "[":
            end = text.find("]", i)
            if end < 0:
                bad("unclosed chord", cut_off=_OPEN_CHORD.fullmatch(text, i) is not None)
                return total, resume
            inner = text[i + 1:end]
            m = _NOTE.match(inner)
            if not m or not _CHORD_NOTES.fullmatch(inner):
                bad(f"bad chord {text[i:end + 1]!r}")
                if not m:
                    i, skipped = end + 1, True
                    continue
            num, den = note_length(*m.group(2, 3, 4))
            m2 = _LENGTH.match(text, end + 1)
            if not _length_ok(*m2.groups(), trailing=m2.end() == n):
                bad(f"odd chord length {text[i:m2.end()]!r}")
            num2, den2 = note_length(*m2.groups())
            length = _times(SCALE, num * num2, den * den2)
            i = m2.end()
        else:
            m = _NOTE.match(text, i)
            if not m:
                bad(f"unexpected {ch!r}", cut_off=re.fullmatch(r"\^\^?|__?|=", text[i:]) is not None)
                i, skipped = i + 1, True
                continue
            if not _length_ok(*m.group(2, 3, 4), trailing=m.end() == n):
                bad(f"odd note length {m.group(0)!r}")
            if m.group(1) in "zx" and m.group(0)[0] in "^_=":
                bad(f"a sign on a rest {m.group(0)!r}")
            length = _times(SCALE, *note_length(*m.group(2, 3, 4)))
            i = m.end()
        if partial and i == n:
            length = _SHORTEST  # it may still shrink ("A" -> "A/16"): count its shortest
        if tuplet_left:
            length = _times(length, *tuplet_scale)
            tuplet_left -= 1
        if pending_next != (1, 1):
            length = _times(length, *pending_next)
            pending_next = (1, 1)
        total += length
        last = length
        note_end = i
    return total, resume


_SCANS: dict[tuple, tuple] = {}  # scan_on's memory: a tune's bars are made of few distinct tokens
_MAX_SCANS = 1 << 15


def scan_on(text: str, i: int, state: tuple, partial: bool) -> tuple[int | Fraction, tuple[int, tuple]]:
    """`scan(text, i, state, strict=True, partial)`, remembered. What scanning does from `i` depends
    only on the text from there, the character before it (a tie after broken rhythm) and the state
    less its running total, which it only adds to: the same few notes are read at every position of
    every bar, and each is scanned once."""
    total, note_end = state[0], state[6]
    key = (text[i:], text[i - 1:i], state[1:6], note_end == i, partial)
    found = _SCANS.get(key)
    if found is None:
        start = len(key[1])  # scanned alone: the character before, then the text from i
        try:
            got, (at, after) = scan(key[1] + key[0], start, (0, *key[2], start if key[3] else -1), True, partial)
            found = (got, at - start, after[:6], after[6] - start if after[6] >= start else None)
        except AbcSyntaxError as e:
            found = (e,)
        if len(_SCANS) >= _MAX_SCANS:
            _SCANS.clear()
        _SCANS[key] = found
    if len(found) == 1:
        raise AbcSyntaxError(str(found[0]))
    got, at, after, end = found
    return total + got, (i + at, (total + after[0], *after[1:], -1 if end is None else i + end))


def field_ok(name: str, value: str) -> bool:
    """Whether a header field's value is one tunegen can use."""
    if name in FIELD_VALUES:
        return value in FIELD_VALUES[name]
    return bool(value.strip())


def split_header(text: str) -> tuple[dict[str, str], str]:
    """Split a tune into its header fields (up to and including `K:`) and its body."""
    fields: dict[str, str] = {}
    lines = text.split("\n")
    for idx, line in enumerate(lines):
        m = re.match(r"([A-Za-z]):(.*)$", line)
        if not m:
            return fields, "\n".join(lines[idx:])
        fields[m.group(1)] = m.group(2).strip()
        if m.group(1) == "K":
            return fields, "\n".join(lines[idx + 1:])
    return fields, ""


BARLINES = ("|", "||", "|]", "|:", ":|", "::", "|1", "|2", ":|2")
_BARLINE_PREFIXES = frozenset(b[:i] for b in BARLINES for i in range(1, len(b) + 1))


def split_bars(body: str) -> list[tuple[str, str]]:
    """Split a body into (bar text, barline that closes it); the last barline may be ''."""
    out: list[tuple[str, str]] = []
    cur: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "[" and body[i + 1:i + 3] in ("K:", "M:"):  # a field's colon is no barline
            end = body.find("]", i)
            end = len(body) if end < 0 else end + 1
            cur.append(body[i:end])
            i = end
            continue
        if body[i] in _BARLINE_CHARS:
            j = i + 1
            while j < len(body) and body[i:j + 1] in _BARLINE_PREFIXES:
                j += 1
            out.append(("".join(cur), body[i:j]))
            cur, i = [], j
            continue
        cur.append(body[i])
        i += 1
    out.append(("".join(cur), ""))
    return out


def normal_key(value: str) -> str:
    """A key as ABC lets a person write it (`Dmix`, `E minor`, `Ador`) as the corpus writes it
    (`DMix`, `Em`, `Am`); a value that is no key comes back as it was."""
    key = parse_key(value)
    return key.abc if key else value


def tune_problem(text: str) -> str | None:
    """Why an ABC tune (header and body) is not one tunegen can read, or None: every header field
    valid, a meter and a key, and every bar's notes readable with at least one note in all. This is
    the project's own check, stricter than music21's reader (a test holds the two together)."""
    fields, body = split_header(text)
    for name, value in fields.items():
        if name in FIELD_VALUES and (normal_key(value) if name == "K" else value) not in FIELD_VALUES[name]:
            return f"header field {name}:{value} is not one tunegen reads"
    if "K" not in fields or "M" not in fields:
        return "no K: or M: field"
    if not _NOTE_LETTERS.search(body):
        return "no notes"
    try:
        for bar, _ in split_bars(body.replace("\n", " ")):
            bar_units(bar, strict=True)
    except AbcSyntaxError as e:
        return f"unreadable ABC ({e})"
    return None


@dataclass
class BarStats:
    """How many inner bars of a tune have the length its meter asks for."""

    full: int
    inner: int

    @property
    def fraction(self) -> float:
        return self.full / self.inner if self.inner else 1.0


def meter_change(bar: str) -> str | None:
    """The meter a bar changes to with an inline `[M:...]`, if it does."""
    m = _METER_FIELD.search(bar)
    return m.group(1) if m else None


def bar_stats(fields: dict[str, str], body: str) -> BarStats:
    """Count inner bars of full length; a bar split by a repeat (part end + pickup) counts whole.
    A meter change (`[M:3/4]`) sets the length of its bar and those after it."""
    unit = parse_fraction(fields["L"])
    meter = parse_fraction(fields["M"])
    lengths, bars = [], []
    for t, _ in split_bars(body):
        if t.strip():
            change = meter_change(t)
            meter = parse_fraction(change) if change else meter
            lengths.append(bar_units(t, strict=True))
            bars.append(meter / unit)
    full = inner = 0
    i = 1
    while i < len(lengths) - 1:
        inner += 1
        bar = bars[i]
        if lengths[i] == bar:
            full += 1
        elif i + 1 < len(lengths) - 1 and lengths[i] + lengths[i + 1] == bar:
            full += 1
            i += 1
        i += 1
    return BarStats(full, inner)


class BarGuide:
    """Follows a tune as it is sampled and says which next characters keep it well formed.

    In the header it keeps the fields in order and forces the ones the primer fixed. In the body a
    barline may close a bar only when the bar is full (the first bar may be a pickup, and a part may
    end short on a repeat if the next bar completes it), and no note may overflow its bar.
    Sampling may back out of an unfinished bar, never out of a finished one.
    """

    max_backoffs = 32  # dead ends a tune may back out of before it is drawn again

    def __init__(self, fixed: dict[str, str] | None = None, body_primer: str = "") -> None:
        self.fixed = dict(fixed or {})
        self.body_primer = body_primer
        self.given = sum(len(f"{k}:{v}\n") for k, v in self.fixed.items()) + len(body_primer)
        self.fields: dict[str, str] = {}
        self.in_body = False
        self.bar_text = ""
        self.bars = 0
        self.bar_len = Fraction(0)
        self.target = Fraction(0)
        self._line = ""
        self._barline: str | None = None
        self._primed = False
        self._reset_scan()

    @property
    def target(self) -> Fraction:
        """The length the bar being written must have, in units."""
        return self._target_units

    @target.setter
    def target(self, value: Fraction) -> None:
        self._target_units = value
        scaled = value * SCALE  # what the scanner's lengths are compared with
        self._target = scaled.numerator if scaled.denominator == 1 else scaled

    def _reset_scan(self) -> None:
        self._resume: tuple | None = None  # where to scan the bar on from, and the scanner there
        self._resume_at = 0  # the bar's length when `_resume` was taken
        self._resume_whole = False
        self._ahead: tuple | None = None  # (resume, text, resume after text): a candidate's scan

    def _next_fields(self) -> list[str]:
        """Fields that may start the next header line: up to the first required or fixed one."""
        done = [HEADER_FIELDS.index(f) for f in self.fields if f in HEADER_FIELDS]
        out = []
        for f in HEADER_FIELDS[max(done, default=-1) + 1:]:
            out.append(f)
            if f in REQUIRED_FIELDS or f in self.fixed:
                break
        return out

    def forced(self) -> str:
        """Text that must come next whatever the model says ('' when the model may choose)."""
        if not self.in_body:
            if self._line == "":
                nxt = self._next_fields()
                if len(nxt) == 1:
                    f = nxt[0]
                    return f"{f}:{self.fixed[f]}\n" if f in self.fixed else f"{f}:"
            return ""
        if not self._primed:
            self._primed = True
            return self.body_primer
        return ""

    def expand(self, ch: str) -> str:
        """The text a sampled character stands for (a fixed header field expands to its line)."""
        if not self.in_body and self._line == "" and ch in self.fixed:
            return f"{ch}:{self.fixed[ch]}\n"
        if not self.in_body and self._line == "":
            return ch + ":"
        return ch

    def allows(self, ch: str) -> bool:
        """Whether `ch` may come next."""
        if not self.in_body:
            if self._line == "":
                return ch in self._next_fields()
            name, value = self._line[0], self._line[2:]
            if ch == "\n":
                return field_ok(name, value)
            if name in _FIELD_PREFIXES:
                return value + ch in _FIELD_PREFIXES[name]
            return ch in _RHYTHM_CHARS and len(value) < 16
        if self._barline is not None:
            if self._barline + ch in _BARLINE_PREFIXES:
                return self._barline_may_grow(self._barline + ch)
            if not self._barline_complete(self._barline):
                return False
        if ch in " \n":
            prev = self.bar_text[-1:] or ("|" if self._barline else "\n")
            if prev in " \n" or (ch == "\n" and self.bars == 0 and not self.bar_text):
                return False
            if self.bar_text[-2:-1] == "(" and self.bar_text[-1:].isdigit():
                return False  # a tuplet's notes follow it at once
        elif ch in _BARLINE_CHARS:
            try:
                units = self._units(self.bar_text, partial=False)
            except AbcSyntaxError:
                return False
            return (units > 0 and not _open_tuplet(self.bar_text) and self.bar_text.rstrip()[-1:] not in "<>"
                    and self._may_close(units, ch))
        if ch in "zx" and self.bar_text[-1:] in ("^", "_", "="):
            return False  # a sign belongs to a note, not a rest
        if ch in "^_=":  # a sign (or a tuplet) needs a note after it, and room in the bar for one
            run = _trailing_signs(self.bar_text) + ch
            if run not in ("^", "_", "="):  # double signs: the corpus hardly has one
                return False
        try:
            scaled = self._scaled(self.bar_text + ch, partial=True)
        except AbcSyntaxError:
            return False
        return scaled < self._target if ch in "^_=(" else scaled <= self._target

    def _may_close(self, units: Fraction, ch: str) -> bool:
        """Whether a bar of `units` may be closed by a barline starting with `ch`."""
        if units == self.target or (self.bars == 0 and units < self.bar_len):
            return True
        # a part may end short on a repeat; the next bar then completes it
        return ch == ":" and self.target == self.bar_len and self.bar_len / 2 <= units

    def _barline_may_grow(self, text: str) -> bool:
        """Whether a barline may go on to `text` (a prefix of one of BARLINES)."""
        return True

    def _barline_complete(self, text: str) -> bool:
        """Whether `text` may stand as a whole barline."""
        return text in BARLINES

    def _barline_done(self, text: str) -> None:
        """A barline was finished (the next character is no part of it)."""

    def _units(self, text: str, partial: bool) -> Fraction:
        """Strict `bar_units` of the bar so far (`text` is it, or it and one character more),
        scanned on from where its last token starts: O(1) per character, not O(bar)."""
        return units(self._scaled(text, partial))

    def _scaled(self, text: str, partial: bool) -> int | Fraction:
        """`_units` in the scanner's own 1/SCALE units (compared as ints, not Fractions)."""
        if self._resume_at != len(self.bar_text):
            ahead = self._ahead
            if ahead is not None and ahead[0] is self._resume and ahead[1] == self.bar_text:
                self._resume = ahead[2]  # the character asked about last was written: scanned already
            else:
                start = self._resume or (0, _START)
                try:
                    self._resume = scan_on(self.bar_text, *start, partial=True)[1]
                except AbcSyntaxError:
                    self._resume = None  # read this bar whole from now on: the old way, always right
                    self._resume_whole = True
            self._resume_at = len(self.bar_text)
        if self._resume_whole or self._resume is None:
            return scan(text, 0, _START, True, partial)[0]
        got, after = scan_on(text, *self._resume, partial=partial)
        if partial:
            self._ahead = (self._resume, text, after)
        return got

    def safe_point(self) -> bool:
        """Whether a barline was just written (a safe point to sample again from)."""
        return self.in_body and self.bar_text == "" and self._barline is not None

    def limit(self, text: str) -> None:
        """A tune has no limit but its length."""
        return None

    def can_end(self) -> bool:
        """Whether the tune may end here: in the body, on a finished barline, after two bars."""
        if not self.in_body or self.bars < 2:
            return False
        if self._barline is not None:
            return self._barline in BARLINES
        try:
            return self._units(self.bar_text, partial=False) == self.target == self.bar_len
        except AbcSyntaxError:
            return False

    def push(self, text: str) -> None:
        """Record text of the tune, one character at a time."""
        for ch in text:
            self._push(ch)

    def _push(self, ch: str) -> None:
        if not self.in_body:
            if ch != "\n":
                self._line += ch
                return
            m = re.match(r"([A-Za-z]):(.*)$", self._line)
            self._line = ""
            if m:
                self.fields[m.group(1)] = m.group(2).strip()
                if m.group(1) == "K":
                    self._start_body()
            return
        if self._barline is not None:
            if self._barline + ch in _BARLINE_PREFIXES:
                self._barline += ch
                return
            done, self._barline = self._barline, None
            self._barline_done(done)
        if ch in _BARLINE_CHARS and not ("[" in self.bar_text and _OPEN_FIELD.search(self.bar_text)):
            self._close_bar()
            self._barline = ch
            return
        self.bar_text += ch

    def _start_body(self) -> None:
        self.in_body = True
        try:
            meter = parse_fraction(self.fields.get("M", "4/4"))
        except AbcSyntaxError:
            meter = Fraction(1)
        try:
            unit = parse_fraction(self.fields.get("L") or default_unit(self.fields.get("M", "")))
        except AbcSyntaxError:
            unit = Fraction(1, 8)
        self.bar_len = self.target = meter / unit

    def _bar_units(self) -> Fraction:
        """`bar_units` of the bar as it closes: scanned on from where its last token starts (the
        barline's check scanned it so), or read whole where the strict scan refuses it (a primer's
        bar may hold what only the lenient one passes over); where the strict scan passes, the two
        read the same tokens."""
        try:
            return self._units(self.bar_text, partial=False)
        except AbcSyntaxError:
            return bar_units(self.bar_text)

    def _close_bar(self) -> None:
        units = self._bar_units()
        if self.bars > 0 and units < self.target:
            self.target -= units  # the next bar completes this one
        else:
            self.target = self.bar_len
        self.bars += 1
        self.bar_text = ""
        self._reset_scan()
