"""The golden cases: fixed seeds and settings of the shipped models whose output must not change
unless a change means it to (then `tests/golden/make.py` writes them anew)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRIMER_ABC = "M:6/8\nK:D\n|:A|dfa"


def primer_midi() -> str:
    """A real score to continue: one of music21's bundled Bach chorales."""
    import music21.corpus

    return str(next((Path(music21.corpus.__file__).parent / "bach").glob("bwv66.6.mxl")))


@dataclass(frozen=True)
class Case:
    model: str
    seed: int
    suffix: str
    options: dict = field(default_factory=dict)
    label: str = ""

    @property
    def file(self) -> str:
        return f"{self.model}-seed{self.seed}{'-' + self.label if self.label else ''}{self.suffix}"


CASES = (
    [Case("folk", s, ".abc") for s in range(1, 21)]
    + [Case("piano", s, ".mid") for s in range(1, 11)]
    + [Case("folk", 5, ".abc", {"primer": PRIMER_ABC}, "primer"),
       Case("folk", 6, ".abc", {"candidates": 4}, "candidates4"),
       Case("piano", 5, ".mid", {"primer": "<bach>"}, "primer"),
       Case("piano", 6, ".mid", {"candidates": 4, "bars": 12}, "candidates4")]
)

_models: dict = {}


def model(name: str):
    import tunegen

    if name not in _models:
        _models[name] = tunegen.load(name)
    return _models[name]


def make(case: Case) -> bytes:
    """What the case makes today."""
    opts = dict(case.options)
    if opts.get("primer") == "<bach>":
        opts["primer"] = primer_midi()
    return model(case.model).generate(seed=case.seed, **opts).data(case.suffix)


def fingerprint(name: str, steps: int = 64) -> str:
    """A hash of the step graph's logits over fixed tokens on this machine: the golden files hold
    only where the interpreter computes these bit for bit as where they were made (int8 kernels
    round differently on other CPUs)."""
    step = model(name).step
    state = step.zero_state()
    rng = np.random.default_rng(0)
    h = hashlib.sha256()
    for token in rng.integers(3, len(step.manifest.vocabulary), steps):
        logits, state = step.step(np.array([token]), state)
        h.update(np.ascontiguousarray(logits, np.float32).tobytes())
    return h.hexdigest()
