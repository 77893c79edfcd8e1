"""Primer scaling: what a primer adds to one warm `generate`, for ABC primers of 100, 400 and 1,600
bars and a MIDI primer of 5,000 notes (of which the opening bars are used), against the same
seed without a primer; medians of 3 runs, measured in one run.

Run: .venv/bin/python bench/primers.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import tunegen
from tunegen.runtime.events import Music, Note
from tunegen.runtime.render import events_midi, music_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import cpu  # noqa: E402


def timed(model, runs: int = 3, **settings) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        model.generate(seed=1, **settings)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def long_midi(path: Path, notes: int = 5000) -> Path:
    """A piece of `notes` notes in C major: a four-voice chord on every beat, I IV V I over and over."""
    chords = [(48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72)]
    music = Music([Note(12 * (n // 4), chords[(n // 4) % 4][n % 4], 12) for n in range(notes)],
                  [(0, "4/4")], list(range(0, 3 * notes, 48)), 0, "major")
    path.write_bytes(events_midi(music_events(music)[0], 100, meter="4/4"))
    return path


def main() -> None:
    print(f"cpu: {cpu()}")
    folk, piano = tunegen.load("folk"), tunegen.load("piano")
    folk.generate(seed=0)
    piano.generate(seed=0)
    plain = timed(folk)
    print(f"{'primer':<22} {'generate s':>10} {'added s':>8}")
    print(f"{'folk, none':<22} {plain:>10.3f} {0:>8.3f}")
    for bars in (100, 400, 1600):
        primer = "M:4/4\nL:1/8\nK:G\n" + "GABc dedB|" * bars
        t = timed(folk, primer=primer)
        print(f"{f'folk, {bars} bars':<22} {t:>10.3f} {t - plain:>8.3f}")
    plain = timed(piano)
    print(f"{'piano, none':<22} {plain:>10.3f} {0:>8.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = long_midi(Path(tmp) / "long.mid")
        t = timed(piano, primer=path)
        print(f"{'piano, 5,000 notes':<22} {t:>10.3f} {t - plain:>8.3f}   ({path.stat().st_size >> 10} KB of MIDI)")
    print(f"midi_primer_5000_added_s: {t - plain:.3f}")


if __name__ == "__main__":
    main()
