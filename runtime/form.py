"""Tunes in their form, as the bar guide writes them: parts of a set number of bars, each closed by a
repeat or a double bar only when its bars are done; first- and second-time endings; a pickup that
the part's closing bars complete to one bar; every part ending on the tonic of its key; and ties
that join two notes of the same pitch only.

A part as the guide lets it be written (`N` bars, pickup `p` units, `|1`, `:|2` optional):

    [pickup p |] bar 1 | ... | bar N-e |1 ... | closing bar :|2 ... | closing bar ||
    [pickup p |] bar 1 | ... | bar N-1 | closing bar :|   (or || |: ::, or |] to end the tune)

Every closing bar is one bar less the pickup, and every part's last closing bar ends on the tonic.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .abc import (
    BARLINES,
    SIGNS,
    AbcSyntaxError,
    BarGuide,
    bar_units,
    note_pitch,
    parse_fraction,
    split_bars,
    split_header,
)
from .keys import LETTERS, parse_key, signature

DEFAULT_BARS = 8  # per part: what the corpus's reels, jigs, hornpipes and polkas have
MIN_PARTS, MAX_PARTS = 2, 4  # where the parts are not asked for: the model ends the tune between
_SIGN = {alter: sign for sign, alter in SIGNS.items()}
_TOKEN = re.compile(r"\[([^\]]*)\]|([\^_=]*)([A-Ga-g])([',]*)|[zx]")
_NOTE = re.compile(r"([\^_=]*)([A-Ga-g])([',]*)")
_FILLERS = frozenset("ABCDEFGabcdefgzx0123456789/<>")
_FIELDS = re.compile(r"\[[KM]:[^\]]*\]")
_LAST_FIELD = re.compile(r"\[([KM]):([^\]]*)\]$")
_FIELD_VALUE = re.compile(r"\[([KM]):([^\]]*)\]")
_TIED = re.compile(r"(\[[^\]]*\]|[\^_=]*[A-Ga-g][',]*|[zx])[\d/]*(-?)")
_LAST_NOTE = re.compile(r"(\[[^\]]*\]|[\^_=]*[A-Ga-g][',]*)[\d/]*$")


def pitches(text: str, sig: dict[str, int]) -> list[int | None]:
    """The MIDI pitch of each note of one bar (a chord's top note; None for a rest), with the
    accidentals written in the bar holding to its end."""
    held: dict[tuple[str, int], int] = {}
    out: list[int | None] = []
    for m in _TOKEN.finditer(_FIELDS.sub(" ", text)):
        if m.group(1) is not None:
            chord = [note_pitch(*n.groups(), held, sig) for n in _NOTE.finditer(m.group(1))]
            out.append(max(chord) if chord else None)
        elif m.group(3):
            out.append(note_pitch(m.group(2), m.group(3), m.group(4), held, sig))
        else:
            out.append(None)
    return out


def spellings(pitch: int, held_text: str, sig: dict[str, int]) -> list[str]:
    """How a note of `pitch` may be written after `held_text` (the bar so far): with a sign, or
    with none where the key signature or an accidental earlier in the bar already gives it."""
    out = []
    for letter, pc in LETTERS.items():
        q, r = divmod(pitch - pc, 12)
        for alter, octave in ((r, q - 1), (r - 12, q)):
            if alter not in _SIGN:
                continue
            base = (letter if octave <= 4 else letter.lower()) + "," * max(0, 4 - octave) + "'" * max(0, octave - 5)
            out.append(_SIGN[alter] + base)
            if pitches(held_text + " " + base, sig)[-1] == pitch:
                out.append(base)
    return out


_PART_ENDS = (":|", "::", "||", "|]", "|:")


def parts_of(text: str) -> tuple[list[dict], dict]:
    """A tune's parts as a player reads them, and facts of the whole tune. Each part: its bars as
    written and those of one pass (the first ending, not the second), whether it is repeated, its
    `count` of bars (a pickup not counted, a closing bar that completes it counted), whether its
    repeat keeps the meter (`in_time`) and whether it ends on the tonic of its key. The tune:
    whether its `final` note is the tonic, and its `odd_ties` (ties between two different
    pitches). Inline key and meter changes (`[K:G]`, `[M:3/4]`) hold from their bar on."""
    fields, body = split_header(text)
    unit = parse_fraction(fields.get("L", "1/8"))
    bar_len = parse_fraction(fields["M"]) / unit
    key = parse_key(fields["K"]) or parse_key("C")
    parts, cur, first_pass, ending, e1_len, e_count = [], [], [], None, 0, 0
    flat: list[tuple[int | None, bool]] = []

    def close(repeated: bool) -> None:
        nonlocal cur, first_pass, ending
        if cur:
            parts.append({"bars": cur, "pass": first_pass, "repeated": repeated or ending is not None})
        cur, first_pass, ending = [], [], None

    for t, line in split_bars(body.replace("\n", " ")):
        if not t.strip():
            continue
        for name, value in _FIELD_VALUE.findall(t):
            if name == "K":
                key = parse_key(value) or key
            else:
                bar_len = parse_fraction(value) / unit
        sig = signature(key)
        bar = {"units": bar_units(t), "text": t, "len": bar_len, "tonic": key.pc, "sig": sig}
        cur.append(bar)
        if ending != 2:
            first_pass.append(bar)
        ties = [m.group(2) == "-" for m in _TIED.finditer(_FIELDS.sub(" ", t))]
        flat.extend(zip(pitches(t, sig), ties, strict=True))
        if line == "|1":
            ending, e1_len, e_count = 1, 0, 0
            continue
        if ending == 1:
            e1_len += 1
            if line == ":|2":
                ending, e_count = 2, 0
            continue
        if ending == 2:
            e_count += 1
            if line in _PART_ENDS or e_count >= e1_len or not line:
                close(True)
            continue
        if line in _PART_ENDS or not line:
            close(line in (":|", "::"))
    close(False)
    # a lone pickup before the first part joins it
    if len(parts) > 1 and len(parts[0]["bars"]) == 1 and parts[0]["bars"][0]["units"] < parts[0]["bars"][0]["len"]:
        parts[1]["bars"][:0] = parts[0]["bars"]
        parts[1]["pass"][:0] = parts[0]["pass"]
        parts.pop(0)
    pitched = [p for p, _ in flat if p is not None]
    odd_ties = sum(1 for (p, tie), (q, _) in zip(flat, flat[1:], strict=False)
                   if tie and p is not None and q is not None and p != q)
    for part in parts:
        pas = part["pass"]
        first, close_bar = pas[0], pas[-1]
        pickup = first["units"] if first["units"] < first["len"] else 0
        part["count"] = sum(1 for b in pas if b["units"] >= b["len"]) + (
            1 if len(pas) > 1 and close_bar["units"] < close_bar["len"] else 0)
        part["in_time"] = not part["repeated"] or len(pas) < 2 or (
            pickup + close_bar["units"] == close_bar["len"] if pickup else close_bar["units"] == close_bar["len"])
        last_bar = part["bars"][-1]
        last = [p for p in pitches(last_bar["text"], last_bar["sig"]) if p is not None]
        part["tonic"] = bool(last) and last[-1] % 12 == last_bar["tonic"]
    final_bar = next((b for part in reversed(parts) for b in reversed(part["bars"])
                      if any(p is not None for p in pitches(b["text"], b["sig"]))), None)
    final = bool(pitched) and final_bar is not None and pitched[-1] % 12 == final_bar["tonic"]
    return parts, {"final": final, "odd_ties": odd_ties}


class FormGuide(BarGuide):
    """The bar guide with the form of a tune on top (see the module's text). `parts` and `bars`
    fix the number of parts and the bars of each; left as None, a part has the bars `forms` gives
    for the tune's rhythm or meter (else 8) and the model ends the tune after 2 to 4 parts."""

    max_backoffs = 64

    def __init__(self, fixed: dict[str, str] | None = None, body_primer: str = "", parts: int | None = None,
                 bars: int | None = None, forms: dict | None = None) -> None:
        super().__init__(fixed, body_primer)
        self.want_parts, self.want_bars, self.forms = parts, bars, forms or {}
        self.per_part = bars or DEFAULT_BARS
        self.part = 1  # the part being written
        self.count = 0  # bars of its first pass so far, its pickup not counted
        self.pickup: Fraction | None = None  # its pickup's length (0: none), once its first bar is done
        self.phase = "body"  # or "first", "second": in an ending
        self.ending_len = self.ending_count = 0
        self.finished = False  # its last part is closed: nothing but the end may follow
        self.primed_parts = 0  # parts the primer closed
        self.tonic = 0
        self.sig = {letter: 0 for letter in LETTERS}
        self._closed: tuple[str, Fraction, bool] = ("", Fraction(0), False)  # the bar a barline closes
        self._allowed: tuple[str, ...] = ()
        self._tie: int | None = None  # the pitch a tie started: the next note must be it
        self._tie_text = ""
        self._tie_ways: tuple[str, ...] = ()
        self._primer_left = 0

    # -- the form --------------------------------------------------------------------------------
    def _start_body(self) -> None:
        super()._start_body()
        key = parse_key(self.fields.get("K", "C")) or parse_key("C")
        self.tonic, self.sig = key.pc, signature(key)
        if self.want_bars is None:
            rhythm, meter = self.fields.get("R", ""), self.fields.get("M", "")
            found = self.forms.get("rhythm", {}).get(rhythm) or self.forms.get("meter", {}).get(meter) or {}
            self.per_part = int(found.get("bars", DEFAULT_BARS))

    @property
    def closing_len(self) -> Fraction:
        """A closing bar's length: one bar less the part's pickup."""
        return self.bar_len - (self.pickup or 0)

    def _role(self) -> str:
        """What the bar being written is in its part."""
        if self.phase == "first":
            return "first-close" if self.count + 1 == self.per_part else "ending"
        if self.phase == "second":
            return "second-close" if self.ending_count + 1 == self.ending_len else "ending"
        if self.count == 0 and self.pickup is None:
            return "opening"
        return "close" if self.count + 1 == self.per_part else "inner"

    def _most_parts(self) -> int:
        """The parts the tune has at most (a primer's parts are its own, and the model's come on top)."""
        return self.want_parts or MAX_PARTS + self.primed_parts

    def _least_parts(self) -> int:
        return self.want_parts or max(MIN_PARTS, self.primed_parts + 1)

    def _last_part(self) -> bool:
        return self.part >= self._most_parts()

    def _may_finish(self) -> bool:
        """Whether the tune may end with the part being written."""
        return self.part >= self._least_parts()

    def _closings(self) -> tuple[str, ...]:
        """The barlines that may close the part's last closing bar."""
        if self._last_part():
            return ("|]", ":|") if self.phase == "body" else ("|]", "||")
        go_on = (":|", "::", "||", "|:") if self.phase == "body" else ("||", "|", "|:")
        return go_on + (("|]",) if self._may_finish() else ())

    def _barlines(self, units: Fraction) -> tuple[str, ...]:
        """The barlines that may close the bar being written, `units` long (none: it may not close)."""
        if self.finished:
            return ()
        role, full = self._role(), units == self.bar_len
        if role == "opening":
            if full:
                return ("|", "|1") if 1 <= self.per_part - 1 <= 2 else ("|",)
            return ("|",) if 0 < units <= self.bar_len / 2 else ()
        if role == "inner":
            left = self.per_part - self.count - 1  # bars after this one
            return (("|", "|1") if 1 <= left <= 2 else ("|",)) if full else ()
        if role == "ending":
            return ("|",) if full else ()
        if units != self.closing_len:
            return ()
        if role == "first-close":
            return (":|2",)
        return self._closings() if self._on_tonic() else ()

    def _on_tonic(self) -> bool:
        notes = [p for p in pitches(self.bar_text, self.sig) if p is not None]
        return bool(notes) and notes[-1] % 12 == self.tonic

    def _may_close(self, units: Fraction, ch: str) -> bool:
        if self._tie is not None and self._tie_text and self._tie_text not in self._tie_ways:
            return False  # a tied note is half written
        self._allowed = self._barlines(units)
        if self._tie is not None and not self._tie_text and self._role().endswith("close"):
            self._allowed = ()  # no tie across the end of a part
        return any(b.startswith(ch) for b in self._allowed)

    def _barline_may_grow(self, text: str) -> bool:
        return any(b.startswith(text) for b in self._allowed)

    def _barline_complete(self, text: str) -> bool:
        return text in self._allowed and not self._ends_tune(text)

    def _ends_tune(self, text: str) -> bool:
        """Whether closing the bar with `text` closes the tune's last part."""
        return self._closed[0] in ("close", "second-close") and (text == "|]" or self._last_part())

    def _close_bar(self) -> None:
        if self._tie is not None and not self._tie_text:  # the tied note falls in the next bar
            self._tie_ways = tuple(spellings(self._tie, "", self.sig))
        self._closed = (self._role(), self._bar_units(), self._primer_left > 0)
        if self._primer_left:
            self._allowed = BARLINES
        self.bars += 1
        self.bar_text = ""
        self._reset_scan()

    def _barline_done(self, text: str) -> None:
        role, units, primed = self._closed
        if not units and primed:
            return  # a primer's opening `|:` closes no bar
        if primed and role not in ("close", "second-close") and text in (":|", "::", "||"):
            role = "close"  # the primer closed a part early
        if role == "opening":
            self.pickup = units if units < self.bar_len else Fraction(0)
            self.count = 0 if units < self.bar_len else 1
        elif role in ("inner", "first-close") or role == "ending" and self.phase == "first":
            self.count += 1
        elif role == "ending":
            self.ending_count += 1
        if text == "|1":
            self.phase, self.ending_len = "first", self.per_part - self.count
        elif role == "first-close":
            self.phase, self.ending_count = "second", 0
        elif role in ("close", "second-close"):
            self.finished = self._ends_tune(text) and not primed
            self.primed_parts += primed
            self.part += 1
            self.count, self.pickup, self.phase = 0, None, "body"
        role = self._role()
        self.target = self.closing_len if role.endswith("close") else self.bar_len

    def can_end(self) -> bool:
        if not self.in_body or self._tie is not None:
            return False
        if self._barline is not None:
            return self._barline in self._allowed and self._closed[0] in ("close", "second-close") \
                and self._may_finish()
        return self.finished or (self.phase == "body" and self.count == 0 and self.pickup is None
                                 and not self.bar_text.strip() and self.part > self._least_parts())

    # -- ties and the primer ---------------------------------------------------------------------
    def forced(self) -> str:
        text = super().forced()
        if self.in_body and text:
            self._primer_left = len(text)  # the primer's barlines are the user's: taken as they are
        return text

    def _tie_state(self, ch: str) -> str:
        """What `ch` does to an open tie: "" (nothing), "done" (the tied note is written) or the
        tied note's text so far with `ch`."""
        if self._tie is None or ch in " \n" or self._barline is not None and ch in "|:123]" \
                or ch in "|:" and not self._tie_text:
            return ""
        if self._tie_text in self._tie_ways and ch not in "',":
            return "done"
        return self._tie_text + ch

    def _steers(self, ch: str) -> bool:
        """Whether `ch` keeps a closing bar able to end on the tonic: the note, rest or length that
        fills the bar must leave the tonic as its last note, and no chord is begun there."""
        if self._barline is not None or self._primer_left or self._role() not in ("close", "second-close"):
            return True
        if ch == "[":
            return False
        if ch not in _FILLERS:
            return True
        text = self.bar_text + ch
        try:
            fills = self._scaled(text, partial=False) >= self._target
        except AbcSyntaxError:
            return True
        if not fills:
            return True
        notes = [p for p in pitches(text, self.sig) if p is not None]
        return bool(notes) and notes[-1] % 12 == self.tonic

    def allows(self, ch: str) -> bool:
        if self.in_body:
            if self.finished or not self._steers(ch):
                return False
            if ch == "-":
                m = _LAST_NOTE.search(self.bar_text)
                if not m or m.group(1).startswith("["):
                    return False  # a tie joins one note to the same note
            if self._tie is not None:
                if ch in " \n" and self._tie_text and self._tie_text not in self._tie_ways:
                    return False
                state = self._tie_state(ch)
                if state and state != "done" and not any(w.startswith(state) for w in self._tie_ways):
                    return False
        return super().allows(ch)

    def _push(self, ch: str) -> None:
        if self.in_body:
            state = self._tie_state(ch)
            if state == "done":
                self._tie, self._tie_text = None, ""
            elif state:
                self._tie_text = state
            elif ch == "-" and self._tie is None:
                self._tie = next((p for p in reversed(pitches(self.bar_text, self.sig)) if p is not None), None)
                self._tie_text = ""
                if self._tie is not None:  # how the tied note may be written in this bar
                    self._tie_ways = tuple(spellings(self._tie, self.bar_text + "-", self.sig))
        super()._push(ch)
        if ch == "]" and self.in_body:
            m = _LAST_FIELD.search(self.bar_text)
            if m:  # a key or meter change (from a primer): the guide follows it
                name, value = m.groups()
                if name == "K":
                    key = parse_key(value) or parse_key("C")
                    self.tonic, self.sig = key.pc, signature(key)
                else:
                    unit = self.bar_len / parse_fraction(self.fields.get("M", "4/4"))
                    self.fields["M"] = value
                    self.bar_len = parse_fraction(value) * unit
                    self.target = self.closing_len if self._role().endswith("close") else self.bar_len
        if self._primer_left:
            self._primer_left -= 1
