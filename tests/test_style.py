import shutil
import subprocess
from pathlib import Path

import pytest


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(__import__("sys").executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install 'tunegen[test]')")
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run([ruff, "check", str(root)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
