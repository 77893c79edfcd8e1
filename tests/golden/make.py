"""Writes the golden files the golden tests compare against: run it only when a change is meant
to alter what the shipped models make (and say so in the commit).

    .venv/bin/python tests/golden/make.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_cases import CASES, fingerprint, make  # noqa: E402


def main() -> None:
    prints = {}
    for case in CASES:
        data = make(case)
        (HERE / case.file).write_bytes(data)
        prints.setdefault(case.model, fingerprint(case.model))
        print(f"wrote {case.file} ({len(data)} bytes)")
    (HERE / "fingerprints.json").write_text(json.dumps(prints, indent=1) + "\n")
    import music21.corpus
    from typer.testing import CliRunner

    from tunegen.runtime.cli import main_app

    evals = json.loads((HERE / "eval.json").read_text())
    root = Path(music21.corpus.__file__).parent
    for name, (files, _) in evals.items():
        corpus = ",".join(str(root / f) for f in files.split(","))
        line = CliRunner().invoke(main_app(), ["eval", name, corpus]).output.strip().splitlines()[-1]
        evals[name] = [files, line]
        print(f"{name} eval: {line}")
    (HERE / "eval.json").write_text(json.dumps(evals, indent=1) + "\n")


if __name__ == "__main__":
    main()
