"""Generation speed: the seeds' loops against tunegen's runtime, on the seeds' architecture.

Seeds 000/004 build Embedding(83, 256) -> LSTM(1024, stateful) -> Dense(83) with batch size 1 and
generate by calling the Keras model once per character, then drawing with tf.random.categorical
(also built with the shipped folk model's architecture, against which whole tunes of the shipped model
are timed: the end-to-end line).
Seeds 001/002 call `model.predict` on the whole window of the last 100 tokens for every new token
(a stateless model of the same size here, argmax as they do).
tunegen steps a dynamic-int8 single-step TFLite graph of the same architecture and samples with
numpy (temperature, top-p), and writes whole tunes with it through the API, the form guide checking
every character (the end-to-end line). Weights are random: speed does not depend on them. Also measured: the
cold start and peak memory of `tunegen generate --out x.wav` with the shipped default model.

Needs the train extra (TensorFlow). Prints figures side by side; the last two lines are the speedups,
end to end and of the step with its sampling.
Run: .venv/bin/python bench/speed.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

VOCAB, EMBED, UNITS = 83, 256, 1024


def seed_model(vocab: int = VOCAB, embed: int = EMBED, layers: tuple[int, ...] = (UNITS,)):
    """The seeds' stateful model (batch 1, called per character); by default their architecture."""
    import keras

    keras.utils.set_random_seed(0)
    tokens = keras.Input(batch_shape=(1, None), dtype="int32")
    x = keras.layers.Embedding(vocab, embed, name="embedding")(tokens)
    for i, units in enumerate(layers):
        x = keras.layers.LSTM(units, return_sequences=True, stateful=True, name=f"lstm{i}",
                              recurrent_initializer="glorot_uniform")(x)
    return keras.Model(tokens, keras.layers.Dense(vocab, name="logits")(x))


def seed_loop_ms(model, n: int) -> float:
    """ms per character of the seeds' generation loop (stateful model called per character)."""
    import tensorflow as tf

    input_eval = tf.expand_dims([5], 0)
    t = time.perf_counter()
    for _ in range(n):
        predictions = tf.squeeze(model(input_eval), 0)
        predicted_id = tf.random.categorical(predictions, num_samples=1)[-1, 0].numpy()
        input_eval = tf.expand_dims([predicted_id], 0)
    return (time.perf_counter() - t) / n * 1e3


def window_model():
    import keras

    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(100,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, EMBED)(tokens)
    x = keras.layers.LSTM(UNITS)(x)
    return keras.Model(tokens, keras.layers.Dense(VOCAB)(x))


def window_loop_ms(model, n: int) -> float:
    """ms per token of seeds 001/002: predict over the last 100 tokens, take the argmax, slide."""
    window = list(np.random.default_rng(0).integers(3, VOCAB, 100))
    t = time.perf_counter()
    for _ in range(n):
        pred = model.predict(np.array([window[-100:]], np.int32), verbose=0)
        window.append(int(np.argmax(pred[0])))
    return (time.perf_counter() - t) / n * 1e3


def runtime_model(model, d: Path):
    """The seeds' model exported the way tunegen exports: a dynamic-int8 step graph + manifest."""
    from tunegen.export.convert import convert
    from tunegen.export.step import build_step_model
    from tunegen.runtime.manifest import Manifest, sha256_file
    from tunegen.runtime.model import StepModel

    data = convert(build_step_model(model, 1, UNITS), "dynamic-int8")
    path = d / "seed1024.tflite"
    path.write_bytes(data)
    # the folk model's characters and a few more, so the tunes it writes go through the real guide
    folk = Manifest.load(Path(__file__).resolve().parents[1] / "models" / "folk.json").vocabulary
    extra = [c for c in map(chr, range(33, 127)) if c not in folk]
    vocab = folk + extra[:VOCAB - len(folk)]
    manifest = Manifest(kind="abc-char", tflite=path.name, sha256=sha256_file(path), vocabulary=vocab,
                        embedding=EMBED, layers=[UNITS], quantization="dynamic-int8",
                        inputs={"token": "token", "h0": "h0", "c0": "c0"},
                        outputs={"logits": "logits", "h0": "h0_out", "c0": "c0_out"},
                        state=[{"name": n, "shape": [1, UNITS], "dtype": "float32"} for n in ("h0", "c0")])
    return StepModel(manifest, path), len(data)


def runtime_loop_ms(step, n: int) -> float:
    """ms per character of tunegen's loop: one step-graph invoke plus numpy sampling."""
    from tunegen.runtime.sampler import pick

    rng = np.random.default_rng(0)
    state = step.zero_state()
    token = np.array([5])
    t = time.perf_counter()
    for _ in range(n):
        logits, state = step.step(token, state)
        token[0] = pick(logits[0], 0.8, 0, 0.95, rng, lambda i: True)[0]
    return (time.perf_counter() - t) / n * 1e3


