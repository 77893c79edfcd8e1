"""Shared fixtures: small real corpora from music21's bundled collections, and one tiny model
trained and exported once per session (real TensorFlow, real TFLite conversion)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ALSA_FILE_DEVICE = """pcm.!default {{
  type plug
  slave.pcm "tofile"
}}
pcm.tofile {{
  type file
  slave.pcm "null"
  file "{path}"
  format "raw"
}}
"""


def music21_abc(collection: str) -> list[Path]:
    import music21.corpus

    return sorted((Path(music21.corpus.__file__).parent / collection).rglob("*.abc"))


@pytest.fixture(scope="session")
def oneills_file() -> Path:
    """One real multi-tune file: O'Neill's tunes 51-100."""
    return next(p for p in music21_abc("oneills1850") if p.name == "0051-0100.abc")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, oneills_file) -> Path:
    """A folder of real ABC: two O'Neill's files in a subfolder, plus one broken file."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "irish").mkdir()
    shutil.copy(oneills_file, root / "irish" / oneills_file.name)
    shutil.copy(music21_abc("oneills1850")[0], root / "irish" / "first.abc")
    (root / "broken.abc").write_text("X:1\nT:no key here\nM:4/4\nL:1/8\nABcd|\n\nX:2\nT:no notes\nM:4/4\nK:D\n\n")
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_corpus) -> Path:
    """A run folder from a few real training steps of a tiny LSTM."""
    pytest.importorskip("tensorflow")
    from tunegen.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig(corpus=str(small_corpus), embedding=16, units=48, layers=2, dropout=0.0,
                      epochs=2, max_steps=24, batch_size=16, seq_len=64, lr=1e-2)
    train(cfg, out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported: int8 `tiny.tflite`/`tiny.json` and the float32 variant."""
    from tunegen.export.export import export_run

    out = tmp_path_factory.mktemp("models") / "tiny"
    export_run(tiny_run, out)
    return out.with_suffix(".json")


@pytest.fixture(scope="session")
def shipped_folk() -> Path:
    from tunegen.runtime.model import shipped_models

    models = shipped_models()
    if "folk" not in models:
        pytest.fail("the shipped folk model is missing from models/")
    return models["folk"]


@pytest.fixture
def alsa_file_home(tmp_path) -> tuple[dict, Path]:
    """An environment whose ALSA default device writes the played PCM to a file (no sound card
    needed): PortAudio plays through it for real."""
    played = tmp_path / "played.raw"
    (tmp_path / ".asoundrc").write_text(ALSA_FILE_DEVICE.format(path=played))
    env = dict(os.environ, HOME=str(tmp_path))
    return env, played
