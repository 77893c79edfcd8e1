"""ABC tunes as the notes a player plays: repeats and endings in playing order, ties joined, every
pitch in its key and bar. What the audio and MIDI files of a tune are made from, without music21
(which costs a Pi seconds to import and parse); a test holds it to music21's reading of the same
tunes (tests/music21_play.py).
"""

from __future__ import annotations

import re
from fractions import Fraction

from .abc import (
    BROKEN,
    TUPLET_TIME,
    default_unit,
    note_length,
    note_pitch,
    parse_fraction,
    split_bars,
    split_header,
)
from .keys import parse_key, signature

VELOCITY = 90
_TOKEN = re.compile(
    r"\[([KM]):([^\]]*)\]"  # an inline key or meter change
    r"|\((\d)"  # a tuplet
    r"|(>>?|<<?)"  # broken rhythm
    r"|\[([^\]]*)\](\d*)(/*)(\d*)"  # a chord
    r"|([\^_=]*)([A-Ga-g])([',]*)(\d*)(/*)(\d*)"  # a note
    r"|[zx](\d*)(/*)(\d*)"  # a rest
    r"|(-)")  # a tie
_CHORD_NOTE = re.compile(r"([\^_=]*)([A-Ga-g])([',]*)(\d*)(/*)(\d*)")


def _length(digits: str, slashes: str, denom: str) -> Fraction:
    return Fraction(*note_length(digits, slashes, denom))


class _Bar:
    """One bar's notes: [offset, length, pitches, tied] in whole-note fractions, its length, and
    the barline that closes it."""

    def __init__(self, notes: list, length: Fraction, barline: str) -> None:
        self.notes, self.length, self.barline = notes, length, barline


def _read_bars(text: str) -> list[_Bar]:
    fields, body = split_header(text)
    unit = parse_fraction(fields.get("L") or default_unit(fields.get("M", "4/4")))
    key = parse_key(fields.get("K", "C")) or parse_key("C")
    sig = signature(key)
    bars = []
    for bar_text, barline in split_bars(body.replace("\n", " ")):
        held: dict[tuple[str, int], int] = {}
        notes: list[list] = []
        now = Fraction(0)
        tuplet_left, tuplet_scale, pending = 0, Fraction(1), Fraction(1)

        for m in _TOKEN.finditer(bar_text):
            g = m.groups()
            if g[0]:  # [K:..] / [M:..]
                if g[0] == "K":
                    key = parse_key(g[1]) or key
                    sig = signature(key)
                continue
            if g[2]:
                tuplet_left, tuplet_scale = int(g[2]), Fraction(*TUPLET_TIME.get(int(g[2]), (1, 1)))
                continue
            if g[3]:
                if notes:
                    before, pending = (Fraction(*f) for f in BROKEN[g[3]])
                    last = notes[-1]
                    now += last[1] * (before - 1)
                    last[1] *= before
                continue
            if g[17]:
                if notes:
                    notes[-1][3] = True
                continue
            if g[4] is not None:  # a chord: its first note's length times its own
                inner = _CHORD_NOTE.findall(g[4])
                if not inner:
                    continue
                length = _length(*inner[0][3:]) * _length(*g[5:8])
                pitches = [note_pitch(*n[:3], held, sig) for n in inner]
            elif g[9]:
                length, pitches = _length(*g[11:14]), [note_pitch(g[8], g[9], g[10], held, sig)]
            else:  # a rest
                length, pitches = _length(*g[14:17]), []
            if tuplet_left:
                length *= tuplet_scale
                tuplet_left -= 1
            length *= pending
            pending = Fraction(1)
            notes.append([now, length, pitches, False])
            now += length
        for n in notes:
            n[0] *= unit
            n[1] *= unit
        if notes or barline:
            bars.append(_Bar(notes, now * unit, barline))
    return [b for b in bars if b.notes or b.length]


def _play_order(bars: list[_Bar]) -> list[_Bar]:
    """Bars in playing order: a section closed by `:|` (or `::`, `:|2`) twice from its `|:` (or the
    last part's end, or the start), the first ending on the first pass, the second on the second."""
    ending: dict[int, str] = {}
    current = None
    for i, b in enumerate(bars):
        if current:
            ending[i] = current
        if b.barline == "|1":
            current = "1"
        elif b.barline in (":|2", "|2"):
            current = "2"
        elif current == "2" and b.barline != "|" or current == "1" and b.barline in (":|", "::"):
            current = None
    order: list[_Bar] = []
    start, second, jumped, i = 0, False, set(), 0
    while i < len(bars):
        if i in ending and (ending[i] == "2") != second:
            i += 1
            continue
        if second and i not in ending and i > 0 and (i - 1) in ending:
            second, start = False, i
        b = bars[i]
        order.append(b)
        if b.barline in (":|", "::", ":|2") and i not in jumped:
            jumped.add(i)
            second, i = True, start
            continue
        if b.barline in (":|", "::", ":|2", "|:", "||", "|]") and not (i + 1 in ending and second):
            second, start = False, i + 1
            if b.barline == "::" or b.barline == "|:":
                start = i + 1
        i += 1
    return order


def abc_events(text: str) -> tuple[list[tuple[float, int, int, int]], float]:
    """(quarter notes, on=1/off=0, pitch, velocity) events of an ABC tune, repeats played out and
    ties joined, and its length in quarter notes."""
    played: list[list] = []  # [start, end, pitch]
    tied: dict[int, list] = {}  # pitch -> the note the last note's tie continues
    t = Fraction(0)
    for bar in _play_order(_read_bars(text)):
        for offset, length, pitches, tie in bar.notes:
            start, end = (t + offset) * 4, (t + offset + length) * 4
            now: dict[int, list] = {}
            for p in pitches:
                note = tied.get(p)
                if note is not None:
                    note[1] = end
                else:
                    note = [start, end, p]
                    played.append(note)
                now[p] = note
            tied = now if tie else {}
        t += bar.length
    events = [(float(a), 1, p, VELOCITY) for a, _, p in played] + [(float(b), 0, p, 0) for _, b, p in played]
    events.sort(key=lambda e: (e[0], e[1]))
    return events, float(max(t * 4, max((b for _, b, _ in played), default=0)))
