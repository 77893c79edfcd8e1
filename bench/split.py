"""How far `--candidates 8` could go on two cores: a model of the split built from measured parts.

Measured here, warm, for the folk model: the step's cost at every batch size from 1 to 10, the
Python a row costs per token (a whole one-row draw less its steps), and the number of steps each of
the eight rows of seeds 1..N takes. From those, a part of a split costs the sum over its steps of
step(rows still going) + python × (rows still going), and the split waits for its slowest part.
Printed for the split `generate` makes (one batch of four per core), an ideal one where a part that
finished takes over half of the other's rows at no cost, rows fed one by one into batches of two
or three, and the first again with the Python of a row in a batch cut by a quarter and by a third
(what a guide and draw compiled to tables might give), each as the median over seeds of the
modelled `--candidates 8` time against one row of the seed's mean length. A model, not a timing:
`bench/floor.py` times the real thing.

Run: .venv/bin/python bench/split.py [--seeds 40]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

import tunegen
from tunegen.runtime import sampling
from tunegen.runtime.model import load_model


def step_costs(name: str, most: int = 10) -> list[float]:
    """Seconds a step takes at batch 1..most (index 0 unused), the state handed back and forth."""
    model, costs = load_model(name), [0.0]
    for batch in range(1, most + 1):
        state, tokens = model.zero_state(batch), np.ones(batch, np.int32)
        model.step(tokens, state)
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(200):
                _, state = model.step(tokens, state)
            runs.append((time.perf_counter() - t) / 200)
        costs.append(statistics.median(runs))
    return costs


def rows_and_python(name: str, seeds: int) -> tuple[dict[int, list[int]], float]:
    """Each seed's eight rows' step counts, and the Python a one-row draw spends per step."""
    m = tunegen.load(name)
    m.generate(seed=0)
    model, steps, spent = m.step, [0], [0.0]
    real_step = model.step

    def counted(tokens, state):
        t = time.perf_counter()
        out = real_step(tokens, state)
        spent[0] += time.perf_counter() - t
        steps[0] += 1
        return out

    lengths: dict[int, list[int]] = {}
    model.step = counted
    try:
        python = []
        for s in range(1, seeds + 1):
            opts = m.options(seed=s, candidates=8)
            make_guide = functools.partial(m.kind.prepare(model, opts, m.bpm).guide, 0)
            rows = []
            for k in range(8):  # one row at a time: each row's own steps, and a draw's own Python
                steps[0], spent[0] = 0, 0.0
                t = time.perf_counter()
                sampling._part(opts, make_guide, model, [[s, 0, 0, k]])
                python.append((time.perf_counter() - t - spent[0]) / steps[0])
                rows.append(steps[0])
            lengths[s] = rows
    finally:
        model.step = real_step
    return lengths, statistics.median(python)


def part(rows: list[int], cost: list[float], python: float) -> float:
    """A batch of `rows` (their step counts) stepped until the last ends."""
    total, going = 0.0, sorted(rows)
    for s in range(max(rows, default=0)):
        n = sum(1 for r in going if r > s)
        total += cost[n] + python * n
    return total


def handed_over(rows: list[int], cost: list[float], python: float) -> float:
    """Two parts of four; when one is done it takes over half of the other's rows, at no cost."""
    left, clock = [list(rows[:4]), list(rows[4:])], [0.0, 0.0]
    while left[0] or left[1]:
        i = 0 if left[0] and (clock[0] <= clock[1] or not left[1]) else 1
        n = len(left[i])
        clock[i] += cost[n] + python * n
        left[i] = [r - 1 for r in left[i] if r > 1]
        other = left[1 - i]
        if not left[i] and len(other) >= 2:
            clock[i] = max(clock)
            other.sort()
            half = len(other) // 2
            left[i], left[1 - i] = other[-half:], other[:-half]
    return max(clock)


def fed(rows: list[int], cost: list[float], python: float, width: int) -> float:
    """Rows taken one by one from a queue into batches of `width`, one batch per core."""
    queue, batches, clock = list(rows), [[], []], [0.0, 0.0]
    for b in batches:
        while len(b) < width and queue:
            b.append(queue.pop(0))
    while batches[0] or batches[1]:
        i = 0 if batches[0] and (clock[0] <= clock[1] or not batches[1]) else 1
        n = len(batches[i])
        clock[i] += cost[n] + python * n
        batches[i] = [r - 1 for r in batches[i] if r > 1]
        while len(batches[i]) < width and queue:
            batches[i].append(queue.pop(0))
    return max(clock)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    args = ap.parse_args()
    from serve import cpu  # bench/, beside this script

    print(f"cpu: {cpu()}")
    cost = step_costs("folk")
    print("step by batch size: " + "  ".join(f"{n}: {c * 1e6:.0f} µs" for n, c in enumerate(cost) if n))
    lengths, python = rows_and_python("folk", args.seeds)
    print(f"python a row and step (one-row draws): {python * 1e6:.1f} µs; rows' steps "
          f"{min(min(r) for r in lengths.values())}-{max(max(r) for r in lengths.values())}")

    def ratio(split, batch_python: float) -> float:
        return statistics.median(split(rows, batch_python) / ((cost[1] + python) * statistics.mean(rows))
                                 for rows in lengths.values())

    def static(rows, p):
        return max(part(rows[:4], cost, p), part(rows[4:], cost, p))

    print("modelled --candidates 8 / one draw (median of seeds):")
    print(f"  two batches of four (as generate splits):  {ratio(static, python):.2f}")
    print(f"  a finished part takes half the other's:     {ratio(lambda r, p: handed_over(r, cost, p), python):.2f}")
    for width in (3, 2):
        print(f"  rows fed one by one, batches of {width}:         {ratio(lambda r, p, w=width: fed(r, cost, p, w), python):.2f}")
    for cut in (0.25, 1 / 3):
        print(f"  four a batch, a batch row's python -{cut:.0%}:     {ratio(static, python * (1 - cut)):.2f}")


if __name__ == "__main__":
    main()
