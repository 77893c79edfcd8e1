"""Shared fixtures: small real corpora from music21's bundled collections, and one tiny model
trained and exported once per session (real TensorFlow, real TFLite conversion)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# corpus caches of the test session go to a folder of its own, not the user's ~/.cache
os.environ.setdefault("TUNEGEN_CACHE", tempfile.mkdtemp(prefix="tunegen-test-cache-"))

ALSA_FILE_DEVICE = """pcm.!default {{
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


def music21_abc(collection: str) -> list[Path]:
    import music21.corpus

    return sorted((Path(music21.corpus.__file__).parent / collection).rglob("*.abc"))


@pytest.fixture(scope="session")
def oneills_file() -> Path:
    """One real multi-tune file: O'Neill's tunes 51-100."""
    return next(p for p in music21_abc("oneills1850") if p.name == "0051-0100.abc")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, oneills_file) -> Path:
    """A folder of real ABC: two O'Neill's files in a subfolder, plus one broken file."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "irish").mkdir()
    shutil.copy(oneills_file, root / "irish" / oneills_file.name)
    shutil.copy(music21_abc("oneills1850")[0], root / "irish" / "first.abc")
    (root / "broken.abc").write_text("X:1\nT:no key here\nM:4/4\nL:1/8\nABcd|\n\nX:2\nT:no notes\nM:4/4\nK:D\n\n")
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_corpus) -> Path:
    """A run folder from a few real training steps of a tiny LSTM."""
    pytest.importorskip("tensorflow")
    from tunegen.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = TrainConfig(corpus=str(small_corpus), embedding=16, units=48, layers=2, dropout=0.0,
                      epochs=2, max_steps=24, batch_size=16, seq_len=64, lr=1e-2)
    train(cfg, out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported: int8 `tiny.tflite`/`tiny.json` and the float32 variant."""
    from tunegen.export.export import export_run

    out = tmp_path_factory.mktemp("models") / "tiny"
    export_run(tiny_run, out)
    return out.with_suffix(".json")


@pytest.fixture(scope="session")
def shipped_folk() -> Path:
    from tunegen.runtime.model import shipped_models

    models = shipped_models()
    if "folk" not in models:
        pytest.fail("the shipped folk model is missing from models/")
    return models["folk"]


@pytest.fixture
def alsa_file_home(tmp_path) -> tuple[dict, Path]:
    """An environment whose ALSA default device writes the played PCM to a file (no sound card
    needed): PortAudio plays through it for real."""
    played = tmp_path / "played.raw"
    (tmp_path / ".asoundrc").write_text(ALSA_FILE_DEVICE.format(path=played))
    env = dict(os.environ, HOME=str(tmp_path))
    return env, played


def smf(*tracks: list[tuple[int, bytes]], ticks: int = 480) -> bytes:
    """A format-1 standard MIDI file from tracks of (delta ticks, event bytes), written by hand so a
    test can make files music21 would never write (drums, empty tracks)."""
    out = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big") \
        + ticks.to_bytes(2, "big")
    for events in tracks:
        data = bytearray()
        for delta, ev in [*events, (0, b"\xff\x2f\x00")]:
            var = [delta & 0x7F]
            while delta > 0x7F:
                delta >>= 7
                var.insert(0, (delta & 0x7F) | 0x80)
            data += bytes(var) + ev
        out += b"MTrk" + len(data).to_bytes(4, "big") + bytes(data)
    return out


def read_midi_notes(path: Path) -> tuple[list[tuple[int, int, int]], int, int]:
    """(onset, length, pitch) of every note in a MIDI file, read from its raw events with music21's
    low-level reader; also how many notes were never released, and ticks per quarter."""
    from music21 import midi

    mf = midi.MidiFile()
    mf.open(str(path))
    mf.read()
    mf.close()
    notes, hanging = [], 0
    for track in mf.tracks:
        t, on = 0, {}
        for ev in track.events:
            if ev.isDeltaTime():
                t += ev.time
            elif ev.isNoteOn():
                on.setdefault(ev.pitch, []).append(t)
            elif ev.isNoteOff() and on.get(ev.pitch):
                start = on[ev.pitch].pop(0)
                notes.append((start, t - start, ev.pitch))
        hanging += sum(len(v) for v in on.values())
    return sorted(notes), hanging, mf.ticksPerQuarterNote


def bach_files(n: int) -> list[Path]:
    import music21.corpus

    root = Path(music21.corpus.__file__).parent / "bach"
    return sorted(root.glob("bwv*.mxl"))[:n]


@pytest.fixture(scope="session")
def midi_corpus(tmp_path_factory) -> Path:
    """A folder of real music: Bach chorales as MusicXML and as MIDI files music21 wrote, plus a
    corrupt MIDI file and one whose only track is empty."""
    import music21

    root = tmp_path_factory.mktemp("midi_corpus")
    files = bach_files(14)
    (root / "xml").mkdir()
    for f in files[:10]:
        shutil.copy(f, root / "xml" / f.name)
    for f in files[10:]:
        music21.converter.parse(f).write("midi", fp=root / f"{f.stem}.mid")
    (root / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff\xff\xffgarbage")
    (root / "empty-track.mid").write_bytes(smf([]))
    (root / "notes.txt").write_text("not music, not read")
    return root


@pytest.fixture(scope="session")
def tiny_midi_run(tmp_path_factory, midi_corpus) -> Path:
    """A run folder from a few real training steps of a tiny MIDI event LSTM."""
    pytest.importorskip("tensorflow")
    from tunegen.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "tiny-midi"
    cfg = TrainConfig(corpus=str(midi_corpus), kind="midi", transpose=3, embedding=16, units=48,
                      layers=2, dropout=0.0, epochs=4, max_steps=20, batch_size=8, seq_len=128, lr=1e-2)
    train(cfg, out)
    return out


@pytest.fixture(scope="session")
def tiny_midi_model(tiny_midi_run, tmp_path_factory) -> Path:
    """The tiny MIDI run exported: int8 `tinymidi.tflite`/`.json` and the float32 variant."""
    from tunegen.export.export import export_run

    out = tmp_path_factory.mktemp("models") / "tinymidi"
    export_run(tiny_midi_run, out)
    return out.with_suffix(".json")


@pytest.fixture(scope="session")
def shipped_piano() -> Path:
    from tunegen.runtime.model import shipped_models

    models = shipped_models()
    if "piano" not in models:
        pytest.fail("the shipped piano model is missing from models/")
    return models["piano"]
