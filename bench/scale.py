"""Training at scale on this CPU: ingestion of a 100k-tune corpus, and distinct training tokens per
second against seed 001's data layout.

1. Makes a folder of N tunes (default 100,000) from music21's bundled ABC collections, repeated and
   transposed diatonically so no copy is a duplicate, 1,000 tunes per file.
2. Builds the token cache in a fresh process (parallel workers) and reports tunes/s and the peak RSS
   of the process and of its largest worker; then runs it again and times the cache hit.
3. Trains the same model (Embedding 64 + 2 x LSTM 256) for a few steps on (a) tunegen's batches —
   tune-aligned windows, every token a target once per epoch — and (b) seed 001's layout — windows
   of 100 tokens with stride 1, each predicting only the token after it, so every token is fed 100
   times per epoch. Both as distinct training tokens per second.
Needs the train extra. Run: .venv/bin/python bench/scale.py [--tunes 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

LETTERS = "CDEFGABcdefgab"
INGEST = """
import json, resource, sys, time
from tunegen.training.cache import build_cache
t = time.perf_counter()
reports = []
cache = build_cache(sys.argv[1], "abc", report=reports.append)
wall = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"wall": wall, "rss": own, "worker_rss": kids, "tunes": len(cache), "report": reports[-1]}))
"""


def transpose(tune: str, steps: int) -> str:
    """A tune moved `steps` scale degrees up (note letters only; key and accidentals kept)."""
    head, _, body = tune.partition("\nK:")
    key, _, music = body.partition("\n")

    def move(m: re.Match) -> str:
        i = LETTERS.index(m.group(1)) + steps
        octave = m.group(2)
        while i >= len(LETTERS):
            i -= 7
            octave += "'"
        return LETTERS[i] + octave

    return f"{head}\nK:{key}\n" + re.sub(r"(?<![A-Za-z!\"])([A-Ga-g])(['',]*)", move, music)


def make_corpus(folder: Path, n: int) -> int:
    import music21.corpus

    root = Path(music21.corpus.__file__).parent
    tunes = []
    for name in ("oneills1850", "ryansMammoth", "airdsAirs", "essenFolksong", "miscFolk"):
        for path in sorted((root / name).rglob("*.abc")):
            text = path.read_text(encoding="latin-1")
            tunes += ["X:" + t for t in re.split(r"(?m)^X:", text)[1:]]
    made, shift = 0, 0
    while made < n:
        batch = [transpose(t, shift) if shift else t for t in tunes[:n - made]]
        for i in range(0, len(batch), 1000):
            (folder / f"part-{shift:02d}-{i // 1000:04d}.abc").write_text("\n\n".join(batch[i:i + 1000]))
        made += len(batch)
        shift += 1
    return made


def ingest(folder: Path, cache: Path) -> dict:
    env = {**os.environ, "TUNEGEN_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", INGEST, str(folder)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def training_rates(folder: Path, cache_dir: Path, steps: int = 12) -> tuple[float, float]:
    import keras

    from tunegen.training.batches import WindowBatches, WindowIndex
    from tunegen.training.cache import build_cache
    from tunegen.training.model import ModelConfig, build_model

    os.environ["TUNEGEN_CACHE"] = str(cache_dir)
    cache = build_cache(str(folder), "abc")
    train, _ = cache.split()
    model = build_model(ModelConfig(len(cache.vocab), 64, 256, 2, 0.0))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = 64
    windows = WindowIndex(cache, train[:4000], 128)
    order = np.random.default_rng(0).permutation(len(windows))[:(steps + 2) * batch]
    ours = WindowBatches(windows, order, batch)
    model.train_on_batch(*ours[0])
    t = time.perf_counter()
    tokens = 0
    for i in range(1, steps + 1):
        x, y, w = ours[i]
        model.train_on_batch(x, y, sample_weight=w)
        tokens += int(w.sum())
    ours_rate = tokens / (time.perf_counter() - t)
    # seed 001: every window of 100 tokens (stride 1) predicts the one token after it
    seq = np.concatenate([cache.ids(int(i)) for i in train[:200]])
    starts = np.random.default_rng(1).permutation(len(seq) - 101)[:(steps + 1) * batch]
    x = np.stack([seq[s:s + 100] for s in starts])
    y = np.zeros_like(x)
    y[:, -1] = seq[starts + 100]
    w = np.zeros(x.shape, np.float32)
    w[:, -1] = 1.0
    model.train_on_batch(x[:batch], y[:batch], sample_weight=w[:batch])
    t = time.perf_counter()
    for i in range(1, steps + 1):
        sl = slice(i * batch, (i + 1) * batch)
        model.train_on_batch(x[sl], y[sl], sample_weight=w[sl])
    seed_rate = steps * batch / (time.perf_counter() - t)
    return ours_rate, seed_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tunes", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder, cache = Path(d) / "corpus", Path(d) / "cache"
        folder.mkdir()
        made = make_corpus(folder, args.tunes)
        first = ingest(folder, cache)
        second = ingest(folder, cache)
        ours, seed = training_rates(folder, cache)
    print(f"corpus: {made:,} tunes in {len(list(range(0, made, 1000))):,} files (bundled collections, "
          f"repeated and transposed)")
    print(f"{'ingestion':28s} {'wall s':>8s} {'tunes/s':>9s} {'peak RSS MB':>12s} {'worker RSS MB':>14s}")
    for name, r in (("first run (tokenize)", first), ("second run (cache)", second)):
        print(f"{name:28s} {r['wall']:8.1f} {r['tunes'] / r['wall']:9.0f} {r['rss']:12.0f} {r['worker_rss']:14.0f}")
    print(f"kept {first['tunes']:,} tunes; second run: {second['report']}")
    print(f"{'training (distinct tokens/s)':28s} {'tokens/s':>9s}")
    print(f"{'tunegen batches':28s} {ours:9.0f}")
    print(f"{'seed 001 layout (stride 1)':28s} {seed:9.0f}")
    print(f"ingest_peak_rss_mb: {max(first['rss'], first['worker_rss']):.0f}")
    print(f"cache_hit: {'hit' in second['report']}")
    print(f"distinct_token_speedup_vs_seed001: {ours / seed:.1f}")


if __name__ == "__main__":
    main()
