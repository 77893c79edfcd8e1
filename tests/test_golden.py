"""Golden outputs of the shipped models: the same seeds and settings give byte-identical pieces
release after release, unless a change means to alter them (then `tests/golden/make.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_cases import CASES, fingerprint, make

GOLDEN = Path(__file__).parent / "golden"


def _same_kernels(model: str) -> None:
    made_with = json.loads((GOLDEN / "fingerprints.json").read_text())[model]
    if fingerprint(model) != made_with:
        pytest.skip(f"this CPU's interpreter computes the {model} graph's logits differently from "
                    "where the golden files were made; regenerate them here to compare")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_golden_piece(case):
    _same_kernels(case.model)
    assert make(case) == (GOLDEN / case.file).read_bytes()


@pytest.mark.parametrize("model", ["folk", "piano"])
def test_golden_eval(model):
    import music21.corpus
    from typer.testing import CliRunner

    from tunegen.runtime.cli import main_app

    _same_kernels(model)
    files, line = json.loads((GOLDEN / "eval.json").read_text())[model]
    root = Path(music21.corpus.__file__).parent
    corpus = ",".join(str(root / f) for f in files.split(","))
    r = CliRunner().invoke(main_app(), ["eval", model, corpus])
    assert r.exit_code == 0, r.output
    assert line in r.output
