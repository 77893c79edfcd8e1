"""Keys as people write them (`G`, `Dmix`, `Ador`, `E minor`, `Bb`, `F#m`): the tonic's pitch class
and the mode, shared by every model kind."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# mode -> semitones from the tonic of the major scale with the same notes up to the mode's tonic
MODES = {"major": 0, "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7, "minor": 9, "locrian": 11}
_ALIASES = {"": "major", "maj": "major", "ion": "major", "m": "minor", "min": "minor", "aeo": "minor",
            "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian", "loc": "locrian"}
_ABC_MODE = {"major": "", "minor": "m", "dorian": "Dor", "phrygian": "Phr", "lydian": "Lyd",
             "mixolydian": "Mix", "locrian": "Loc"}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# each tonic spelled as the key with the fewest accidentals writes it
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass(frozen=True)
class Key:
    """A tonic (`F#`, `Bb`) and a mode (`major`, `minor`, `dorian`, ...)."""

    tonic: str
    mode: str

    @property
    def pc(self) -> int:
        """The tonic's pitch class, 0 = C."""
        return (LETTERS[self.tonic[0]] + self.tonic[1:].count("#") - self.tonic[1:].count("b")) % 12

    @property
    def abc(self) -> str:
        """As ABC's K: field writes it (`DMix`, `Em`)."""
        return self.tonic + _ABC_MODE[self.mode]

    @property
    def name(self) -> str:
        """As a person says it (`D mixolydian`)."""
        return f"{self.tonic} {self.mode}"

    def scale(self) -> frozenset[int]:
        """The pitch classes of the key's scale."""
        root = (self.pc - MODES[self.mode]) % 12
        return frozenset((root + s) % 12 for s in MAJOR_SCALE)


_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
_MODE_FIFTHS = {"major": 0, "dorian": -2, "phrygian": -4, "lydian": 1, "mixolydian": -1, "minor": -3,
                "locrian": -5}


def signature(key: Key) -> dict[str, int]:
    """The key signature: each letter's alteration in semitones (F major: B flat)."""
    alter = key.tonic[1:].count("#") - key.tonic[1:].count("b")
    fifths = _FIFTHS[key.tonic[0]] + 7 * alter + _MODE_FIFTHS[key.mode]
    sig = dict.fromkeys(LETTERS, 0)
    for i in range(abs(fifths)):
        letter = ("FCGDAEB" if fifths > 0 else "BEADGCF")[i % 7]
        sig[letter] += 1 if fifths > 0 else -1
    return sig


def parse_key(text: str) -> Key | None:
    """The key `text` writes (`G`, `Dmix`, `A dorian`, `Em`, `Bb minor`, `F#`), or None."""
    m = re.fullmatch(r"([A-Ga-g])([#b♯♭]?)\s*([A-Za-z]*)", text.strip())
    if not m:
        return None
    word = m.group(3).lower()
    mode = _ALIASES.get(word if word in ("m", "") else word[:3])  # as ABC reads a mode: its first letters
    if mode is None:
        return None
    accidental = {"♯": "#", "♭": "b"}.get(m.group(2), m.group(2))
    return Key(m.group(1).upper() + accidental, mode)


def key_named(pc: int, mode: str) -> Key:
    """The usual spelling of the major or minor key on pitch class `pc`."""
    return Key((_MINOR_NAMES if mode == "minor" else _MAJOR_NAMES)[pc % 12], mode)


# Aarden and Essen's key profiles (as music21's default key analysis weighs them)
_PROFILES = {
    "major": np.array([17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624,
                       8.15494, 0.232998, 4.95122]),
    "minor": np.array([18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621,
                       1.93186, 7.37619, 1.75623]),
}


# every major key's profile, then every minor key's (row 12 * mode + tonic), centred and scaled to
# unit length, so that a Pearson correlation with each is one product
_ROLLED = np.array([np.roll(_PROFILES[m], t) for m in ("major", "minor") for t in range(12)])
_ROLLED = _ROLLED - _ROLLED.mean(axis=1, keepdims=True)
_ROLLED /= np.linalg.norm(_ROLLED, axis=1, keepdims=True)


def key_fit(weights: np.ndarray, tonic: int, mode: str) -> float:
    """How much better a pitch-class distribution (12 weights, say each pitch class's total
    duration) fits the key (`tonic`, `mode`) than the best other major or minor key: the margin of
    its correlation with the key's profile, as music21's default key analysis weighs them. Below 0
    a listener hears another key; NaN when the weights are all alike (no key at all)."""
    w = np.asarray(weights, np.float64) - np.mean(weights)
    size = float(np.linalg.norm(w))
    if size == 0:
        return float("nan")
    r = _ROLLED @ (w / size)
    mine = 12 * (mode == "minor") + tonic % 12
    return float(r[mine] - np.delete(r, mine).max())


def strongest_key(weights) -> tuple[int, str]:
    """(tonic pitch class, mode) of the major or minor key whose profile a pitch-class distribution
    fits best: music21's default key analysis."""
    k = int(np.argmax(_ROLLED @ (np.asarray(weights, np.float64) - np.mean(weights))))
    return k % 12, ("major", "minor")[k // 12]


def piece_key(found: tuple[int, str], sharps: int | None, bass: int) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") of a piece: of the two keys its key signature (of
    `sharps`, flats below 0; else the key `found` by analysis and its relative) names, the one
    whose tonic its final bass note is, else the one in the mode the analysis hears."""
    if sharps is not None:
        major = 7 * sharps % 12
        pair = [(major, "major"), ((major + 9) % 12, "minor")]
    else:
        relative = ((found[0] + 9) % 12, "minor") if found[1] == "major" else ((found[0] + 3) % 12, "major")
        pair = [found, relative]
    chosen = next((k for k in pair if k[0] == bass), None)
    if chosen is None:  # a modal or open ending: the mode the analysis hears
        chosen = next((k for k in pair if k[1] == found[1]), pair[0])
    return chosen
