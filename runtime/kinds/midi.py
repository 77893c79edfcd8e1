"""MIDI event models: pieces as note events on a grid (`tunegen.runtime.events`)."""

from __future__ import annotations

import math

from .base import Kind


class MidiKind(Kind):
    name = "midi-event"
    short = "midi"
    noun, plural = "piece", "pieces"
    loss_unit, loss_scale = "nats/token", math.log(2)
    # `bars` is the length limit when none is asked for; `min_bars` the shortest piece
    sampling = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "max_length": 8000, "bars": 24,
                "min_bars": 8}
    render = {"program": 0, "bpm": 100}  # acoustic grand piano
    suffixes = (".mid", ".midi", ".wav", ".svg", ".musicxml")
    keep_suffix = ".mid"


KIND = MidiKind()
