"""Batched stepping: tokens per second of the shipped folk model's step graph at batch 1, 4, 8, 16.

A batch-1 LSTM step is memory-bound (every token reads all the weights); stepping B sequences at
once reads them once for all B. Invoke only, random tokens, one thread; medians of 5 runs.
Run: .venv/bin/python bench/batch.py [--model folk]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tunegen.runtime.model import load_model


def tokens_per_second(model, batch: int, steps: int = 400) -> float:
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, len(model.manifest.vocabulary), (steps, batch))
    state = model.zero_state(batch)
    model.step(tokens[0], state)
    t = time.perf_counter()
    for row in tokens:
        _, state = model.step(row, state)
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="folk")
    args = ap.parse_args()
    model = load_model(args.model, num_threads=1)
    rates = {b: statistics.median(tokens_per_second(model, b) for _ in range(5)) for b in (1, 4, 8, 16)}
    print(f"model {args.model}: {model.manifest.quantization}, {len(model.manifest.layers)} x LSTM "
          f"{model.manifest.layers[0]}")
    print(f"{'batch':>5s} {'tokens/s':>10s} {'x batch 1':>10s}")
    for b, r in rates.items():
        print(f"{b:5d} {r:10.0f} {r / rates[1]:10.2f}")
    print(f"batch8_speedup: {rates[8] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
