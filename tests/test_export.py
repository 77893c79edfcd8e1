"""Export choices on a tiny real run: every quantization variant, interpreter targets, and what a
too-old interpreter says."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegen.runtime.cli import main_app
from tunegen.runtime.manifest import Manifest

app = main_app()

pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def variants(tiny_run, tmp_path_factory) -> Path:
    from tunegen.export.export import export_run

    out = tmp_path_factory.mktemp("variants") / "v"
    export_run(tiny_run, out, ("dynamic-int8", "float32", "float16", "int8"),
               targets=("tflite-runtime-2.14", "litert"))
    return out.parent


def test_every_variant_is_written_checked_and_names_its_runtime(variants, tiny_run):
    keras_bits = None
    sizes = {}
    for name, variant in (("v", "dynamic-int8"), ("v-float32", "float32"), ("v-float16", "float16"),
                          ("v-int8", "int8")):
        m = Manifest.load(variants / f"{name}.json")
        assert m.quantization == variant
        assert m.min_runtime and tuple(int(x) for x in m.min_runtime.split(".")) <= (2, 14, 0)
        assert "FULLY_CONNECTED" in m.provenance["ops"]
        keras_bits = m.provenance["keras_valid_bits_per_char"]
        assert m.provenance["valid_bits_per_char"] <= keras_bits * 1.05
        sizes[variant] = (variants / m.tflite).stat().st_size
    assert sizes["float16"] < sizes["float32"] and sizes["dynamic-int8"] < sizes["float16"]
    calib = json.loads((tiny_run / "calibration.json").read_text())
    assert calib and all(isinstance(t, str) for t in calib)  # real training tunes, not random data


def test_a_target_the_graph_needs_more_than_is_refused(tiny_run, tmp_path, monkeypatch):
    from tunegen.export import export
    from tunegen.runtime.errors import ModelError

    # an imaginary interpreter older than any graph: the real version check has to refuse it
    monkeypatch.setitem(export.TARGETS, "tflite-runtime-2.14", "1.0.0")
    with pytest.raises(ModelError, match=r"needs TFLite runtime 2\.\d+\.\d+ .*newer than --target "
                                         r"tflite-runtime-2\.14 \(1\.0\.0\); not written"):
        export.export_run(tiny_run, tmp_path / "old", ("float32",), targets=("tflite-runtime-2.14",))
    assert not list(tmp_path.glob("old*"))


@pytest.mark.parametrize("args, message", [
    (["--quantize", "int4"], "unknown --quantize/--target value int4"),
    (["--target", "edgetpu"], "unknown --quantize/--target value edgetpu"),
    (["-q", "float16", "-q", "float16"], "each --quantize variant may be given once"),
])
def test_export_bad_options(tiny_run, tmp_path, args, message):
    r = run_cli("export", tiny_run, "--out", tmp_path / "m", *args)
    assert r.exit_code == 1 and message in r.output


def test_export_of_a_folder_without_a_trained_model(tmp_path):
    r = run_cli("export", tmp_path, "--out", tmp_path / "m")
    assert r.exit_code == 1 and "not a trained run folder" in r.output


def test_a_too_old_interpreter_names_both_versions(tiny_run, tmp_path):
    """A graph with per-channel dense weights (FULLY_CONNECTED v12) on the real tflite-runtime 2.14."""
    import keras
    import tensorflow as tf

    from tunegen.export.convert import min_runtime
    from tunegen.export.step import build_step_model

    legacy = ROOT / ".venv-tflite" / "bin" / "python"
    if not legacy.exists():
        pytest.fail("run `bash scripts/setup --train` to make .venv-tflite")
    cfg = json.loads((tiny_run / "config.json").read_text())
    step = build_step_model(keras.models.load_model(tiny_run / "model.keras"), cfg["model"]["layers"],
                            cfg["model"]["units"])
    step.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    conv = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # per-channel: the converter's default
    data = conv.convert()
    need = min_runtime(data)
    assert tuple(int(x) for x in need.split(".")) > (2, 14, 0)
    from tunegen.export.export import export_run

    export_run(tiny_run, tmp_path / "pc", ("float32",))
    m = Manifest.load(tmp_path / "pc.json")
    (tmp_path / "pc.tflite").write_bytes(data)
    from tunegen.runtime.manifest import sha256_file

    m.sha256, m.min_runtime, m.quantization = sha256_file(tmp_path / "pc.tflite"), need, "dynamic-int8"
    m.save(tmp_path / "pc.json")
    env = dict(os.environ, TUNEGEN_INTERPRETER="tflite_runtime")
    res = subprocess.run([str(legacy), "-m", "tunegen.runtime.cli", "generate", "-m", tmp_path / "pc.json",
                          "-o", tmp_path / "x.abc"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "refused the model" in line
    assert f"needs TFLite runtime {need}" in line and "tflite_runtime 2.14.0 is installed" in line


def test_tensorflow_is_the_last_interpreter_to_fall_back_on(tmp_path):
    env = dict(os.environ, TUNEGEN_INTERPRETER="tensorflow")
    exe = str(ROOT / ".venv" / "bin" / "tunegen") if (ROOT / ".venv" / "bin" / "tunegen").exists() else "tunegen"
    res = subprocess.run([exe, "info", "folk"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and "interpreter  tensorflow" in res.stdout
    res = subprocess.run([exe, "generate", "--seed", "2", "--out", str(tmp_path / "t.abc")], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-1000:]
    assert "K:" in (tmp_path / "t.abc").read_text()
