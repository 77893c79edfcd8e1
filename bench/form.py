"""Musical form and key of what the shipped models write, beside the music they learned from.

Folk (seeds 1-N, default 100, at default settings) and 200 training tunes: the share of tunes whose
final note is the key's tonic (mode-aware), whose every part ends on it, whose every repeat keeps
the meter (a part's closing bar and its pickup make one bar), whose every part is 8 bars (8 or 16),
with none of those flaws, with a tie between two different pitches, that music21 reads at the first
try, and with 4 or more consecutive bars found verbatim in a training tune.
Piano (seeds 1-M, default 50) and M Bach chorales: scale consistency (the share of notes in the
best-fitting major or minor scale), pitch-class entropy in bits, music21's key-analysis correlation,
the share ending on the tonic chord, with the tonic in the bass, and (generated) in the key asked for.
Run: .venv/bin/python bench/form.py [--folk 100] [--piano 50]   (needs the train extra for the corpora)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import cpu  # noqa: E402

from tunegen.runtime.abc import split_bars, split_header  # noqa: E402
from tunegen.runtime.api import load  # noqa: E402
from tunegen.runtime.form import parts_of  # noqa: E402

FOLK_CORPUS = "oneills1850,ryansMammoth,airdsAirs"
def bar_grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    """Every run of `n` consecutive bars, as written without spaces."""
    bars = ["".join(t.split()) for t, _ in split_bars(split_header(text)[1].replace("\n", " ")) if t.strip()]
    return {tuple(bars[i:i + n]) for i in range(len(bars) - n + 1)}


def folk_figures(tunes: list[str], training: set | None = None, parsed: list[bool] | None = None) -> dict:
    rows = []
    for text in tunes:
        try:
            parts, whole = parts_of(text)
        except Exception:  # a tune the reader cannot follow counts as flawed everywhere
            parts, whole = [], {"final": False, "odd_ties": 1}
        eight = bool(parts) and all(p["count"] == 8 for p in parts)
        rows.append({
            "final": whole["final"], "parts": bool(parts) and all(p["tonic"] for p in parts),
            "time": bool(parts) and all(p["in_time"] for p in parts), "eight": eight,
            "sixteen": bool(parts) and all(p["count"] in (8, 16) for p in parts), "ties": whole["odd_ties"] > 0,
            "copied": bool(training) and bool(bar_grams(text) & training),
        })
    n = len(rows)

    def share(key: str) -> str:
        return f"{100 * sum(r[key] for r in rows) / n:.0f}"

    out = {
        "final note on the tonic": share("final"), "every part ends on the tonic": share("parts"),
        "every repeat keeps the meter": share("time"),
        "every part is 8 bars (8 or 16)": f"{share('eight')} ({share('sixteen')})",
        "none of these three flaws": f"{100 * sum(r['final'] and r['parts'] and r['time'] for r in rows) / n:.0f}",
        "a tie joining two different pitches": share("ties"),
    }
    out["music21 reads it at the first try"] = f"{100 * sum(parsed) / n:.0f}" if parsed is not None else "-"
    out["4+ bars copied from a training tune"] = share("copied") if training is not None else "-"
    out.update(texture([_melody(t) for t in tunes]))
    grams = [bar_grams(t) for t in tunes]
    shared = sum(1 for i in range(n) for j in range(i + 1, n) if grams[i] & grams[j])
    out["pairs of tunes sharing 4 bars"] = f"{shared} of {n * (n - 1) // 2}"
    return out


def _melody(text: str) -> list[tuple[int, float]]:
    """(pitch, length in quarters) of a tune's notes as played, rests left out."""
    from tunegen.runtime.abcplay import abc_events

    events = abc_events(text)[0]
    starts = {}
    notes = []
    for t, on, p, _ in events:
        if on:
            starts[p] = t
        elif p in starts:
            notes.append((starts[p], p, t - starts.pop(p)))
    return [(p, length) for _, p, length in sorted(notes)]


def texture(pieces: list[list[tuple[int, float]]]) -> dict:
    """What already matched real music and must stay so: pitch range, steps between notes, lengths."""
    ranges = [max(p for p, _ in m) - min(p for p, _ in m) for m in pieces if m]
    steps = [abs(b[0] - a[0]) for m in pieces for a, b in zip(m, m[1:], strict=False)]
    lengths = Counter(round(length, 3) for m in pieces for _, length in m)
    total = sum(lengths.values()) or 1
    common = ", ".join(f"{k:g}: {100 * v / total:.0f}%" for k, v in lengths.most_common(3))
    return {"median pitch range, semitones": f"{statistics.median(ranges):.0f}",
            "mean step between notes, semitones": f"{statistics.mean(steps):.2f}",
            "steps of a 2nd or less": f"{100 * sum(x <= 2 for x in steps) / len(steps):.0f}%",
            "commonest note lengths (quarters)": common}


MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)


def piano_row(music, score, asked=None) -> dict:
    """Key figures of one piece (`events.Music` and its music21 score)."""
    pcs = [n.pitch % 12 for n in music.notes]
    consistency = max(sum(1 for q in pcs if (q - r) % 12 in scale) / len(pcs) for r in range(12) for scale in (MAJOR, MINOR))
    hist = np.bincount(pcs, minlength=12) / len(pcs)
    entropy = -sum(p * math.log2(p) for p in hist if p > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = score.analyze("key")
    last = max(n.start for n in music.notes)
    sounding = [n.pitch for n in music.notes if n.start <= last < n.end or n.start == last]
    tonic, third = key.tonic.pitchClass, 4 if key.mode == "major" else 3
    triad = {tonic, (tonic + third) % 12, (tonic + 7) % 12}
    return {"consistency": consistency, "entropy": entropy, "correlation": key.correlationCoefficient,
            "chord": {p % 12 for p in sounding} <= triad and min(sounding) % 12 == tonic,
            "bass": min(sounding) % 12 == tonic,
            "asked": asked is not None and key.tonic.pitchClass == asked.pc and key.mode == asked.mode,
            "notes": [(n.pitch, n.length / 12) for n in music.notes]}


def piano_figures(rows: list[dict], generated: bool) -> dict:
    n = len(rows)
    out = {
        "scale consistency": f"{statistics.mean(r['consistency'] for r in rows):.2f}",
        "pitch-class entropy, bits": f"{statistics.mean(r['entropy'] for r in rows):.2f}",
        "key-analysis correlation": f"{statistics.mean(r['correlation'] for r in rows):.2f}",
        "ends on the tonic chord": f"{100 * sum(r['chord'] for r in rows) / n:.0f}%",
        "final bass note on the tonic": f"{100 * sum(r['bass'] for r in rows) / n:.0f}%",
    }
    out["analysed key is the key asked for"] = f"{100 * sum(r['asked'] for r in rows) / n:.0f}%" if generated else "-"
    out.update(texture([r["notes"] for r in rows]))
    return out


def table(title: str, cols: tuple[str, str], left: dict, right: dict) -> None:
    width = max(len(k) for k in left) + 2
    print(f"\n{title:<{width}} {cols[0]:>26} {cols[1]:>26}")
    for k in left:
        print(f"{k:<{width}} {left[k]:>26} {right.get(k, '-'):>26}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folk", type=int, default=100)
    ap.add_argument("--piano", type=int, default=50)
    ap.add_argument("--piano-model", default="piano")
    args = ap.parse_args()
    print(f"cpu: {cpu()}")
    from tunegen.runtime.score import parse_abc
    from tunegen.training.cache import build_cache

    folk = load("folk")
    tunes, parsed = [], []
    for seed in range(1, args.folk + 1):
        piece = folk.generate(seed=seed)
        tunes.append(piece.abc)
        parsed.append(piece.resampled == 0 and parse_abc(piece.abc)[1] is None)
    cache = build_cache(FOLK_CORPUS, "abc")
    train_idx = cache.split()[0]
    training = [cache.piece(int(i)) for i in train_idx]
    grams = set().union(*(bar_grams(t) for t in training))
    picks = np.random.default_rng(0).choice(len(training), 200, replace=False)
    real = [training[i] for i in sorted(picks)]
    table("folk, % of tunes", ("tunegen", "200 training"), folk_figures(tunes, grams, parsed),
          folk_figures(real, None))

    import tempfile

    import music21

    from tunegen.runtime.keys import key_named
    from tunegen.runtime.score import score_music
    from tunegen.training.kinds.midi import midi_corpus_files

    piano = load(args.piano_model)
    gen = []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(1, args.piano + 1):
            piece = piano.generate(seed=seed)
            m = piece.music
            with warnings.catch_warnings():  # read back from its MIDI file, as any other program would
                warnings.simplefilter("ignore")
                score = music21.converter.parse(str(piece.save(Path(d) / f"{seed}.mid")))
            gen.append(piano_row(m, score, key_named(m.tonic, m.mode) if m.mode else None))
    chorales = []
    for path in midi_corpus_files("bach")[:args.piano]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = music21.converter.parse(str(path))
        chorales.append(piano_row(score_music(score), score))
    table(f"piano, {args.piano} pieces", ("tunegen", f"{args.piano} chorales"), piano_figures(gen, True),
          piano_figures(chorales, False))


if __name__ == "__main__":
    main()
