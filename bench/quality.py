"""Quality of a model's tunes at default settings, seeds 1-100 (or --seeds N).

For each tune: did its first draw parse in music21 with no guessed pitch (tunegen resamples the
ones that don't, so this is the rate before that safety net), and how many of its inner bars have
the full length their meter asks for (pickup and final bars excused; a bar split by a repeat sign
counts as one), measured on music21's measures, not on tunegen's own bar counting.
Run: .venv/bin/python bench/quality.py [--model folk] [--seeds 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import tunegen


def full_bars(score) -> tuple[int, int]:
    """(full, inner) bars of a parsed tune, judged on music21's measures."""
    part = score.parts[0] if score.parts else score
    ms = list(part.getElementsByClass("Measure"))
    d = [m.duration.quarterLength for m in ms]
    good = total = 0
    i = 1
    while i < len(d) - 1:
        ts = ms[i].getContextByClass("TimeSignature")
        if ts is None:
            break
        bar = ts.barDuration.quarterLength
        total += 1
        if abs(d[i] - bar) < 1e-6:
            good += 1
        elif i + 1 < len(d) - 1 and abs(d[i] + d[i + 1] - bar) < 1e-6:
            good += 1
            i += 1
        i += 1
    return good, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="folk")
    ap.add_argument("--seeds", type=int, default=100)
    args = ap.parse_args()
    model = tunegen.load(args.model)
    first_try = good = total = 0
    notes, seconds = [], []
    for seed in range(1, args.seeds + 1):
        t = time.perf_counter()
        tune = model.generate(seed=seed)
        seconds.append(time.perf_counter() - t)
        first_try += tune.resampled == 0
        g, n = full_bars(tune.score)
        good, total = good + g, total + n
        notes.append(len(tune.score.flatten().notes))
    n = args.seeds
    print(f"model {args.model}, default settings {model.manifest.sampling}, seeds 1-{n}")
    print(f"parsed at the first try:  {first_try}/{n} = {first_try / n:.0%}   (target >= 95%)")
    print(f"inner bars of full length: {good}/{total} = {good / max(total, 1):.0%}   (target >= 85%)")
    print(f"median notes per tune: {statistics.median(notes):.0f}; "
          f"median generate+check time: {statistics.median(seconds) * 1e3:.0f} ms")
    print(f"first_try_parse: {first_try / n:.3f}")
    print(f"full_bars: {good / max(total, 1):.3f}")


if __name__ == "__main__":
    main()