def end_to_end_ms(step, seeds: int = 5) -> float:
    """ms per character of a whole tune as tunegen writes it: the step graph, sampling and the form
    guide, through the API (`Model.stream`: one draw, every character of it checked as it is made)."""
    from tunegen.runtime.api import Model

    model = Model(step)
    per = []
    for seed in range(seeds):
        t = time.perf_counter()
        n = sum(1 for _ in model.stream(seed=seed, max_length=400))
        per.append((time.perf_counter() - t) / max(n, 1) * 1e3)
    return statistics.median(per)


def shipped_ms(seeds: int = 10) -> tuple[str, float, float]:
    """The shipped folk model's architecture, ms per character of the seeds' stateful loop on it,
    and of whole tunes from the shipped folk model through `generate` (guide and validation
    included)."""
    import tunegen

    folk = tunegen.load("folk")
    m = folk.manifest
    shape = f"{m.embedding} + LSTM {' x '.join(map(str, m.layers))}, vocabulary {len(m.vocabulary)}"
    keras_model = seed_model(len(m.vocabulary), m.embedding, tuple(m.layers))
    keras_model(np.array([[5]], np.int32))
    seed = statistics.median(seed_loop_ms(keras_model, 60) for _ in range(3))
    folk.generate(seed=0)
    per = []
    for s in range(1, seeds + 1):
        t = time.perf_counter()
        piece = folk.generate(seed=s)
        per.append((time.perf_counter() - t) / len(piece.tokens) * 1e3)
    return shape, seed, statistics.median(per)


def cold_generate(runs: int = 3) -> tuple[float, float]:
    """Median wall seconds and peak RSS (MB) of `tunegen generate --out x.wav` from a cold process."""
    exe = Path(sys.executable).parent / "tunegen"
    walls, rss = [], []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(1, runs + 1):
            out = subprocess.run(["/usr/bin/time", "-f", "%e %M", str(exe), "generate", "--seed", str(seed),
                                  "--out", f"{d}/x{seed}.wav"], capture_output=True, text=True, check=True)
            wall, kb = out.stderr.strip().splitlines()[-1].split()
            walls.append(float(wall))
            rss.append(int(kb) / 1024)
    return statistics.median(walls), statistics.median(rss)


def main() -> None:
    model = seed_model()
    model(np.array([[5]], np.int32))
    seed_runs = [seed_loop_ms(model, 60) for _ in range(3)]
    with tempfile.TemporaryDirectory() as d:
        step, size = runtime_model(model, Path(d))
        runtime_loop_ms(step, 50)
        rt_runs = [runtime_loop_ms(step, 1000) for _ in range(5)]
        e2e_ms = end_to_end_ms(step)
    seed_ms, loop_ms = statistics.median(seed_runs), statistics.median(rt_runs)
    rt_ms = e2e_ms  # the step with sampling alone is `loop_ms`
    wmodel = window_model()
    window_loop_ms(wmodel, 3)
    window_ms = statistics.median(window_loop_ms(wmodel, 10) for _ in range(3))
    shape, shipped_seed_ms, shipped_ms_ = shipped_ms()
    wall, rss = cold_generate()
    print(f"architecture: Embedding {EMBED} + LSTM {UNITS}, vocabulary {VOCAB}")
    print(f"{'loop':44s} {'ms/token':>9s} {'tokens/s':>9s}")
    print(f"{'seeds 001/002: predict over a 100-window':44s} {window_ms:9.3f} {1e3 / window_ms:9.0f}")
    print(f"{'seeds 000/004: stateful Keras model per char':44s} {seed_ms:9.3f} {1e3 / seed_ms:9.0f}")
    print(f"{'tunegen: int8 step graph + numpy sampling':44s} {loop_ms:9.3f} {1e3 / loop_ms:9.0f}")
    print(f"{'tunegen: the same, whole tunes (guide included)':44s} {rt_ms:9.3f} {1e3 / rt_ms:9.0f}"
          "   (random weights: the guide refuses most of what they propose)")
    print(f"the shipped folk model's architecture (Embedding {shape}):")
    print(f"{'seeds 000/004: stateful Keras model per char':44s} {shipped_seed_ms:9.3f} {1e3 / shipped_seed_ms:9.0f}")
    print(f"{'tunegen: the shipped model, whole tunes':44s} {shipped_ms_:9.3f} {1e3 / shipped_ms_:9.0f}"
          "   (generate: step, sampling, form guide, validation)")
    print(f"int8 step graph size: {size / 1e6:.2f} MB")
    print(f"cold 'tunegen generate --out x.wav' (shipped folk model, median of 3): {wall:.2f} s, "
          f"peak RSS {rss:.0f} MB (targets: <= 2 s, <= 200 MB)")
    print(f"tunegen vs the window-predict loop: {window_ms / loop_ms:.0f}x (target >= 500x); "
          f"vs the stateful loop: {seed_ms / loop_ms:.0f}x, whole tunes {seed_ms / rt_ms:.0f}x")
    print(f"speedup_end_to_end: {shipped_seed_ms / shipped_ms_:.1f}  (whole tunes of the shipped folk model against "
          f"the seeds' loop on its architecture; on the seeds' own architecture with random weights {seed_ms / rt_ms:.1f})")
    print(f"speedup_vs_seed_loop: {seed_ms / loop_ms:.1f}")


if __name__ == "__main__":
    main()
