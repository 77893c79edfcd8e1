"""Sampling options, with a model's defaults filled in and every value checked once, here."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from . import limits
from .errors import TunegenError

MAX_ATTEMPTS = 20  # draws of one piece before giving up


def primer_text(primer: Any) -> str:
    """A primer as text: a str or a path. Bytes are refused, not written into a tune as `b'...'`
    (which encoding they are in is the caller's to say)."""
    if primer is None:
        return ""
    if isinstance(primer, (bytes, bytearray)):
        raise TunegenError("primer must be text or a path, not bytes: decode it first (primer.decode())")
    if isinstance(primer, os.PathLike):
        primer = os.fspath(primer)
        if not isinstance(primer, str):
            raise TunegenError("primer path must be text, not bytes")
        return primer
    if not isinstance(primer, str):
        raise TunegenError(f"primer must be text or a path (got {type(primer).__name__})")
    return primer


@dataclass
class Options:
    """Sampling settings; None means the model's default from its manifest (or its kind's)."""

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    primer: str = ""
    max_length: int | None = None
    count: int = 1
    bars: int | None = None  # MIDI event models: length in bars, or
    seconds: float | None = None  # in seconds (ended at the next barline)
    candidates: int = 1  # sampled together (one batch per core); the likeliest usable one is kept
    key: str | None = None  # the key to write or play in ("G", "Dmix", "Ador", "Em")
    meter: str | None = None  # ABC models: the meter ("6/8", "C")
    rhythm: str | None = None  # ABC models: the rhythm, as the corpus's R: field ("reel", "jig")
    parts: int | None = None  # ABC models: how many parts
    bars_per_part: int | None = None  # ABC models: the bars of each part

    def resolved(self, defaults: dict) -> Options:
        """These options with `defaults` for what is unset (a random seed if none), checked:
        types, finiteness and the documented limits (`limits`)."""
        out = Options(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name in ("temperature", "top_k", "top_p", "max_length"):
            if getattr(out, name) is None:
                setattr(out, name, defaults[name])
        if out.seed is None:
            out.seed = int(np.random.default_rng().integers(0, 2**31))
        out.seed = limits.seed(out.seed)
        out.primer = primer_text(out.primer)
        out.temperature = limits.real("temperature", out.temperature, above=0.0, high=limits.MAX_TEMPERATURE)
        if not limits.is_real(out.top_p) or not 0 < out.top_p <= 1:
            raise TunegenError(f"top-p must be in (0, 1] (got {out.top_p!r})")
        out.top_p = float(out.top_p)
        out.top_k = limits.integer("top-k", out.top_k, low=0)
        if limits.is_int(out.max_length) and out.max_length < 16:
            raise TunegenError(f"max length must be at least 16 tokens (got {out.max_length})")
        out.max_length = limits.integer("max length", out.max_length, 16, limits.MAX_LENGTH)
        out.count = limits.integer("count", out.count, 1, limits.MAX_COUNT)
        out.candidates = limits.integer("candidates", out.candidates, 1, limits.MAX_CANDIDATES)
        if out.bars is not None:
            out.bars = limits.integer("bars", out.bars, 1, limits.MAX_BARS)
        if out.seconds is not None:
            out.seconds = limits.real("seconds", out.seconds, above=0.0, high=limits.MAX_SECONDS)
        for name in ("key", "meter", "rhythm"):
            value = getattr(out, name)
            if value is not None:
                setattr(out, name, limits.text(name, value, limits.MAX_CONTROL_CHARS))
        if out.parts is not None:
            out.parts = limits.integer("parts", out.parts, 1, limits.MAX_PARTS)
        if out.bars_per_part is not None:
            out.bars_per_part = limits.integer("bars per part", out.bars_per_part, 2, limits.MAX_BARS_PER_PART)
        if out.bars is not None and out.seconds is not None:
            raise TunegenError("give bars or seconds, not both: each sets the length of the piece")
        return out
