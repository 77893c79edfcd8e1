"""Training that scales, on this CPU: the corpus cache, tf.distribute strategies (mirrored on two
logical CPU devices, two worker processes on 127.0.0.1), mixed precision's fallback, the cuDNN
check, the JAX backend, and a full disk while checkpointing."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

TRAIN = """
import json, sys
from pathlib import Path
from tunegen.training.train import TrainConfig, train
cfg = TrainConfig(**json.loads(sys.argv[1]))
state = train(cfg, Path(sys.argv[2]))
print("RESULT", json.dumps(state.history))
"""


def tiny(corpus, **kw) -> dict:
    cfg = dict(corpus=str(corpus), embedding=8, units=24, layers=1, dropout=0.0, epochs=1, max_steps=6,
               batch_size=8, seq_len=32, lr=1e-2, seed=3)
    cfg.update(kw)
    return cfg


def run_train(cfg: dict, out: Path, env: dict | None = None, timeout: int = 300):
    res = subprocess.run([sys.executable, "-c", TRAIN, json.dumps(cfg), str(out)], capture_output=True,
                         text=True, timeout=timeout, env={**os.environ, "COLUMNS": "300", **(env or {})})
    history = None
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            history = json.loads(line[7:])
    return res, history


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_corpus_is_tokenized_once(small_corpus, monkeypatch, tmp_path):
    from tunegen.runtime.abc import split_header
    from tunegen.training import kinds
    from tunegen.training.cache import build_cache

    monkeypatch.setenv("TUNEGEN_CACHE", str(tmp_path))  # a cache of its own: the first build is real
    reports = []
    first = build_cache(str(small_corpus), "abc", report=reports.append)
    assert reports[-1].startswith("corpus cache built")
    # the cache holds the tunes the reader keeps, in the order of the files, each music once
    abc = kinds.get("abc")
    read = [t for f in abc.files(str(small_corpus)) for t, _ in abc.read_file(f) if t]
    firsts = {}
    for t in read:
        firsts.setdefault(split_header(t)[1], t)
    assert [first.piece(i) for i in range(len(first))] == list(firsts.values())

    def no_tokenizing(self, path):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(type(kinds.get("abc")), "read_file", no_tokenizing)
    second = build_cache(str(small_corpus), "abc", report=reports.append)
    assert reports[-1].startswith("corpus cache hit") and second.path == first.path


def test_a_cache_of_an_older_tokenizer_is_rebuilt_not_read(small_corpus, monkeypatch, tmp_path):
    from tunegen.training import kinds
    from tunegen.training.cache import build_cache

    monkeypatch.setenv("TUNEGEN_CACHE", str(tmp_path))
    reports = []
    built = build_cache(str(small_corpus), "abc", max_chars=2999, report=reports.append)
    meta = json.loads((built.path / "meta.json").read_text())
    meta["tokenizer"] = "abc-char-0"
    (built.path / "meta.json").write_text(json.dumps(meta))
    again = build_cache(str(small_corpus), "abc", max_chars=2999, report=reports.append)
    current = kinds.get("abc").tokenizer
    assert reports[-1].startswith("corpus cache built") and again.meta["tokenizer"] == current
    assert [again.piece(i) for i in range(len(again))] == [built.piece(i) for i in range(len(built))]


def test_mirrored_on_two_cpu_devices_matches_one_device(small_corpus, tmp_path):
    one, h1 = run_train(tiny(small_corpus, strategy="one", batch_size=16), tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    two, h2 = run_train(tiny(small_corpus, strategy="mirrored", batch_size=8), tmp_path / "two",
                        env={"TUNEGEN_CPU_DEVICES": "2"})
    assert two.returncode == 0, two.stderr[-2000:]
    assert "mirrored over 2 device(s)" in two.stdout and "global batch 16 (2 replica(s))" in two.stdout
    # same global batch, seed and data order: the same training, up to float summation order
    assert h1[-1]["train_loss"] == pytest.approx(h2[-1]["train_loss"], rel=0.02)
    assert h1[-1]["valid_bits"] == pytest.approx(h2[-1]["valid_bits"], rel=0.02)
    # and a mirrored run resumes
    more, h3 = run_train(tiny(small_corpus, strategy="mirrored", batch_size=8, epochs=2, max_steps=12),
                         tmp_path / "two", env={"TUNEGEN_CPU_DEVICES": "2"})
    assert more.returncode == 0 and "resuming" in more.stdout and [h["epoch"] for h in h3] == [1, 2]


def test_two_worker_processes_train_together(small_corpus, tmp_path):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        env = {**os.environ, "COLUMNS": "300",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, "-c", TRAIN, json.dumps(tiny(small_corpus, strategy="multiworker")),
                                       str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env))
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert "2 replicas in all" in out
    results = [json.loads(out.split("RESULT ")[1]) for out, _ in outs]
    assert results[0][-1]["valid_bits"] == pytest.approx(results[1][-1]["valid_bits"], rel=1e-5)
    assert (tmp_path / "run" / "model.keras").exists() and (tmp_path / "run" / "loss.png").exists()


@pytest.mark.parametrize("tf_config, message", [
    ("{not json", "TF_CONFIG is malformed"),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 5}}', "TF_CONFIG is malformed"),
])
def test_bad_tf_config_is_one_line(small_corpus, tmp_path, tf_config, message):
    cmd = [str(Path(sys.executable).parent / "tunegen"), "train", "abc", str(small_corpus), "--out",
           str(tmp_path / "r"), "--strategy", "multiworker", "--max-steps", "1"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "TF_CONFIG": tf_config})
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {message}")


def test_an_unreachable_worker_gives_up_after_a_bounded_wait(small_corpus, tmp_path):
    me, gone = free_port(), free_port()
    tf_config = json.dumps({"cluster": {"worker": [f"127.0.0.1:{me}", f"127.0.0.1:{gone}"]},
                            "task": {"type": "worker", "index": 0}})
    cmd = [str(Path(sys.executable).parent / "tunegen"), "train", "abc", str(small_corpus), "--out",
           str(tmp_path / "r"), "--strategy", "multiworker", "--max-steps", "1"]
    t = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TF_CONFIG": tf_config, "TUNEGEN_WORKER_WAIT": "3"})
    assert res.returncode != 0 and time.monotonic() - t < 90  # ended by the watchdog
    assert f"worker 127.0.0.1:{gone} named in TF_CONFIG did not answer within 3 s" in res.stderr


def test_unknown_strategy_and_precision(small_corpus, tmp_path):
    exe = str(Path(sys.executable).parent / "tunegen")
    for opt, message in (("--strategy=tpu", "unknown strategy 'tpu'"), ("--precision=bf8", "unknown precision 'bf8'")):
        res = subprocess.run([exe, "train", "abc", str(small_corpus), "--out", str(tmp_path / "r"), opt],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 1 and message in res.stderr


def test_mixed_precision_without_float16_warns_and_trains_in_float32(small_corpus, tmp_path):
    res, history = run_train(tiny(small_corpus, precision="mixed", max_steps=2), tmp_path / "m")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "warning: mixed precision needs float16 support" in res.stdout and "float32;" in res.stdout
    from tunegen.training.devices import precision_policy

    assert precision_policy("mixed", gpus=1) == ("mixed_float16", None)


def test_cudnn_eligibility_is_checked():
    import keras

    from tunegen.training.devices import cudnn_problems
    from tunegen.training.model import ModelConfig, build_model

    model = build_model(ModelConfig(40, 8, 16, 2, 0.1))
    assert all(cudnn_problems(layer) == [] for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    odd = keras.layers.LSTM(8, recurrent_dropout=0.2, activation="relu", unroll=True)
    assert cudnn_problems(odd) == ["activation is not tanh", "recurrent dropout", "unrolled"]


def test_jax_backend_trains_and_tensorflow_exports(small_corpus, tmp_path):
    pytest.importorskip("jax")
    res, history = run_train(tiny(small_corpus, strategy="one"), tmp_path / "jax", env={"KERAS_BACKEND": "jax"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert "(jax backend)" in res.stdout and history
    from tunegen.export.export import export_run
    from tunegen.runtime.manifest import Manifest

    export_run(tmp_path / "jax", tmp_path / "m", ("float32",))  # refuses a graph that misses parity
    m = Manifest.load(tmp_path / "m.json")
    assert m.provenance["valid_bits_per_char"] == pytest.approx(m.provenance["keras_valid_bits_per_char"], rel=1e-3)


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path):
    import errno

    from tunegen.training.model import ModelConfig, build_model
    from tunegen.training.run import CheckpointError, save_keras

    model = build_model(ModelConfig(20, 4, 8, 1, 0.0))
    path = tmp_path / "checkpoint.keras"
    save_keras(model, path)
    before = path.read_bytes()

    def no_space(self_path, *a, **k):
        Path(self_path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    model.save = no_space  # the disk fills up halfway through writing (no real full disk here)
    with pytest.raises(CheckpointError, match="No space left on device.*the previous one is intact"):
        save_keras(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.keras"]
