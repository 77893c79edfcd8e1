"""The interface every model kind implements: what the runtime needs to know about a kind."""

from __future__ import annotations

from typing import Any, ClassVar


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

    def loss_text(self, bits: float) -> str:
        """A loss given in bits, in this kind's unit."""
        return f"{bits * self.loss_scale:.4f} {self.loss_unit}"
