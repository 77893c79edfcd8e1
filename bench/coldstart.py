"""Cold start: what a user waits for after typing a command, measured on fresh processes.

`tunegen generate --seed S --out x.wav` (wall time and peak RSS, median of 5 runs, each a new
process), where its time goes (Python's own import timer and the step phases of one run), and
`first_audio_s`: from starting `tunegen play` to the first PCM frame it writes to the default
ALSA device (a file-backed one here, so no sound card is needed; median of 5).
Run: .venv/bin/python bench/coldstart.py [--model folk] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from radio import ALSA  # noqa: E402
from serve import cpu  # noqa: E402

EXE = Path(sys.executable).parent / "tunegen"


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command run as a new process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    return wall, usage.ru_maxrss / 1024


def first_audio(model: str, seed: int) -> float:
    """Seconds from starting `tunegen play` to the first PCM bytes on the ALSA device."""
    with tempfile.TemporaryDirectory() as home:
        played = Path(home) / "played.raw"
        (Path(home) / ".asoundrc").write_text(ALSA.format(path=played))
        env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        t = time.perf_counter()
        proc = subprocess.Popen([str(EXE), "play", "--model", model, "--seed", str(seed)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = None
        while proc.poll() is None or first is None:
            if played.exists() and played.stat().st_size > 0:
                first = time.perf_counter() - t
                break
            if proc.poll() is not None:
                raise SystemExit(f"tunegen play exited ({proc.returncode}) before any sound")
            time.sleep(0.002)
        proc.wait()
        return first


def phases(model: str) -> list[str]:
    """Where one cold generate to WAV spends its time, from inside a fresh process."""
    code = f"""
import time
t0 = time.perf_counter()
import tunegen
t1 = time.perf_counter()
m = tunegen.load({model!r})
t2 = time.perf_counter()
p = m.generate(seed=7)
t3 = time.perf_counter()
data = p.data(".wav")
t4 = time.perf_counter()
import sys
print(f"import {{t1 - t0:.3f}} load {{t2 - t1:.3f}} generate {{t3 - t2:.3f}} render {{t4 - t3:.3f}} "
      f"music21 imported: {{'music21' in sys.modules}}")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="folk")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"cpu: {cpu()}")
    with tempfile.TemporaryDirectory() as d:
        runs = [timed([str(EXE), "generate", "--model", args.model, "--seed", "7", "--out", f"{d}/x{i}.wav"])
                for i in range(args.runs)]
    walls, peaks = [w for w, _ in runs], [r for _, r in runs]
    print(f"cold generate --out x.wav ({args.model}): median {statistics.median(walls):.2f} s "
          f"(runs {' '.join(f'{w:.2f}' for w in walls)}), peak RSS {max(peaks):.0f} MB")
    print("one cold run, inside: " + " ".join(phases(args.model)))
    audio = [first_audio(args.model, 7 + i) for i in range(args.runs)]
    print(f"first sound of tunegen play: runs {' '.join(f'{a:.2f}' for a in audio)}")
    print(f"first_audio_s: {statistics.median(audio):.2f}")


if __name__ == "__main__":
    main()
