"""The Python API for embedding tunegen: no subprocess, no TensorFlow.

    import tunegen
    model = tunegen.load("folk")                 # a shipped name or a path
    piece = model.generate(seed=7, temperature=0.9)
    piece.save("x.abc"); piece.save("x.mid"); piece.save("x.wav")
    piece.play()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .errors import TunegenError
from .generate import Options, Tune, generate, parse_primer, sample_steps
from .manifest import write_atomic
from .model import DEFAULT_MODEL, StepModel, load_model

SUFFIXES = (".abc", ".mid", ".midi", ".wav")


class Piece:
    """One generated tune: its ABC text and seed; saves as ABC, MIDI or WAV, and plays."""

    def __init__(self, tune: Tune, model: Model) -> None:
        self.tune, self.model = tune, model
        self._audio: np.ndarray | None = None

    @property
    def abc(self) -> str:
        """The tune as a complete ABC document."""
        return self.tune.document()

    @property
    def seed(self) -> int:
        return self.tune.seed

    @property
    def resampled(self) -> int:
        """How many draws were refused (did not parse) before this one."""
        return self.tune.resampled

    def audio(self) -> np.ndarray:
        """Stereo int16 samples [frames, 2], rendered with FluidSynth once and kept."""
        if self._audio is None:
            from .render import synthesize

            self._audio = synthesize(self.tune.score, self.model.soundfont(), self.model.program,
                                     self.model.bpm)
        return self._audio

    def data(self, suffix: str) -> bytes:
        """The file contents for a suffix: `.abc`, `.mid`/`.midi` or `.wav`."""
        suffix = suffix.lower()
        if suffix == ".abc":
            return self.abc.encode()
        if suffix in (".mid", ".midi"):
            from .render import midi_bytes

            return midi_bytes(self.tune.score, self.model.bpm, self.model.program)
        if suffix == ".wav":
            from .render import wav_bytes

            return wav_bytes(self.audio())
        raise TunegenError(f"cannot write {suffix or 'a file without suffix'}: the suffix picks the "
                           f"format, one of {', '.join(SUFFIXES)}")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the piece; the suffix picks the format. Written atomically."""
        path = Path(path)
        write_atomic(path, self.data(path.suffix))
        return path

    def play(self) -> str:
        """Play through the default audio device and wait; returns the device's name.

        Raises NoAudioDevice (a TunegenError) when there is none."""
        from .playback import play
        from .render import SAMPLE_RATE

        return play(self.audio(), SAMPLE_RATE)


class Model:
    """A loaded model with its rendering settings."""

    def __init__(self, step: StepModel, soundfont: str | os.PathLike | None = None,
                 bpm: float | None = None, program: int | None = None) -> None:
        render = step.manifest.render
        self.step = step
        self.bpm = float(bpm if bpm is not None else render.get("bpm", 120))
        self.program = int(program if program is not None else render.get("program", 0))
        if not 20 <= self.bpm <= 400:
            raise TunegenError(f"bpm must be 20-400 (got {self.bpm:g})")
        if not 0 <= self.program <= 127:
            raise TunegenError(f"program must be 0-127 (got {self.program})")
        self._soundfont_arg = soundfont
        self._soundfont: Path | None = None

    @property
    def name(self) -> str:
        return self.step.manifest.name

    @property
    def manifest(self):
        return self.step.manifest

    def soundfont(self) -> Path:
        """The SoundFont pieces render with (found on first use)."""
        if self._soundfont is None:
            from .render import find_soundfont

            self._soundfont = find_soundfont(self._soundfont_arg)
        return self._soundfont

    def generate_many(self, count: int = 1, *, seed: int | None = None, temperature: float | None = None,
                      top_k: int | None = None, top_p: float | None = None, primer: str = "",
                      max_length: int | None = None, progress: Callable[[], None] | None = None,
                      ) -> list[Piece]:
        """`count` new pieces, each checked with music21 (unparsable draws are sampled again)."""
        from .score import parse_abc

        def validate(tune: Tune) -> str | None:
            tune.score, problem = parse_abc(tune.document())
            return problem

        opts = Options(temperature, top_k, top_p, seed, primer, max_length, count)
        return [Piece(t, self) for t in generate(self.step, opts, validate, progress)]

    def generate(self, *, seed: int | None = None, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, primer: str = "",
                 max_length: int | None = None) -> Piece:
        """One new piece; the same seed and settings give the same piece."""
        return self.generate_many(1, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                                  primer=primer, max_length=max_length)[0]

    def stream(self, *, seed: int | None = None, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, primer: str = "",
               max_length: int | None = None) -> Iterator[str]:
        """A new tune character by character, as sampling makes it final (a bar at a time), for a
        device that reacts live. Every bar is checked as it is made, but the whole tune is not
        checked with music21 (what was played cannot be taken back); it is the first draw that
        `generate` with the same seed and settings makes."""
        opts = Options(temperature, top_k, top_p, seed, primer, max_length).resolved(self.manifest.sampling)
        fixed, body = parse_primer(opts.primer, self.manifest.vocab)
        rng = np.random.default_rng([opts.seed, 0, 0])
        for chunk in sample_steps(self.step, opts, rng, fixed, body):
            yield from chunk


def load(model: str | os.PathLike = DEFAULT_MODEL, *, soundfont: str | os.PathLike | None = None,
         bpm: float | None = None, program: int | None = None, num_threads: int | None = None) -> Model:
    """Load a shipped model by name, or a `.tflite`/`.json` by path, verifying its checksum."""
    return Model(load_model(model, num_threads), soundfont, bpm, program)
