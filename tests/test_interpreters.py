"""The shipped models on the older interpreter package: tflite-runtime 2.14 with numpy < 2, in the
second environment `.venv-tflite` that `scripts/setup --train` makes."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tunegen.runtime.model import load_model, shipped_models

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / ".venv-tflite" / "bin" / "python"
TOLERANCE = 0.1  # largest logit difference: the two packages' int8 kernels round activations differently

STEP_LOGITS = """
import json, sys
import numpy as np
from tunegen.runtime.model import load_model
model = load_model(sys.argv[1])
ids = json.loads(sys.argv[2])
state, rows = model.zero_state(), []
for i in ids:
    logits, state = model.step(np.array([i]), state)
    rows.append(logits[0])
np.save(sys.argv[3], np.stack(rows))
print(model.package, np.__version__)
"""


def legacy(*args, **kw):
    if not LEGACY.exists():
        pytest.fail(f"{LEGACY} is missing: run `bash scripts/setup --train` to make the second environment")
    env = dict(os.environ, TUNEGEN_INTERPRETER="tflite_runtime")
    return subprocess.run([str(LEGACY), *map(str, args)], capture_output=True, text=True, timeout=600,
                          env=env, cwd=ROOT, **kw)


def test_runtime_tests_pass_on_tflite_runtime_2_14():
    res = legacy("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_shipped.py")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert " passed" in res.stdout


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_same_logits_on_both_packages(name, tmp_path):
    import tunegen

    model = tunegen.load(name)
    ids = [model.manifest.vocab.start]
    ids += [model.manifest.vocab.index(t) for t in list(model.stream(seed=3))[:300]]
    res = legacy("-c", STEP_LOGITS, name, json.dumps(ids), tmp_path / "legacy.npy")
    assert res.returncode == 0, res.stderr[-2000:]
    package, numpy_version = res.stdout.split()
    assert package == "tflite_runtime" and numpy_version.startswith("1.")
    step = load_model(name)
    state, rows = step.zero_state(), []
    for i in ids:
        logits, state = step.step(np.array([i]), state)
        rows.append(logits[0])
    ours, theirs = np.stack(rows), np.load(tmp_path / "legacy.npy")
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= TOLERANCE, np.abs(ours - theirs).max()
    # and the same choice of the likeliest next token almost everywhere
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.98
