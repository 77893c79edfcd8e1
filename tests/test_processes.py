"""The installed `tunegen` command in fresh processes: no TensorFlow, no traceback, real playback
through PortAudio into a file-backed ALSA device, and the fallback to a WAV without a device."""

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

POISON = """
import sys
class _Poison:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(f"the runtime imported {name}")
sys.meta_path.insert(0, _Poison())
sys.argv = ["tunegen", *sys.argv[1:]]
from tunegen.runtime.cli import main
main()
"""


def tunegen(*args, env=None, cwd=None, poison=True):
    cmd = [sys.executable, "-c", POISON, *map(str, args)] if poison else [
        str(Path(sys.executable).parent / "tunegen"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_runtime_commands_never_import_tensorflow(shipped_folk, shipped_piano, tmp_path):
    for args in (["models"], ["generate", "--seed", 1, "-o", tmp_path / "a.abc", "-o", tmp_path / "a.wav",
                              "-o", tmp_path / "a.mid"], ["--help"], ["info", "piano"],
                 ["generate", "-m", "piano", "--seed", 1, "--bars", 8, "-o", tmp_path / "p.wav"]):
        res = tunegen(*args)
        assert res.returncode == 0, res.stderr
        assert "the runtime imported" not in res.stderr
    assert (tmp_path / "a.wav").stat().st_size > 100_000
    assert (tmp_path / "p.wav").stat().st_size > 100_000


def test_user_errors_exit_1_without_traceback(tmp_path):
    res = tunegen("generate", "-m", "nope", "-o", tmp_path / "x.abc", poison=False)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: unknown model 'nope'; shipped models: ") and "folk" in lines[0]
    assert lines[0].endswith("(or give a path to a .tflite with its .json beside it)")


def test_play_through_a_file_backed_alsa_device(tiny_model, alsa_file_home, tmp_path):
    env, played = alsa_file_home
    res = tunegen("play", "-m", tiny_model, "--seed", 4, "--max-length", 300, "-o", tmp_path / "same.wav",
                  env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "played on default" in res.stderr
    pcm = np.frombuffer(played.read_bytes(), "<i2").reshape(-1, 2)
    with wave.open(str(tmp_path / "same.wav")) as w:
        rendered = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    assert abs(len(pcm) - len(rendered)) < 0.05 * len(rendered) + 4096
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 50  # not silence
    # what reached the device is what was rendered, after the device's own start-up latency
    lag = int(np.argmax(np.abs(pcm[:, 0]) > 100)) - int(np.argmax(np.abs(rendered[:, 0]) > 100))
    assert 0 <= lag < 0.5 * 44100
    n = min(len(pcm) - lag, len(rendered))
    assert np.corrcoef(pcm[lag:lag + n, 0], rendered[:n, 0])[0, 1] > 0.9


def test_play_without_an_audio_device_writes_a_wav(tiny_model, tmp_path):
    (tmp_path / ".asoundrc").write_text("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
    env = dict(os.environ, HOME=str(tmp_path))
    res = tunegen("play", "-m", tiny_model, "--seed", 4, "--max-length", 300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "no audio output device" in res.stderr and "wrote tune-4.wav instead" in res.stderr
    assert (tmp_path / "tune-4.wav").stat().st_size > 10_000
