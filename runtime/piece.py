"""One generated piece, of any kind: its tokens, the seed that makes it again, and its files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import TunegenError
from .manifest import write_atomic

if TYPE_CHECKING:
    from .api import Model


@dataclass(eq=False)
class Piece:
    """A piece and how it was made; saves as any of its kind's suffixes, and plays."""

    model: Model
    tokens: list[str]  # as sampled, the primer included
    content: Any  # the kind's own form: ABC text, or `events.Music`
    seed: int
    index: int = 0  # of the pieces made with one seed
    resampled: int = 0  # draws refused before this one
    sampled: int = 0  # tokens the model chose
    mean_logprob: float = 0.0
    ending: str = "end"  # "end" (the model ended it), or the limit that stopped it
    candidates: int = 1  # sampled together; this is the one the model found likeliest
    primer_notes: int = 0
    _score: Any = field(default=None, repr=False)  # the music21 score, once made
    _audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def kind(self):
        return self.model.kind

    @property
    def ended(self) -> bool:
        return self.ending == "end"

    @property
    def abc(self) -> str:
        """The tune as a complete ABC document (ABC models only)."""
        if ".abc" not in self.kind.suffixes:
            raise TunegenError(f"model {self.model.name} makes {self.kind.name} pieces, not ABC; save "
                               "the piece as .mid or .wav")
        return self.data(".abc").decode()

    @property
    def music(self):
        """The notes of a MIDI event piece (None for an ABC tune, whose notes are in its score)."""
        return self.kind.music(self)

    @property
    def score(self):
        """The piece as a music21 score (made on first use: music21 is slow to import and parse)."""
        if self._score is None:
            self._score = self.kind.score(self)
        return self._score

    @property
    def seconds(self) -> float:
        """Playing time at the model's tempo, without the release tail."""
        return self.kind.events(self)[1] * 60.0 / self.model.bpm

    def describe(self) -> str:
        """One line about the piece: length, notes, how it ended, its seed."""
        return self.kind.describe(self)

    def audio(self) -> np.ndarray:
        """Stereo int16 samples [frames, 2], rendered with FluidSynth once and kept."""
        if self._audio is None:
            chunks = list(self.audio_chunks())
            self._audio = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.int16)
        return self._audio

    def audio_chunks(self) -> Iterator[np.ndarray]:
        """The audio a half second at a time, as FluidSynth renders it (or as kept, once whole):
        what lets playing start before the piece is rendered."""
        if self._audio is not None:
            yield self._audio
            return
        from .render import render_chunks

        made = []
        for chunk in render_chunks(*self.kind.events(self), self.model.soundfont(), self.model.program,
                                   self.model.bpm):
            made.append(chunk)
            yield chunk
        self._audio = np.concatenate(made) if made else np.zeros((0, 2), np.int16)

    def data(self, suffix: str) -> bytes:
        """The file contents for a suffix of the kind's (`.abc`, `.mid`/`.midi`, `.wav`, `.svg`,
        `.musicxml`)."""
        suffix = suffix.lower()
        if suffix not in self.kind.suffixes:
            raise TunegenError(f"cannot write {suffix or 'a file without suffix'}: the suffix picks the "
                               f"format, one of {', '.join(self.kind.suffixes)}")
        own = self.kind.data(self, suffix)
        if own is not None:
            return own
        if suffix in (".mid", ".midi"):
            from .render import events_midi

            return events_midi(self.kind.events(self)[0], self.model.bpm, self.model.program,
                               meter=self.kind.meter(self))
        from .render import wav_bytes

        return wav_bytes(self.audio())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the piece; the suffix picks the format. Written atomically."""
        path = Path(path)
        write_atomic(path, self.data(path.suffix))
        return path

    def play(self) -> str:
        """Play through the default audio device and wait; returns the device's name.

        Raises NoAudioDevice (a TunegenError) when there is none."""
        from .playback import play_chunks
        from .render import SAMPLE_RATE

        return play_chunks(self.audio_chunks(), SAMPLE_RATE)
