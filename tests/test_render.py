"""Real FluidSynth rendering of real tunes with the system's General MIDI SoundFont, through the
runtime's own path: the ABC player's note events, then FluidSynth."""

import io
import wave

import numpy as np
import pytest

from tunegen.runtime.abcplay import abc_events
from tunegen.runtime.errors import AudioError
from tunegen.runtime.render import SAMPLE_RATE, events_midi, find_soundfont, synthesize_events, wav_bytes
from tunegen.training.kinds.abc import normalise, split_tunes

TUNE = "X:1\nM:6/8\nL:1/8\nK:D\nA|dAF DFA|dAF d2A|BcA d2:|"


def test_render_is_music_length_and_not_silent():
    audio = synthesize_events(*abc_events(TUNE), find_soundfont(), program=73, bpm=120, tail=1.0)
    # pickup 1/2 + 3 + 3 + 5/2 quarters = 9, played twice (repeat) = 18 quarters = 9 s at 120, + 1 s tail
    seconds = len(audio) / SAMPLE_RATE
    assert 9.8 <= seconds <= 10.2
    rms = np.sqrt(np.mean(audio.astype(np.float64) ** 2)) / 32768
    assert rms > 0.003
    # sound starts at once and fades in the tail
    first, last = audio[: SAMPLE_RATE // 2], audio[-SAMPLE_RATE // 10:]
    assert np.abs(first).max() > 100 and np.abs(last).max() < np.abs(first).max()


def test_real_corpus_tune_renders(oneills_file):
    tune = normalise(split_tunes(oneills_file.read_text())[1])
    audio = synthesize_events(*abc_events("X:1\n" + tune), find_soundfont(), bpm=160)
    with wave.open(io.BytesIO(wav_bytes(audio))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, SAMPLE_RATE)
        assert w.getnframes() == len(audio)
    assert len(audio) / SAMPLE_RATE > 10


def test_midi_file_holds_the_notes():
    import music21

    data = events_midi(abc_events(TUNE)[0], bpm=120, program=73)
    back = music21.converter.parse(data, format="midi")
    assert [n.pitch.name for n in back.flatten().notes][:4] == ["A", "D", "A", "F#"]


def test_missing_soundfont_says_what_to_install(tmp_path, monkeypatch):
    with pytest.raises(AudioError, match="not found"):
        find_soundfont(tmp_path / "none.sf2")
    monkeypatch.setattr("tunegen.runtime.render.SOUNDFONTS", (str(tmp_path / "x.sf2"),))
    monkeypatch.delenv("TUNEGEN_SOUNDFONT", raising=False)
    with pytest.raises(AudioError, match="timgm6mb-soundfont"):
        find_soundfont()


def test_missing_fluidsynth_library_says_what_to_install(monkeypatch):
    # The library cannot be uninstalled inside a test: hide the binding instead (a stand-in for
    # a machine without libfluidsynth, whose import fails the same way).
    monkeypatch.setitem(__import__("sys").modules, "fluidsynth", None)
    with pytest.raises(AudioError, match="libfluidsynth3"):
        synthesize_events(*abc_events(TUNE), find_soundfont())
