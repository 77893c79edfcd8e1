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

from .compose import Composition, compose, piece_steps
from .errors import TunegenError
from .events import Music
from .generate import Options, Tune, generate, parse_primer, sample_steps
from .manifest import write_atomic
from .model import DEFAULT_MODEL, StepModel, load_model

SUFFIXES = (".abc", ".mid", ".midi", ".wav", ".svg", ".musicxml")
MIDI_KIND = "midi-event"


def suffixes(kind: str) -> tuple[str, ...]:
    """The file suffixes a piece of a model kind can be saved as."""
    return SUFFIXES[1:] if kind == MIDI_KIND else SUFFIXES


class Piece:
    """One generated piece and its seed; saves as ABC (ABC models), MIDI or WAV, and plays."""

    def __init__(self, tune: Tune | Composition, model: Model) -> None:
        self.tune, self.model = tune, model
        self._audio: np.ndarray | None = None

    @property
    def abc(self) -> str:
        """The tune as a complete ABC document (ABC models only)."""
        if isinstance(self.tune, Composition):
            raise TunegenError(f"model {self.model.name} makes MIDI events, not ABC; save the piece "
                               "as .mid or .wav")
        return self.tune.document()

    @property
    def music(self) -> Music | None:
        """The notes of a MIDI event piece (None for an ABC tune, whose notes are in its score)."""
        return self.tune.music if isinstance(self.tune, Composition) else None

    @property
    def seconds(self) -> float:
        """Playing time at the model's tempo, without the release tail."""
        return self._events()[1] * 60.0 / self.model.bpm

    def describe(self) -> str:
        """One line about the piece: length, notes, how it ended, its seed."""
        if not isinstance(self.tune, Composition):
            return f"tune of {self.tune.tokens} characters, seed {self.seed}"
        m = self.tune.music
        ended = {"end": "ended by the model", "bars": "stopped at the bar limit",
                 "seconds": "stopped at the time limit", "length": "stopped at the length limit"}
        return (f"{len(m.barlines)} bars of {m.meters[0][1]}, {len(m.notes)} notes, "
                f"{self.seconds:.0f} s, {ended[self.tune.ending]}, seed {self.seed}")

    def _events(self):
        from .render import music_events, note_events

        if isinstance(self.tune, Composition):
            return music_events(self.tune.music)
        return note_events(self.tune.score)

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
            from .render import synthesize_events

            self._audio = synthesize_events(*self._events(), self.model.soundfont(), self.model.program,
                                            self.model.bpm)
        return self._audio

    def data(self, suffix: str) -> bytes:
        """The file contents for a suffix: `.abc` (ABC models), `.mid`/`.midi`, `.wav`, `.svg`
        (engraved sheet music) or `.musicxml`."""
        suffix = suffix.lower()
        if suffix == ".abc":
            return self.abc.encode()
        if suffix in (".svg", ".musicxml"):
            from . import sheet

            if suffix == ".svg" and self.music is None:
                return sheet.abc_svg(self.abc)
            score = sheet.music_score(self.music, self.model.bpm) if self.music else self.tune.score
            data = sheet.musicxml(score)
            return sheet.musicxml_svg(data) if suffix == ".svg" else data
        if suffix in (".mid", ".midi"):
            from .render import events_midi

            meter = self.music.meters[0][1] if self.music else None
            return events_midi(self._events()[0], self.model.bpm, self.model.program, meter=meter)
        if suffix == ".wav":
            from .render import wav_bytes

            return wav_bytes(self.audio())
        raise TunegenError(f"cannot write {suffix or 'a file without suffix'}: the suffix picks the "
                           f"format, one of {', '.join(suffixes(self.model.manifest.kind))}")

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

    @property
    def is_midi(self) -> bool:
        """True for a MIDI event model (piano), False for an ABC character model (folk)."""
        return self.manifest.kind == MIDI_KIND

    def _options(self, count: int, seed, temperature, top_k, top_p, primer, max_length, bars,
                 seconds) -> Options:
        primer = str(primer) if primer else ""
        if not self.is_midi and (bars is not None or seconds is not None):
            raise TunegenError(f"bars/seconds set a MIDI event model's length; {self.name} is an ABC "
                               "model, whose length is its own (use max_length to cap it)")
        if not self.is_midi and Path(primer).suffix.lower() in (".mid", ".midi"):
            raise TunegenError(f"a MIDI primer needs a MIDI event model; {self.name} continues ABC "
                               "text such as 'M:6/8 K:D'")
        if self.is_midi and primer and not Path(primer).expanduser().exists():
            raise TunegenError(f"primer file {primer} not found; a MIDI event model continues a MIDI "
                               "or score file")
        return Options(temperature, top_k, top_p, seed, primer, max_length, count, bars, seconds)

    def generate_many(self, count: int = 1, *, seed: int | None = None, temperature: float | None = None,
                      top_k: int | None = None, top_p: float | None = None,
                      primer: str | os.PathLike = "", max_length: int | None = None,
                      bars: int | None = None, seconds: float | None = None, candidates: int = 1,
                      progress: Callable[[], None] | None = None) -> list[Piece]:
        """`count` new pieces. ABC tunes are checked with music21 (unparsable draws are sampled
        again). For a MIDI event model, `primer` is a MIDI or score file whose opening bars the
        piece continues, and `bars` or `seconds` caps its length (it ends at a barline).
        `candidates` samples that many together (one batched model step for all) and keeps the
        usable one the model finds likeliest; the seed still fixes the result."""
        opts = self._options(count, seed, temperature, top_k, top_p, primer, max_length, bars, seconds)
        if self.is_midi:
            return [Piece(c, self) for c in compose(self.step, opts, self.bpm, progress, candidates)]
        from .score import parse_abc

        def validate(tune: Tune) -> str | None:
            tune.score, problem = parse_abc(tune.document())
            return problem

        return [Piece(t, self) for t in generate(self.step, opts, validate, progress, candidates)]

    def generate(self, *, seed: int | None = None, temperature: float | None = None,
                 top_k: int | None = None, top_p: float | None = None, primer: str | os.PathLike = "",
                 max_length: int | None = None, bars: int | None = None,
                 seconds: float | None = None, candidates: int = 1) -> Piece:
        """One new piece; the same seed and settings give the same piece."""
        return self.generate_many(1, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                                  primer=primer, max_length=max_length, bars=bars, seconds=seconds,
                                  candidates=candidates)[0]

    def stream(self, *, seed: int | None = None, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, primer: str | os.PathLike = "",
               max_length: int | None = None, bars: int | None = None,
               seconds: float | None = None) -> Iterator[str]:
        """A new piece token by token as sampling makes it final, for a device that reacts live.

        An ABC tune comes character by character, a bar at a time (every bar is checked as it is
        made, but the whole tune is not checked with music21: what was played cannot be taken back).
        A MIDI event piece comes event token by event token (`p60`, `d12`, `w6`, `bar`, ...). Either
        way it is the first draw that `generate` with the same seed and settings makes."""
        opts = self._options(1, seed, temperature, top_k, top_p, primer, max_length, bars, seconds)
        if self.is_midi:
            from .compose import resolved

            opts, tokens = resolved(self.step, opts)
            rng = np.random.default_rng([opts.seed, 0, 0])
            yield from piece_steps(self.step, opts, rng, tokens, self.bpm)
            return
        opts = opts.resolved(self.manifest.sampling)
        fixed, body = parse_primer(opts.primer, self.manifest.vocab)
        rng = np.random.default_rng([opts.seed, 0, 0])
        for chunk in sample_steps(self.step, opts, rng, fixed, body):
            yield from chunk


def load(model: str | os.PathLike = DEFAULT_MODEL, *, soundfont: str | os.PathLike | None = None,
         bpm: float | None = None, program: int | None = None, num_threads: int | None = None) -> Model:
    """Load a shipped model by name, or a `.tflite`/`.json` by path, verifying its checksum."""
    return Model(load_model(model, num_threads), soundfont, bpm, program)
