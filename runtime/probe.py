"""Trying a model file in a child process before this one hands it to the interpreter.

The TFLite interpreter trusts its flatbuffer: a damaged or hostile `.tflite` (with a checksum to
match: whoever supplies a model supplies its manifest) can crash the process with a signal instead
of raising. So a model that did not ship with tunegen is first loaded, allocated and stepped at
batch 1 and 2 in a child; only if that ends cleanly is it loaded here. A crash, a hang or an error
there becomes one ModelError with the path and the reason.

    python -m tunegen.runtime.probe MODEL.tflite < MANIFEST.json
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from .errors import ModelError

TIMEOUT = 60.0  # seconds; the shipped models load and step in well under one
_passed: set[tuple[str, str]] = set()  # (path, sha256) tried in this process


def check_flatbuffer(path: Path, data_head: bytes, size: int) -> None:
    """Refuse what is plainly not a TFLite flatbuffer: too short, no `TFL3` identifier, or a root
    table offset outside the file."""
    if size < 16 or data_head[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TensorFlow Lite model (no TFL3 flatbuffer header)")
    root = int.from_bytes(data_head[:4], "little")
    if not 8 <= root < size - 4:
        raise ModelError(f"{path}: damaged TensorFlow Lite model (root table outside the file)")


def probe(path: Path, manifest) -> None:
    """Load and step the model in a child process; ModelError unless it ends cleanly."""
    key = (str(path.resolve()), manifest.sha256)
    if key in _passed:
        return
    with open(path, "rb") as f:
        check_flatbuffer(path, f.read(8), path.stat().st_size)
    try:
        res = subprocess.run([sys.executable, "-m", "tunegen.runtime.probe", str(path)],
                             input=json.dumps(manifest.to_dict()), capture_output=True, text=True,
                             timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ModelError(f"{path}: the interpreter did not finish loading the model in {TIMEOUT:.0f} s") from None
    if res.returncode < 0:
        name = signal.Signals(-res.returncode).name if -res.returncode in signal.valid_signals() else res.returncode
        raise ModelError(f"{path}: the interpreter crashed on the model ({name}); the file is damaged "
                         "or not a tunegen model")
    if res.returncode != 0:
        lines = [ln for ln in (res.stdout + res.stderr).strip().splitlines() if ln.strip()]
        raise ModelError(f"{path}: {lines[-1] if lines else 'the interpreter refused the model'}")
    _passed.add(key)


def _child(tflite: str) -> int:
    """In the child: load, check and step the model as the runtime would; print one line on error."""
    from .errors import TunegenError
    from .manifest import Manifest
    from .model import StepModel

    try:
        m = Manifest.from_dict(json.load(sys.stdin))
        step = StepModel(m, Path(tflite), num_threads=1, probed=True)
        import numpy as np

        for batch in (1, 2):
            step.step(np.full(batch, step.manifest.vocab.start), step.zero_state(batch))
    except TunegenError as e:
        print(str(e).split(": ", 1)[-1] if str(e).startswith(tflite) else e)
        return 1
    except Exception as e:  # noqa: BLE001  (whatever the interpreter raises, say it in one line)
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        print(f"the interpreter refused the model: {reason}")
        return 1
    json.dump({"ok": True}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1]))
