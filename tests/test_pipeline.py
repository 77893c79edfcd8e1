"""Training and export on real data with real TensorFlow: a tiny model, a few steps."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def test_run_folder_holds_model_vocab_config_and_history(tiny_run):
    for name in ("model.keras", "checkpoint.keras", "config.json", "vocab.json", "state.json",
                 "corpus.json", "valid.json"):
        assert (tiny_run / name).exists(), name
    cfg = json.loads((tiny_run / "config.json").read_text())
    assert cfg["model"] == {"vocab_size": len(cfg["vocab"]), "embedding": 16, "units": 48, "layers": 2,
                            "dropout": 0.0}
    assert cfg["vocab"][:3] == ["<pad>", "<start>", "<end>"]
    state = json.loads((tiny_run / "state.json").read_text())
    assert state["finished"] and state["steps"] == 24
    bits = [h["valid_bits"] for h in state["history"]]
    assert len(bits) == state["epoch"] >= 1
    assert bits[-1] < np.log2(len(cfg["vocab"]))  # learned something beyond uniform guessing


def test_export_writes_parity_checked_int8_and_float_models(tiny_run, tiny_model):
    from tunegen.export.convert import check_builtin
    from tunegen.runtime.manifest import Manifest, sha256_file

    m = Manifest.load(tiny_model)
    f = Manifest.load(tiny_model.with_name("tiny-float32.json"))
    assert (m.quantization, f.quantization) == ("dynamic-int8", "float32")
    for man, path in ((m, tiny_model), (f, tiny_model.with_name("tiny-float32.json"))):
        tfl = path.parent / man.tflite
        assert man.sha256 == sha256_file(tfl)
        check_builtin(tfl.read_bytes())  # no WHILE, no Flex
        assert man.format_version == 1 and man.kind == "abc-char"
        assert man.special_tokens == {"pad": 0, "start": 1, "end": 2}
        assert man.layers == [48, 48]
        assert [s["name"] for s in man.state] == ["h0", "c0", "h1", "c1"]
        p = man.provenance
        assert p["valid_bits_per_char"] <= p["keras_valid_bits_per_char"] * 1.01
        assert p["corpus"] and p["config"]["units"] == 48 and p["created"]
    assert (tiny_model.parent / m.tflite).stat().st_size < (tiny_model.parent / f.tflite).stat().st_size


def test_step_graph_matches_keras_step_by_step(tiny_run, tiny_model):
    """The float graph fed one token at a time gives the logits of the Keras model run over the window."""
    import keras

    from tunegen.runtime.model import load_model

    model = keras.models.load_model(tiny_run / "model.keras")
    step = load_model(tiny_model.with_name("tiny-float32.json"))
    vocab = step.manifest.vocab
    ids = vocab.encode("M:6/8\nL:1/8\nK:D\nA|dAF DFA|", wrap=True)[:-1]
    want = np.asarray(model.predict_on_batch(np.array([ids], np.int32)))[0]
    state = step.zero_state()
    got = []
    for i in ids:
        logits, state = step.step(np.array([i]), state)
        got.append(logits[0])
    np.testing.assert_allclose(np.array(got), want, atol=1e-4)


def test_export_refuses_a_run_folder_without_a_model(tmp_path):
    from tunegen.export.export import export_run
    from tunegen.runtime.errors import ModelError

    with pytest.raises(ModelError, match="not a trained run folder"):
        export_run(tmp_path, tmp_path / "m")


def test_a_run_folder_of_the_old_layout_exports_evaluates_and_resumes(tiny_run, tmp_path, small_corpus):
    """A folder written before the format was recorded: no `format`, no `calibration.json`, and a
    config without the options added since (strategy, precision)."""
    import shutil

    from typer.testing import CliRunner

    from tunegen.export.export import export_run
    from tunegen.runtime.cli import main_app
    from tunegen.runtime.manifest import Manifest
    from tunegen.training.run import RunFolder
    from tunegen.training.train import TrainConfig, train

    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    cfg = json.loads((old / "config.json").read_text())
    assert cfg.pop("format") == 2
    for added in ("strategy", "precision"):
        del cfg["train"][added]
    (old / "config.json").write_text(json.dumps(cfg))
    (old / "calibration.json").unlink()
    run = RunFolder.load(old, trained=True)
    assert run.format == 1 and run.config.strategy == "auto" and run.kind.name == "abc-char"
    assert run.calibration() is None and run.state().steps == 24
    export_run(old, tmp_path / "m", ("int8",))  # calibrated on pieces drawn again from the cache
    assert Manifest.load(tmp_path / "m.json").provenance["config"]["units"] == 48
    r = CliRunner().invoke(main_app(), ["eval", str(old), str(small_corpus)])
    assert r.exit_code == 0 and "bits/char over" in r.stdout, r.output
    before = run.state()
    state = train(TrainConfig(**{**cfg["train"], "epochs": 3, "max_steps": 30}), old)
    assert state.steps == 30 and state.epoch == before.epoch + 1
    assert [h["epoch"] for h in state.history] == list(range(1, state.epoch + 1))
    assert json.loads((old / "config.json").read_text())["format"] == 2


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, small_corpus):
    """A killed process loses at most the current epoch: the rerun starts after the last checkpoint."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tunegen.runtime.cli", "train", "abc", str(small_corpus), "--out", str(out),
           "--units", "32", "--embedding", "8", "--layers", "1", "--batch-size", "8",
           "--seq-len", "32", "--patience", "50"]
    proc = subprocess.Popen(cmd + ["--epochs", "50"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, COLUMNS="300"))
    deadline = time.time() + 240
    state = out / "state.json"
    while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["epoch"] >= 1):
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from tunegen.training.run import RunFolder

    done = RunFolder.load(out).state().epoch  # the checkpoint's own: it may be ahead of state.json
    assert done >= 1
    res = subprocess.run(cmd + ["--epochs", str(done + 1)],
                         capture_output=True, text=True, timeout=300, env=dict(os.environ, COLUMNS="300"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"resuming {out} after epoch {done}" in res.stdout.replace("\n", " ")
    after = json.loads(state.read_text())
    assert after["epoch"] == done + 1 and after["finished"]
    assert [h["epoch"] for h in after["history"]] == list(range(1, done + 2))


def test_a_kill_between_checkpoint_and_state_resumes_with_the_checkpoints_steps(tmp_path, small_corpus):
    """Killed after checkpoint.keras was replaced but before state.json was: the rerun goes on from
    the checkpoint's epoch and steps, and the temporary files of the killed run are gone."""
    import io
    import shutil

    from rich.console import Console

    from tunegen.training.train import TrainConfig, train

    out = tmp_path / "run"
    cfg = dict(corpus=str(small_corpus), embedding=8, units=24, layers=1, dropout=0.0, batch_size=8,
               seq_len=32, lr=1e-2, patience=50)
    train(TrainConfig(**cfg, epochs=1, max_steps=3), out)
    shutil.copy(out / "state.json", tmp_path / "state-1.json")
    train(TrainConfig(**cfg, epochs=2, max_steps=6), out)
    shutil.copy(tmp_path / "state-1.json", out / "state.json")  # as if killed before writing it
    for stale in (".checkpoint.tmp.keras", ".state.json.x1y2.tmp"):
        (out / stale).write_bytes(b"half written")
    log = io.StringIO()
    state = train(TrainConfig(**cfg, epochs=3, max_steps=9), out, console=Console(file=log, width=300))
    assert f"resuming {out} after epoch 2 (6 steps)" in log.getvalue()
    assert state.steps == 9 and [h["epoch"] for h in state.history] == [1, 2, 3]
    assert json.loads((out / "state.json").read_text())["steps"] == 9
    assert not list(out.glob(".*.tmp*"))
