"""Every shipped model on whichever interpreter this environment has.

The suite runs this file twice: here (LiteRT, numpy 2) and in `.venv-tflite` (tflite-runtime 2.14,
numpy < 2) through test_interpreters.py. It needs no TensorFlow.
"""

import numpy as np
import pytest

import tunegen
from tunegen.runtime.interpreter import interpreter_class, package_version, runtime_fits
from tunegen.runtime.model import load_model, shipped_models

SHIPPED = sorted(shipped_models())


def test_both_shipped_models_are_there():
    assert {"folk", "piano"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_loads_and_fits_the_installed_interpreter(name):
    model = load_model(name)
    _, package = interpreter_class()
    assert model.package == package
    assert model.manifest.min_runtime and runtime_fits(model.manifest.min_runtime, package,
                                                       package_version(package))
    logits, state = model.step(np.array([model.manifest.vocab.start]), model.zero_state())
    assert logits.shape == (1, len(model.manifest.vocabulary)) and np.isfinite(logits).all()
    assert [s.shape for s in state] == [(1, u) for u in model.manifest.layers for _ in "hc"]


@pytest.mark.parametrize("name", SHIPPED)
def test_generates_a_usable_piece_and_the_seed_fixes_it(name, tmp_path):
    model = tunegen.load(name)
    a = model.generate(seed=1)
    assert a.data(".mid") == model.generate(seed=1).data(".mid")
    if a.music is not None:
        assert len(a.music.notes) >= 8 and a.music.barlines
    else:
        assert a.score.flatten().notes and "K:" in a.abc
    path = a.save(tmp_path / "x.mid")
    assert path.stat().st_size > 100
