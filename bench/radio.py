"""Radio over many pieces through a file-backed ALSA device (real PortAudio output, no sound card):
the memory of the radio process as pieces go by, and the silences in what was played.

Runs `tunegen radio --max-pieces N --pause P` with HOME pointing at an ALSA config whose default
device writes the PCM to a file, samples the process's RSS every 0.2 s, then scans the PCM for
silent stretches. The device is not paced in real time, so this measures what radio writes, not
the speed of the speakers. Run: .venv/bin/python bench/radio.py [--pieces 200] [--pause 1.0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ALSA = """pcm.!default {{
  type plug
  slave.pcm "tofile"
}}
pcm.tofile {{
  type file
  slave.pcm "null"
  file "{path}"
  format "raw"
}}
"""
RATE = 44100


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def silences(pcm: np.ndarray, threshold: int = 24, shortest: float = 0.1) -> list[float]:
    """Lengths in seconds of every silent stretch (all channels at or below `threshold`) that lasts
    at least `shortest` (shorter ones are waveforms crossing zero)."""
    quiet = np.abs(pcm).max(axis=1) <= threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    gaps = [(b - a) / RATE for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return [g for g in gaps if g >= shortest]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=200)
    ap.add_argument("--pause", type=float, default=1.0)
    ap.add_argument("--model", action="append")
    args = ap.parse_args()
    exe = Path(sys.executable).parent / "tunegen"
    with tempfile.TemporaryDirectory() as home:
        played = Path(home) / "played.raw"
        (Path(home) / ".asoundrc").write_text(ALSA.format(path=played))
        cmd = [str(exe), "radio", "--max-pieces", str(args.pieces), "--pause", str(args.pause), "--seed", "1"]
        for m in args.model or ["folk", "piano"]:
            cmd += ["--model", m]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env={"HOME": home, "PATH": "/usr/bin:/bin"}, stderr=subprocess.PIPE,
                                text=True)
        samples: list[tuple[int, float]] = []  # (pieces reported so far, RSS)
        lines = 0
        frames: list[int] = []  # each piece's length as radio queued it
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stderr, selectors.EVENT_READ)
        while proc.poll() is None:
            for _ in sel.select(timeout=0.2):
                line = proc.stderr.readline()
                if line[:1].isdigit() and "frames)" in line:
                    lines += 1
                    frames.append(int(line.rsplit("(", 1)[1].split()[0]))
            try:
                rss = rss_mb(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            if rss:
                samples.append((lines, rss))
        rest = proc.stderr.read()
        proc.wait()
        wall = time.perf_counter() - t
        if proc.returncode:
            sys.exit(f"radio failed: {rest.strip().splitlines()[-1:]}")
        pcm = np.frombuffer(played.read_bytes(), "<i2").reshape(-1, 2)
    gaps = silences(pcm)
    # the silence around each boundary between pieces (the pause, plus any quiet edge of the pieces)
    pause = int(args.pause * RATE)
    quiet = np.abs(pcm).max(axis=1) <= 24
    between, at = [], 0
    for n in frames[:-1]:
        at += n
        lo, hi = at, at + pause
        while lo > 0 and quiet[lo - 1]:
            lo -= 1
        while hi < len(quiet) and quiet[hi]:
            hi += 1
        between.append((hi - lo) / RATE)
        at += pause
    early = [r for n, r in samples if 10 <= n <= 30]
    late = [r for n, r in samples if n >= len(frames) - 20]
    growth = float(np.median(late) - np.median(early)) if early and late else float("nan")
    longest = max(between, default=0.0)
    print(f"radio, {args.pieces} pieces of {', '.join(args.model or ['folk', 'piano'])}, pause {args.pause} s: "
          f"{len(pcm) / RATE / 60:.0f} min of audio written in {wall:.0f} s")
    print(f"RSS: median {np.median(early):.0f} MB over pieces 10-30, {np.median(late):.0f} MB over the last 20; "
          f"growth {growth:+.1f} MB (target <= 10 MB); peak {max(r for _, r in samples):.0f} MB")
    print(f"gaps between pieces: {len(between)}, {min(between, default=0):.2f}-{longest:.2f} s; the longest is "
          f"{longest - args.pause:+.2f} s beyond the pause (target <= 0.5 s)")
    print(f"silences of 0.1 s or more anywhere (rests inside pieces too): {len(gaps)}, "
          f"longest {max(gaps, default=0):.2f} s")
    print(f"rss_growth_mb: {growth:.1f}")
    print(f"longest_gap_beyond_pause: {longest - args.pause:.2f}")


if __name__ == "__main__":
    main()
