"""The Python API an embedding program uses."""

import subprocess
import sys
import wave

import numpy as np
import pytest

import tunegen
from tunegen.runtime.sampling import draws, finish


def test_load_generate_save(tiny_model, tmp_path):
    model = tunegen.load(tiny_model)
    a = model.generate(seed=9, max_length=300)
    b = model.generate(seed=9, max_length=300)
    assert a.abc == b.abc and a.seed == 9
    assert a.abc.startswith("X:1\nT:tunegen tiny seed 9\n")
    for suffix in (".abc", ".mid", ".wav"):
        path = a.save(tmp_path / f"x{suffix}")
        assert path.stat().st_size > 0
    assert (tmp_path / "x.abc").read_text() == a.abc
    with wave.open(str(tmp_path / "x.wav")) as w:
        assert w.getnframes() == len(a.audio())
    assert len(model.generate_many(3, seed=1, max_length=200)) == 3


def test_errors_are_one_family_naming_the_argument(tiny_model, tmp_path):
    model = tunegen.load(tiny_model)
    with pytest.raises(tunegen.TunegenError, match="temperature"):
        model.generate(temperature=0)
    with pytest.raises(tunegen.TunegenError, match="top-p"):
        model.generate(top_p=2)
    with pytest.raises(tunegen.TunegenError, match="unknown model"):
        tunegen.load("nope")
    with pytest.raises(tunegen.TunegenError, match="bpm"):
        tunegen.load(tiny_model, bpm=1000)
    with pytest.raises(tunegen.TunegenError, match="suffix picks the format"):
        model.generate(seed=1, max_length=100).save(tmp_path / "x.mp3")


def test_import_is_light():
    code = "import sys, tunegen; print(sorted(m for m in ('numpy', 'music21', 'ai_edge_litert') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_stream_yields_the_first_draw_bar_by_bar(tiny_model):
    model = tunegen.load(tiny_model)
    streamed = "".join(model.stream(seed=21, max_length=300))
    opts = model.options(seed=21, max_length=300)
    guide = model.kind.prepare(model.step, opts, model.bpm).guide()
    draw = finish(draws(model.step, opts, [np.random.default_rng([21, 0, 0])], [guide]))[0]
    text = "".join(draw.tokens)
    assert streamed == text  # the same draw as generate's first attempt
    assert streamed.startswith(("R:", "M:"))
    chunks = list(model.stream(seed=21, max_length=300))
    assert all(len(c) == 1 for c in chunks) and len(chunks) == len(streamed)
