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
from typing import Any

import numpy as np

from . import kinds, limits
from .errors import AudioError, TunegenError
from .model import DEFAULT_MODEL, StepModel, load_model
from .options import Options
from .piece import Piece
from .sampling import Draw, draws, samples

__all__ = ["Model", "Piece", "load"]


class Model:
    """A loaded model with its rendering settings."""

    def __init__(self, step: StepModel, soundfont: str | os.PathLike | None = None,
                 bpm: float | None = None, program: int | None = None) -> None:
        self.step = step
        self.kind = kinds.get(step.manifest.kind)
        render = {**self.kind.render, **step.manifest.render}
        low, high = limits.BPM_RANGE
        self.bpm = limits.real("bpm", bpm if bpm is not None else render["bpm"], low, high)
        low, high = limits.PROGRAM_RANGE
        self.program = limits.integer("program", program if program is not None else render["program"], low, high)
        if soundfont is not None and not isinstance(soundfont, (str, os.PathLike)):
            raise TunegenError(f"soundfont must be a path (got {type(soundfont).__name__})")
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

            found = find_soundfont(self._soundfont_arg)
            check_soundfont(found)
            self._soundfont = found
        return self._soundfont

    def options(self, count: int = 1, **settings) -> Options:
        """Sampling options for this model: its defaults filled in, every value checked."""
        opts = Options(count=count, **settings).resolved({**self.kind.sampling, **self.manifest.sampling})
        self.kind.check(opts, self.name)
        return opts

    def generate_many(self, count: int = 1, **settings: Any) -> list[Piece]:
        """`count` new pieces, with the settings `each` takes, as a list."""
        return list(self.each(count, **settings))

    def each(self, count: int = 1, *, seed: int | None = None, temperature: float | None = None,
             top_k: int | None = None, top_p: float | None = None,
             primer: str | os.PathLike = "", max_length: int | None = None,
             bars: int | None = None, seconds: float | None = None, candidates: int = 1,
             key: str | None = None, meter: str | None = None, rhythm: str | None = None,
             parts: int | None = None, bars_per_part: int | None = None,
             progress: Callable[[], None] | None = None) -> Iterator[Piece]:
        """`count` new pieces one at a time, each as soon as it is made (the options are checked
        before the first), so a long run can write every piece when it is finished. Every draw is
        checked with tunegen's own reader and an unusable one is sampled again. For a MIDI event
        model, `primer` is a MIDI or score file whose opening bars the piece continues, and `bars`
        or `seconds` caps its length (it ends at a barline). `candidates` samples that many
        together (a batched model step for all, split over the cores) and keeps the usable one the
        model finds likeliest; the seed still fixes the result.

        `key` sets the key (`G`, `Dmix`, `Ador`, `Em`; a piano piece: major or minor). An ABC tune
        also takes `meter` (`6/8`), `rhythm` (`jig`, as the corpus's R: field), `parts` and
        `bars_per_part`; every one is honoured in every tune."""
        opts = self.options(count, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                            primer=primer, max_length=max_length, bars=bars, seconds=seconds,
                            candidates=candidates, key=key, meter=meter, rhythm=rhythm, parts=parts,
                            bars_per_part=bars_per_part)
        plan = self.kind.prepare(self.step, opts, self.bpm)
        primed = self.kind.primer_notes(plan)

        def make_piece(draw: Draw, index: int, attempt: int) -> Piece:
            return Piece(self, draw.tokens, self.kind.content(plan, draw), opts.seed, index, attempt,
                         draw.sampled, draw.mean_logprob, self.kind.ending(draw), opts.candidates, primed)

        return samples(self.step, opts, plan.guide, make_piece, self.kind.problem, progress, self.kind.rank)

    def generate(self, **settings: Any) -> Piece:
        """One new piece, with the settings `each` takes; the same seed and settings give the same
        piece."""
        return self.generate_many(1, **settings)[0]

    def stream(self, *, seed: int | None = None, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, primer: str | os.PathLike = "",
               max_length: int | None = None, bars: int | None = None,
               seconds: float | None = None, key: str | None = None, meter: str | None = None,
               rhythm: str | None = None, parts: int | None = None,
               bars_per_part: int | None = None) -> Iterator[str]:
        """A new piece token by token as sampling makes it final, for a device that reacts live.

        An ABC tune comes character by character, a bar at a time (every bar is checked as it is
        made, but the whole tune is not checked with music21: what was played cannot be taken back).
        A MIDI event piece comes event token by event token (`p60`, `d12`, `w6`, `bar`, ...). Either
        way it is the first draw that `generate` with the same seed and settings makes (which keeps
        it unless it draws again: a draw it cannot use, a piano piece not heard in its key)."""
        opts = self.options(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p,
                            primer=primer, max_length=max_length, bars=bars, seconds=seconds, key=key,
                            meter=meter, rhythm=rhythm, parts=parts, bars_per_part=bars_per_part)
        plan = self.kind.prepare(self.step, opts, self.bpm)
        rng = np.random.default_rng([opts.seed, 0, 0])
        for chunk in draws(self.step, opts, [rng], [plan.guide()], stream=True):
            yield from chunk


def check_soundfont(path: Path) -> None:
    """Refuse a file that is no SoundFont before any work (FluidSynth would only say so after
    sampling, and on stderr): SoundFonts are RIFF files of form `sfbk` (SF2, SF3) or `DLS `."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise AudioError(f"cannot read the SoundFont {path}: {e.strerror or e}") from None
    if head[:4] != b"RIFF" or head[8:12] not in (b"sfbk", b"DLS "):
        raise AudioError(f"{path} is not a SoundFont (no RIFF sfbk header); give a General MIDI .sf2 file")


def load(model: str | os.PathLike = DEFAULT_MODEL, *, soundfont: str | os.PathLike | None = None,
         bpm: float | None = None, program: int | None = None, num_threads: int | None = None) -> Model:
    """Load a shipped model by name, or a `.tflite`/`.json` by path, verifying its checksum.
    `num_threads` is clamped to the cores this process may use."""
    if not isinstance(model, (str, os.PathLike)) or not os.fspath(model):
        raise TunegenError(f"model must be a shipped model's name or a path (got {model!r})")
    num_threads = limits.threads(num_threads)
    return Model(load_model(model, num_threads), soundfont, bpm, program)
