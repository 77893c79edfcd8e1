"""The runtime against its floor: for both shipped models, the bare step per token (invoke and
state), the whole `generate` per token, their ratio, and where the rest goes (guide, sampling,
validation, other), measured warm through the Python API in one run.

The bare step is timed just before each generate (a shared machine runs faster and slower for
seconds at a time, and a ratio of two figures taken apart would measure that): the ratio is the
median of the per-seed ratios.

Also `--candidates 8` against one draw, beside what a batch-8 step costs the model alone and
the least the ratio could be (`model alone`): the eight draws' own batch schedule stepped with
nothing between the steps (rows leave the batch as their draws end), over one draw's wall time.
The draws are split over the usable cores as `generate` splits them (`parts` of them, one batch
per core), and the model-alone floor is then that of the slowest part. `forking each`: the same
draws, interleaved with them, when every draw forks its copies rather than handing its parts to
the kept ones.

Run: .venv/bin/python bench/floor.py [--seeds 15]
Last line: `overhead_vs_step: <the larger of the two ratios>`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np

import tunegen
from tunegen.runtime import forked, sampling
from tunegen.runtime.sampling import draw

# where profiled time is counted: by the file a function lives in (first match wins)
PARTS = (("step", ("runtime/model.py", "interpreter.py", "_pywrap")),
         ("guide", ("runtime/abc.py", "runtime/form.py", "runtime/events.py", "fractions.py", "re.Pattern")),
         ("sampling", ("runtime/sampler.py", "runtime/sampling.py", "numpy")),
         ("validation", ("runtime/score.py", "music21", "runtime/kinds/")))


def bare_step(step, tokens: int = 200, runs: int = 3) -> float:
    """Median seconds per step of the graph alone, feeding back its likeliest token."""
    out = []
    for _ in range(runs):
        state, tok = step.zero_state(), np.array([1])
        t = time.perf_counter()
        for _ in range(tokens):
            logits, state = step.step(tok, state)
            tok = np.array([int(logits[0].argmax())])
        out.append((time.perf_counter() - t) / tokens)
    return statistics.median(out)


def schedule(step, lengths: list[int]) -> float:
    """Seconds to step the model alone through a batch whose rows leave as their draws end (row k
    after `lengths[k]` steps), feeding each row its likeliest token."""
    state = step.zero_state(len(lengths))
    tok = np.ones(len(lengths), np.int32)
    left = sorted(lengths, reverse=True)
    t = time.perf_counter()
    for n in range(left[0]):
        while left[-1] <= n:  # the shortest draws are done
            left.pop()
            state, tok = [s[:len(left)] for s in state], tok[:len(left)]
        logits, state = step.step(tok, state)
        tok = logits.argmax(axis=1).astype(np.int32)
    return time.perf_counter() - t


def _forking_draw(model, opts, make_guide, seed, candidates=1):
    """`sampling.draw` as it was before copies were kept: every split forks its own."""
    seeds = [seed] if candidates == 1 else [[*seed, k] for k in range(candidates)]
    return forked.split(seeds, lambda part: sampling._part(opts, make_guide, model, part))


def candidates(model, seeds: range = range(1, 6), rounds: int = 3) -> tuple[float, float, float, float, float]:
    """Median wall seconds (`rounds` of `seeds`) of one draw, of `--candidates 8` and of it forking
    at every draw (the three interleaved), a batch-8 step's time over a batch-1 step's, and the median over seeds of the
    model alone stepping the eight draws' batch (each row as many steps as its draw made; the
    slowest part where they are split over cores) over one draw's wall time: the least the ratio
    could be with no work at all between the steps."""
    def wall(**settings) -> float:
        t = time.perf_counter()
        model.generate(**settings)
        return time.perf_counter() - t

    kept = sampling.draw
    ones, eights, forks = [], [], []
    try:
        for s in [s for _ in range(rounds) for s in seeds]:
            ones.append(wall(seed=s))
            eights.append(wall(seed=s, candidates=8))
            sampling.draw = _forking_draw
            forks.append(wall(seed=s, candidates=8))
            sampling.draw = kept
    finally:
        sampling.draw = kept
    step = model.step
    floors = []
    for s, one in zip(seeds, ones, strict=False):  # the first round's
        opts = model.options(seed=s, candidates=8)
        plan = model.kind.prepare(step, opts, model.bpm)
        # the first attempt's draws, seeded as `samples` seeds them; a step for each token fed (a
        # back-off's discarded tokens not counted: a floor)
        lengths = [len(d.tokens) + 1 for d in draw(step, opts, plan.guide, [opts.seed, 0, 0], 8)]
        floors.append(max(schedule(step, part) for part in forked.split_up(lengths, forked.parts(8))) / one)
    batch = schedule(step, [200] * 8) / schedule(step, [200])  # also leaves the model at batch 1
    return statistics.median(ones), statistics.median(eights), statistics.median(forks), batch, statistics.median(floors)


def shares(model, seeds: range) -> dict[str, float]:
    """Share of a profiled generate's own time spent in each part."""
    prof = cProfile.Profile()
    prof.enable()
    for s in seeds:
        model.generate(seed=s)
    prof.disable()
    totals = dict.fromkeys([p for p, _ in PARTS] + ["other"], 0.0)
    for (file, _, func), (_, _, tottime, _, _) in pstats.Stats(prof).stats.items():
        where = f"{file}:{func}"  # built-ins have no file, only a name naming their module
        part = next((p for p, keys in PARTS if any(k in where for k in keys)), "other")
        totals[part] += tottime
    whole = sum(totals.values()) or 1.0
    return {p: t / whole for p, t in totals.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=15)
    args = ap.parse_args()
    from serve import cpu  # bench/, beside this script

    print(f"cpu: {cpu()}")
    ratios = {}
    print(f"{'model':<6} {'bare step':>10} {'generate/token':>15} {'ratio':>6}   where the rest goes (profiled)")
    for name in ("folk", "piano"):
        model = tunegen.load(name)
        model.generate(seed=0)
        bares, per, each = [], [], []
        for s in range(1, args.seeds + 1):
            bare = bare_step(model.step)
            t = time.perf_counter()
            piece = model.generate(seed=s)
            per.append((time.perf_counter() - t) / len(piece.tokens))
            bares.append(bare)
            each.append(per[-1] / bare)
        ratios[name] = statistics.median(each)
        split = ", ".join(f"{p} {v:.0%}" for p, v in shares(model, range(1, 6)).items())
        print(f"{name:<6} {statistics.median(bares) * 1e6:>8.0f} µs {statistics.median(per) * 1e6:>12.0f} µs "
              f"{ratios[name]:>6.2f}   {split}")
    print(f"{'model':<6} {'one draw':>9} {'--candidates 8':>15} {'ratio':>6} {'forking each':>13} {'model alone':>12}"
          f"   batch-8 step / batch-1 step   (candidates split over {forked.parts(8)} processes)")
    for name in ("folk", "piano"):
        one, eight, fork, batch, floor = candidates(tunegen.load(name))
        print(f"{name:<6} {one:>8.3f}s {eight:>14.3f}s {eight / one:>6.2f} {fork / one:>12.2f}x {floor:>12.2f}   {batch:.2f}")
    print(f"overhead_vs_step: {max(ratios.values()):.2f}")


if __name__ == "__main__":
    main()
