"""Batched stepping: tokens per second of a model's step graph at batch 1, 4, 8, 16.

Stepping B sequences at once reads the weights once for all B, which pays off when a batch-1 step
waits on memory. Per batch it prints the invoke time, tokens/s through `StepModel.step` (invoke plus
feeding tokens and state in and out), their ratio to batch 1, and the multiply-adds per second of
the graph's matrices: if that rate stays flat as the batch grows, the step is bound by arithmetic,
not by reading weights, and batching only shares the per-step overhead. Random tokens, one thread,
medians of 5 runs.

With --reference it does the same for a 2 x LSTM 1024 float32 graph with random weights (55 MB,
more than this machine's caches), whose batch-1 step streams its weights from memory (needs the
train extra). The last line is `batch8_speedup:` for --model.
Run: .venv/bin/python bench/batch.py [--model folk] [--reference]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tunegen.runtime.model import StepModel, load_model

BATCHES = (1, 4, 8, 16)


def macs_per_token(model: StepModel) -> int:
    """Multiply-adds of one step for one sequence: every layer's gates, then the output layer."""
    total, width = 0, model.manifest.embedding
    for units in model.manifest.layers:
        total += 4 * units * (width + units)
        width = units
    return total + width * len(model.manifest.vocabulary)


def tokens_per_second(model: StepModel, batch: int, steps: int) -> float:
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, len(model.manifest.vocabulary), (steps, batch))
    state = model.zero_state(batch)
    model.step(tokens[0], state)
    t = time.perf_counter()
    for row in tokens:
        _, state = model.step(row, state)
    return steps * batch / (time.perf_counter() - t)


def invoke_seconds(model: StepModel, batch: int, steps: int) -> float:
    model.step(np.full(batch, 3), model.zero_state(batch))
    t = time.perf_counter()
    for _ in range(steps):
        model.interpreter.invoke()
    return (time.perf_counter() - t) / steps


def report(name: str, model: StepModel, steps: int) -> float:
    """Print the table for one model; returns tokens/s at batch 8 over batch 1."""
    rates = {b: statistics.median(tokens_per_second(model, b, steps) for _ in range(5)) for b in BATCHES}
    invokes = {b: statistics.median(invoke_seconds(model, b, steps) for _ in range(5)) for b in BATCHES}
    macs = macs_per_token(model)
    size = model.path.stat().st_size / 1e6
    print(f"model {name}: {model.manifest.quantization}, {len(model.manifest.layers)} x LSTM "
          f"{model.manifest.layers[0]}, {size:.1f} MB, {macs / 1e6:.2f} M multiply-adds per token")
    print(f"{'batch':>5s} {'invoke µs':>10s} {'tokens/s':>10s} {'x batch 1':>10s} {'GMAC/s':>8s}")
    for b in BATCHES:
        print(f"{b:5d} {invokes[b] * 1e6:10.1f} {rates[b]:10.0f} {rates[b] / rates[1]:10.2f} "
              f"{b * macs / invokes[b] / 1e9:8.1f}")
    return rates[8] / rates[1]


def reference_model(folder: Path) -> StepModel:
    """A float32 2 x LSTM 1024 step graph with random weights, exported as `tunegen export` does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from latency import random_step_models  # bench/, beside this script

    [(_, model, _)] = random_step_models(folder, 83, 256, 2, 1024, variants=("float32",), tag="reference")
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="folk")
    ap.add_argument("--reference", action="store_true",
                    help="also measure a 55 MB float32 graph whose batch-1 step is memory-bound")
    args = ap.parse_args()
    if args.reference:
        with tempfile.TemporaryDirectory() as d:
            report("reference (random weights)", reference_model(Path(d)), steps=100)
        print()
    speedup = report(args.model, load_model(args.model, num_threads=1), steps=400)
    print(f"batch8_speedup: {speedup:.2f}")


if __name__ == "__main__":
    main()
