"""The training side of every model kind, found by the runtime's kind names.

    kinds.get("abc")          # or "abc-char": the TrainingKind of tunegen.runtime.kinds.get("abc")

The training side of a kind lives in the module named by the kind's short name (`abc.py` for
`abc`), as `TRAINING`; a new kind needs its runtime kind module and that one module here.
"""

from __future__ import annotations

from importlib import import_module

from tunegen.runtime import kinds as runtime_kinds

from .base import TrainingKind

_loaded: dict[str, TrainingKind] = {}


def get(name: str) -> TrainingKind:
    """The training side of a kind, by manifest name or short name; ModelError if unknown."""
    kind = runtime_kinds.get(name)
    if kind.name not in _loaded:
        _loaded[kind.name] = import_module(f".{kind.short}", __name__).TRAINING
    return _loaded[kind.name]


def short_names() -> tuple[str, ...]:
    """Short names of every kind, as run folders and `train KIND` write them."""
    return runtime_kinds.short_names()
