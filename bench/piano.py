"""What a MIDI event model plays, beside the music it learned from, at default settings.

For seeds 1-N (default 50) and for the first N pieces of a corpus (default: music21's Bach chorales,
read the way training reads them): how many pieces hold rests (moments where nothing sounds), chords
and three or more note lengths; rests and chord onsets per bar; bars and notes per piece; and how the
generated pieces ended (the model's end token, or the bar limit).
Run: .venv/bin/python bench/piano.py [--model piano] [--seeds 50] [--corpus bach]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from tunegen.runtime.api import load


def stats(music) -> dict:
    """Texture figures of one piece of `events.Music`."""
    notes = music.notes
    onsets = sorted({n.start for n in notes})
    size = Counter(n.start for n in notes)
    cover, rests = 0, 0
    for t in onsets:
        rests += bool(cover) and t > cover
        cover = max(cover, max(n.end for n in notes if n.start == t))
    bars = max(len(music.barlines), 1)
    return {"rests": rests, "chords": sum(size[t] >= 2 for t in onsets), "lengths": len({n.length for n in notes}),
            "bars": bars, "notes": len(notes)}


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    bars = sum(r["bars"] for r in rows)
    return {
        "pieces with a rest": f"{sum(r['rests'] > 0 for r in rows) / n:.0%}",
        "pieces with chords": f"{sum(r['chords'] > 0 for r in rows) / n:.0%}",
        "pieces with >= 3 note lengths": f"{sum(r['lengths'] >= 3 for r in rows) / n:.0%}",
        "rests per bar": f"{sum(r['rests'] for r in rows) / bars:.2f}",
        "chord onsets per bar": f"{sum(r['chords'] for r in rows) / bars:.2f}",
        "median bars": f"{statistics.median(r['bars'] for r in rows):.0f}",
        "median notes": f"{statistics.median(r['notes'] for r in rows):.0f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="piano")
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--corpus", default="bach")
    args = ap.parse_args()
    model = load(args.model)
    gen, endings, times = [], Counter(), []
    for seed in range(1, args.seeds + 1):
        t = time.perf_counter()
        piece = model.generate(seed=seed)
        times.append(time.perf_counter() - t)
        gen.append(stats(piece.music))
        endings[piece.ending] += 1
    from tunegen.runtime.score import NotMusic, read_music
    from tunegen.training.kinds.midi import midi_corpus_files

    real = []
    for path in midi_corpus_files(args.corpus)[:args.seeds]:
        try:
            real.append(stats(read_music(path)))
        except NotMusic:
            pass
    a, b = summary(gen), summary(real)
    print(f"model {args.model} at {model.manifest.sampling}; seeds 1-{args.seeds} vs {len(real)} pieces "
          f"of {args.corpus}")
    print(f"{'':32}{'generated':>12}{'corpus':>12}")
    for key in a:
        print(f"{key:32}{a[key]:>12}{b[key]:>12}")
    print(f"endings: {dict(endings)}; median generate time {statistics.median(times) * 1e3:.0f} ms")
    print(f"pieces_with_rests: {a['pieces with a rest']}")


if __name__ == "__main__":
    main()
