"""Sampling options, with a model's defaults filled in and every value checked once, here."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import TunegenError

MAX_ATTEMPTS = 20  # draws of one piece before giving up


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
    candidates: int = 1  # sampled together in one batch; the likeliest usable one is kept

    def resolved(self, defaults: dict) -> Options:
        """These options with `defaults` for what is unset (a random seed if none), checked."""
        out = Options(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name in ("temperature", "top_k", "top_p", "max_length"):
            if getattr(out, name) is None:
                setattr(out, name, defaults[name])
        if out.seed is None:
            out.seed = int(np.random.default_rng().integers(0, 2**31))
        if not out.temperature > 0:
            raise TunegenError(f"temperature must be above 0 (got {out.temperature})")
        if not 0 < out.top_p <= 1:
            raise TunegenError(f"top-p must be in (0, 1] (got {out.top_p})")
        if out.top_k < 0:
            raise TunegenError(f"top-k must be 0 (off) or more (got {out.top_k})")
        if out.max_length < 16:
            raise TunegenError(f"max length must be at least 16 tokens (got {out.max_length})")
        if out.count < 1:
            raise TunegenError(f"count must be at least 1 (got {out.count})")
        if out.candidates < 1:
            raise TunegenError(f"candidates must be at least 1 (got {out.candidates})")
        if out.bars is not None and out.bars < 1:
            raise TunegenError(f"bars must be at least 1 (got {out.bars})")
        if out.seconds is not None and not out.seconds > 0:
            raise TunegenError(f"seconds must be above 0 (got {out.seconds:g})")
        return out
