"""Documented limits on what a request may ask for, and the checks that turn a wrong value into
one clear TunegenError. The README's section "Limits" lists the same numbers.

Each value is still checked once, where its config is built (`Options.resolved`, `Model`, the radio
command): these are the shared helpers they call, so every caller says the same thing.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

from .errors import TunegenError

MAX_COUNT = 1000  # pieces per command or generate_many call
MAX_CANDIDATES = 64  # sampled together (one batch per core): memory grows with it
MAX_LENGTH = 20000  # tokens per piece (the shipped models stop far sooner)
MAX_BARS = 1000  # a MIDI piece's length in bars
MAX_SECONDS = 3600.0  # a MIDI piece's length in seconds
MAX_TEMPERATURE = 10.0  # far past where sampling is noise
MAX_SEED = 2**63 - 1
MAX_PRIMER_CHARS = 24000  # an ABC primer: about 2,000 bars, far more than a tune's opening
# a primer file's bytes by suffix: a MIDI file is read only as far as its opening bars, and once more
# for its key in a quick pass (1 MB in about 0.3 s; a long orchestral file is smaller); a score is
# read whole by music21, though only its opening is used
MAX_PRIMER_BYTES = {".mid": 1 << 20, ".midi": 1 << 20, ".mxl": 64 << 10}
MAX_PRIMER_SCORE_BYTES = 512 << 10  # MusicXML, Humdrum and the other text formats
# notes in a MIDI primer's opening bars (their length is bounded by the cut: `midiscan.opening`)
MAX_PRIMER_NOTES = 2000
MAX_PARTS = 16  # an ABC tune's parts (real tunes have 2 to 6)
MAX_BARS_PER_PART = 64
MAX_CONTROL_CHARS = 24  # a key, meter or rhythm as text
MAX_PAUSE = 60.0  # radio: seconds of silence between pieces
BPM_RANGE = (20.0, 400.0)
PROGRAM_RANGE = (0, 127)


def is_int(value: Any) -> bool:
    """An integer, not a bool (True would otherwise pass as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A real number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int within [low, high], or a TunegenError naming the option."""
    if not is_int(value):
        raise TunegenError(f"{name} must be a whole number (got {value!r})")
    value = int(value)
    if low is not None and value < low:
        raise TunegenError(f"{name} must be at least {low} (got {value})")
    if high is not None and value > high:
        raise TunegenError(f"{name} must be at most {high} (got {value})")
    return value


def real(name: str, value: Any, low: float | None = None, high: float | None = None,
         above: float | None = None) -> float:
    """`value` as a finite float within [low, high] (and > `above`), or a TunegenError."""
    if not is_real(value):
        raise TunegenError(f"{name} must be a number (got {value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise TunegenError(f"{name} must be a finite number (got {value})")
    if above is not None and not value > above:
        raise TunegenError(f"{name} must be above {above:g} (got {value:g})")
    if low is not None and value < low:
        raise TunegenError(f"{name} must be at least {low:g} (got {value:g})")
    if high is not None and value > high:
        raise TunegenError(f"{name} must be at most {high:g} (got {value:g})")
    return value


def text(name: str, value: Any, most: int) -> str:
    """`value` as stripped, non-empty printable text of at most `most` characters."""
    if not isinstance(value, str):
        raise TunegenError(f"{name} must be text (got {type(value).__name__})")
    value = value.strip()
    if not value or len(value) > most or not value.isprintable():
        raise TunegenError(f"{name} must be 1 to {most} printable characters (got {value[:40]!r})")
    return value


def pause(value: Any) -> float:
    """Radio's pause between pieces, in seconds."""
    return real("pause", value, low=0.0, high=MAX_PAUSE)


def seed(value: Any) -> int:
    """A seed: a whole number from 0 (the random generator takes no negative seeds)."""
    return integer("seed", value, 0, MAX_SEED)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads(value: Any) -> int | None:
    """Interpreter threads: None for the default, else at least 1 and clamped to the usable cores
    (more threads than cores only contend, and a huge count exhausts the system's threads)."""
    if value is None:
        return None
    return min(integer("num_threads", value, low=1), usable_cores())
