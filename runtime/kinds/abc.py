"""ABC character models: tunes written as ABC text, one character per token."""

from __future__ import annotations

from .base import Kind


class AbcKind(Kind):
    name = "abc-char"
    short = "abc"
    noun, plural = "tune", "tunes"
    loss_unit, loss_scale = "bits/char", 1.0
    sampling = {"temperature": 0.8, "top_k": 0, "top_p": 0.95, "max_length": 2000}
    render = {"program": 73, "bpm": 160}  # flute
    suffixes = (".abc", ".mid", ".midi", ".wav", ".svg", ".musicxml")
    keep_suffix = ".abc"


KIND = AbcKind()
