"""The interface every model kind implements: what the runtime needs to know about a kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import TunegenError

if TYPE_CHECKING:
    from ..model import StepModel
    from ..options import Options
    from ..piece import Piece
    from ..sampling import Draw, Guide


# the options only some kinds have, and what each one does
KIND_OPTIONS = {
    "bars": "sets a MIDI event piece's length (ABC tunes end themselves: use max_length to cap them)",
    "seconds": "sets a MIDI event piece's length (ABC tunes end themselves: use max_length to cap them)",
    "key": "sets the key a piece is written in",
    "meter": "sets an ABC tune's meter",
    "rhythm": "sets an ABC tune's rhythm (R: field)",
    "parts": "sets how many parts an ABC tune has",
    "bars_per_part": "sets the bars of each part of an ABC tune",
}


class Plan:
    """What a kind made of a request once, before drawing: the parsed primer and limits. Each draw
    gets a fresh guide from it, for the piece of that index (pieces of one request may differ, in
    key say, by their index)."""

    def guide(self, index: int = 0) -> Guide:
        raise NotImplementedError


class Kind:
    """One model kind. A subclass per kind sets the class attributes and implements the methods;
    everything else in tunegen asks the kind instead of comparing kind names."""

    name: ClassVar[str]  # the manifest's name for it, e.g. "abc-char"
    short: ClassVar[str]  # the command line's and run folders' name, e.g. "abc"
    noun: ClassVar[str]  # "tune", "piece"
    plural: ClassVar[str]
    loss_unit: ClassVar[str]  # how its loss is reported, e.g. "bits/char"
    loss_scale: ClassVar[float]  # that unit per bit
    sampling: ClassVar[dict[str, Any]]  # defaults where a manifest names none
    render: ClassVar[dict[str, Any]]  # General MIDI program, tempo in quarter notes per minute
    suffixes: ClassVar[tuple[str, ...]]  # what a piece can be saved as
    keep_suffix: ClassVar[str]  # the file that makes a piece again (radio --keep)
    collection_suffix: ClassVar[str | None] = None  # a file that holds many pieces, if any
    options: ClassVar[tuple[str, ...]] = ()  # sampling options only this kind has

    def loss_text(self, bits: float) -> str:
        """A loss given in bits, in this kind's unit."""
        return f"{bits * self.loss_scale:.4f} {self.loss_unit}"

    def vocabulary_problem(self, tokens: list[str]) -> str | None:
        """Why a manifest's vocabulary cannot serve this kind (tokens its sampling must be able to
        write are missing, or tokens it cannot read), or None."""
        return None

    def check(self, opts: Options, model: str) -> None:
        """Refuse options that mean nothing to this kind (before any default is filled in)."""
        for name, why in KIND_OPTIONS.items():
            if name not in self.options and getattr(opts, name) is not None:
                raise TunegenError(f"{name.replace('_', ' ')} {why}; {model} is a {self.name} model, "
                                   f"which has no such setting")

    def prepare(self, step: StepModel, opts: Options, bpm: float) -> Plan:
        """Parse the primer and set the limits of a request (options resolved)."""
        raise NotImplementedError

    def primer_notes(self, plan: Plan) -> int:
        """How many notes of a piece its primer gave."""
        return 0

    def content(self, plan: Plan, draw: Draw) -> Any:
        """The kind's own form of a draw (ABC text, notes)."""
        raise NotImplementedError

    def ending(self, draw: Draw) -> str:
        """How a draw ended, as its piece reports it."""
        return draw.ending

    def problem(self, piece: Piece) -> str | None:
        """Why a drawn piece is unusable (and is drawn again), or None."""
        return None

    def rank(self, piece: Piece) -> tuple[bool, float]:
        """How a usable piece ranks among draws: whether it is all it should be, and a score
        (higher is better); by default every piece is, and the model's likeliest ranks first."""
        return True, piece.mean_logprob

    def score(self, piece: Piece) -> Any:
        """The piece as a music21 score."""
        raise NotImplementedError

    def describe(self, piece: Piece) -> str:
        """One line about the piece."""
        raise NotImplementedError

    def announce(self, piece: Piece, number: int, in_file: bool) -> str | None:
        """What the command line prints for a piece made (`in_file`: its text went to a file)."""
        return f"{self.noun} {number}: {piece.describe()}"

    def events(self, piece: Piece) -> tuple[list[tuple[float, int, int, int]], float]:
        """Note on/off events (quarter notes, on, pitch, velocity) and the length in quarters."""
        raise NotImplementedError

    def music(self, piece: Piece) -> Any:
        """The piece's notes as `events.Music`, where the kind keeps them so."""
        return None

    def meter(self, piece: Piece) -> str | None:
        """The meter to write into a MIDI file, if the piece has one."""
        return None

    def data(self, piece: Piece, suffix: str) -> bytes | None:
        """File contents for a suffix only this kind writes (None: not one of its own)."""
        return None

    def collection(self, pieces: list[Piece]) -> bytes:
        """Many pieces in one file of `collection_suffix`."""
        raise NotImplementedError
