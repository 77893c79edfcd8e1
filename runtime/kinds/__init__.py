"""The model kinds and their registry: one module per kind, found by its manifest name.

    kind = kinds.get("abc-char")      # or its short name, "abc"
    kind.noun, kind.suffixes, kind.sampling

A kind names itself in two ways only: its manifest name (`abc-char`), written in every manifest,
and a short name (`abc`) for the command line and run folders. Nothing outside the kind modules and
this registry compares them.
"""

from __future__ import annotations

from importlib import import_module

from ..errors import ModelError
from .base import Kind

# manifest name -> (short name, module holding the kind's class `KIND`)
_KINDS = {"abc-char": ("abc", ".abc"), "midi-event": ("midi", ".midi")}
_loaded: dict[str, Kind] = {}


def names() -> tuple[str, ...]:
    """Manifest names of every kind."""
    return tuple(_KINDS)


def short_names() -> tuple[str, ...]:
    """Short names of every kind, as the command line and run folders write them."""
    return tuple(short for short, _ in _KINDS.values())


def get(name: str) -> Kind:
    """The kind of a manifest name (`abc-char`) or short name (`abc`); ModelError if unknown."""
    for full, (short, module) in _KINDS.items():
        if name in (full, short):
            if full not in _loaded:
                _loaded[full] = import_module(module, __name__).KIND
            return _loaded[full]
    raise ModelError(f"unknown model kind {name!r} (known: {', '.join(names())})")
