"""The two interpreter packages side by side: LiteRT (numpy 2, this environment) and tflite-runtime
2.14 (numpy < 2, `.venv-tflite` from `scripts/setup --train`).

For every shipped model: the largest logit difference over a 300-token teacher-forced sequence, and
how many of seeds 1-100 give the identical piece on both (sampling is exact arithmetic on the
logits, so one tiny difference at a close call changes the rest of a piece).
Run: .venv/bin/python bench/interpreters.py [--seeds 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / ".venv-tflite" / "bin" / "python"

WORKER = """
import json, sys
import numpy as np
import tunegen
from tunegen.runtime.model import load_model
name, ids, seeds, out = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
step = load_model(name)
state, rows = step.zero_state(), []
for i in ids:
    logits, state = step.step(np.array([i]), state)
    rows.append(logits[0])
np.save(out + ".npy", np.stack(rows))
model = tunegen.load(name)
pieces = []
for seed in range(1, seeds + 1):
    p = model.generate(seed=seed)
    pieces.append(" ".join(p.tokens) if p.music is not None else p.abc)
json.dump({"package": step.package, "numpy": np.__version__, "pieces": pieces}, open(out + ".json", "w"))
"""


def run(python: str, env: dict, name: str, ids: list[int], seeds: int, out: str) -> dict:
    subprocess.run([python, "-c", WORKER, name, json.dumps(ids), str(seeds), out], check=True, env=env,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    result = json.loads(Path(out + ".json").read_text())
    result["logits"] = np.load(out + ".npy")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    args = ap.parse_args()
    if not LEGACY.exists():
        sys.exit(f"{LEGACY} is missing: run `bash scripts/setup --train` first")
    import tunegen
    from tunegen.runtime.model import shipped_models

    print(f"{'model':8s} {'max |logit diff|':>17s} {'same argmax':>12s} {'identical pieces':>17s}")
    for name in sorted(shipped_models()):
        model = tunegen.load(name)
        vocab = model.manifest.vocab
        ids = [vocab.start] + [vocab.index(t) for t in list(model.stream(seed=3))[:300]]
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ)
            env.pop("TUNEGEN_INTERPRETER", None)
            new = run(sys.executable, env, name, ids, args.seeds, f"{d}/new")
            old = run(str(LEGACY), dict(env, TUNEGEN_INTERPRETER="tflite_runtime"), name, ids, args.seeds,
                      f"{d}/old")
        diff = float(np.abs(new["logits"] - old["logits"]).max())
        argmax = float((new["logits"].argmax(1) == old["logits"].argmax(1)).mean())
        same = sum(a == b for a, b in zip(new["pieces"], old["pieces"], strict=True))
        print(f"{name:8s} {diff:17.5f} {argmax:12.1%} {same:>8d}/{args.seeds:<8d}"
              f"   ({new['package']} numpy {new['numpy']} vs {old['package']} numpy {old['numpy']})")


if __name__ == "__main__":
    main()
