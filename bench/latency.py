"""Per-token latency and size of every quantization variant, for each shipped model's architecture
and for the seeds' 1024-unit one.

For each architecture (read from the shipped manifests: vocabulary, embedding, layers, units; plus
the seeds' Embedding 256 + LSTM 1024 over 83 symbols) a model with random weights is exported the
way `tunegen export` does it, as float32, float16, dynamic-int8 and int8 (calibrated on random
tokens), and one step (invoke + numpy sampling, batch 1, one thread) is timed: median of 5 runs.
Speed does not depend on the weights' values, only on their shapes and types.
Needs the train extra. Run: .venv/bin/python bench/latency.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

VARIANTS = ("float32", "float16", "dynamic-int8", "int8")


def architectures() -> dict[str, tuple[int, int, int, int]]:
    """name -> (vocabulary, embedding, layers, units)."""
    from tunegen.runtime.manifest import Manifest
    from tunegen.runtime.model import shipped_models

    archs = {}
    for name, path in shipped_models().items():
        m = Manifest.load(path)
        if "-" not in name:
            archs[name] = (len(m.vocabulary), m.embedding, len(m.layers), m.layers[0])
    archs["seeds' LSTM 1024"] = (83, 256, 1, 1024)
    return archs


def random_walk(step, vocab: int, layers: int, units: int, n: int = 100):
    """A representative dataset for int8 calibration: states met while the float step model reads
    random tokens (the weights are random too, so real text would mean no more)."""
    from tunegen.export.step import state_names

    def dataset():
        rng = np.random.default_rng(0)
        state = {k: np.zeros((1, units), np.float32) for pair in state_names(layers) for k in pair}
        for _ in range(n):
            feed = {"token": rng.integers(3, vocab, (1,)).astype(np.int32), **state}
            yield feed
            out = step(feed)
            state = {k: np.asarray(out[f"{k}_out"]) for pair in state_names(layers) for k in pair}

    return dataset


def step_ms(model, n: int = 400) -> float:
    from tunegen.runtime.sampler import pick

    rng = np.random.default_rng(0)
    state = model.zero_state()
    token = np.array([3])
    model.step(token, state)
    t = time.perf_counter()
    for _ in range(n):
        logits, state = model.step(token, state)
        token[0] = pick(logits[0], 1.0, 0, 0.95, rng, lambda i: True)[0]
    return (time.perf_counter() - t) / n * 1e3


def random_step_models(folder: Path, vocab: int, emb: int, layers: int, units: int,
                       variants=VARIANTS, tag: str = "model"):
    """Yield (variant, StepModel, bytes) for a random-weight model of this shape, exported the way
    `tunegen export` does it (int8 calibrated on `random_walk`), each with its manifest."""
    import keras

    from tunegen.export.convert import convert
    from tunegen.export.step import build_step_model, state_names
    from tunegen.runtime.manifest import Manifest, sha256_file
    from tunegen.runtime.model import StepModel
    from tunegen.training.model import ModelConfig, build_model

    keras.utils.set_random_seed(0)
    step = build_step_model(build_model(ModelConfig(vocab, emb, units, layers, 0.0)), layers, units)
    representative = random_walk(step, vocab, layers, units)
    inputs, outputs = {"token": "token"}, {"logits": "logits"}
    for h, c in state_names(layers):
        inputs[h], inputs[c] = h, c
        outputs[h], outputs[c] = f"{h}_out", f"{c}_out"
    for variant in variants:
        data = convert(step, variant, representative)
        path = folder / f"{tag}-{variant}.tflite"
        path.write_bytes(data)
        manifest = Manifest(kind="abc-char", tflite=path.name, sha256=sha256_file(path),
                            vocabulary=["<pad>", "<start>", "<end>"] + [f"t{i}" for i in range(vocab - 3)],
                            embedding=emb, layers=[units] * layers, quantization=variant,
                            inputs=inputs, outputs=outputs, state=[])
        yield variant, StepModel(manifest, path, num_threads=1), len(data)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, (vocab, emb, layers, units) in architectures().items():
            times = {}
            for variant, model, size in random_step_models(Path(d), vocab, emb, layers, units, tag=str(len(rows))):
                times[variant] = (statistics.median(step_ms(model) for _ in range(5)), size)
            rows.append((name, f"{layers} x LSTM {units}, vocab {vocab}", times))
    print(f"{'model':18s} {'shape':26s}" + "".join(f"{v:>22s}" for v in VARIANTS))
    for name, shape, times in rows:
        print(f"{name:18s} {shape:26s}" + "".join(
            f"{times[v][0]:10.3f} ms {times[v][1] / 1e6:6.2f} MB" for v in VARIANTS))
    big = rows[-1][2]
    print(f"seeds' 1024 model: int8 / float32 latency = {big['int8'][0] / big['float32'][0]:.3f}, "
          f"dynamic-int8 / float32 = {big['dynamic-int8'][0] / big['float32'][0]:.3f}")
    print(f"int8_vs_float32_1024: {big['int8'][0] / big['float32'][0]:.3f}")


if __name__ == "__main__":
    main()
