"""`tunegen radio`: headless pieces, rotation, gapless playback through a real PortAudio device that
writes to a file, and a clean stop on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

EXE = str(Path(sys.executable).parent / "tunegen")


def radio(*args, env=None, cwd=None, timeout=300):
    return subprocess.run([EXE, "radio", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def test_headless_radio_writes_pieces_in_rotation(shipped_folk, shipped_piano, tmp_path):
    res = radio("--out-dir", tmp_path / "a", "--max-pieces", 4, "--seed", 5, "-m", "folk", "-m", "piano")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["00001-folk-seed5.abc", "00001-folk-seed5.wav", "00002-piano-seed6.mid",
                     "00002-piano-seed6.wav", "00003-folk-seed7.abc", "00003-folk-seed7.wav",
                     "00004-piano-seed8.mid", "00004-piano-seed8.wav"]
    again = radio("--out-dir", tmp_path / "b", "--max-pieces", 1, "--seed", 5)
    assert again.returncode == 0
    assert (tmp_path / "b" / "00001-folk-seed5.abc").read_text() == (tmp_path / "a" / "00001-folk-seed5.abc").read_text()


def test_radio_without_a_device_says_how_to_run_headless(tmp_path):
    (tmp_path / ".asoundrc").write_text("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
    res = radio("--max-pieces", 1, env=dict(os.environ, HOME=str(tmp_path)))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no audio output device")
    assert "tunegen radio --out-dir DIR --max-pieces N" in lines[0]


def test_pieces_follow_each_other_with_only_the_pause_between(alsa_file_home, tmp_path):
    env, played = alsa_file_home
    res = radio("--max-pieces", 3, "--pause", 0.5, "--seed", 11, "--keep", tmp_path / "kept", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "kept").glob("*.abc"))) == 3
    pcm = np.frombuffer(played.read_bytes(), "<i2").reshape(-1, 2)
    quiet = np.abs(pcm).max(axis=1) <= 24
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    silences = (edges[1::2] - edges[::2]) / 44100
    assert (silences >= 0.45).sum() >= 2  # the two pauses are there
    assert silences.max() <= 0.5 + 0.5  # and nothing longer than the pause plus half a second


def test_sigterm_stops_radio_at_once_without_partial_files(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([EXE, "radio", "--out-dir", str(out), "--max-pieces", "500", "--seed", "1"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.wav"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert time.monotonic() - t < 1.5
    assert proc.returncode != 0
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    for wav in out.glob("*.wav"):
        with wave.open(str(wav)) as w:
            assert w.getnframes() > 0
