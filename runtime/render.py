"""Rendering a score to audio with FluidSynth and a General MIDI SoundFont, and writing files."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np

from .errors import AudioError
from .manifest import write_atomic

SAMPLE_RATE = 44100
SOUNDFONTS = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The SoundFont to use: the one given, $TUNEGEN_SOUNDFONT, or a Debian package's."""
    given = path or os.environ.get("TUNEGEN_SOUNDFONT")
    if given:
        p = Path(given).expanduser()
        if not p.is_file():
            raise AudioError(f"SoundFont {p} not found; give an existing .sf2 file with --soundfont")
        return p
    for candidate in SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise AudioError("no General MIDI SoundFont found: install one (Debian: apt-get install "
                     "timgm6mb-soundfont) or pass --soundfont FILE.sf2")


def note_events(score, bpm: float) -> tuple[list[tuple[float, int, int, int]], float]:
    """(seconds, on=1/off=0, pitch, velocity) events of a score, repeats played out, and its
    length in seconds."""
    try:
        score = score.expandRepeats()
    except Exception:  # music21 refuses some repeat structures: play the tune as written
        pass
    flat = score.stripTies().flatten()
    sec = 60.0 / bpm
    events = []
    for n in flat.notes:
        start = float(n.offset) * sec
        end = start + max(float(n.quarterLength), 0.05) * sec
        for p in n.pitches:
            events.append((start, 1, p.midi, 90))
            events.append((end, 0, p.midi, 0))
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs first at the same time
    return events, float(flat.highestTime) * sec


def synthesize(score, soundfont: Path, program: int = 0, bpm: float = 120.0,
               tail: float = 1.0) -> np.ndarray:
    """Render a score to stereo int16 samples [frames, 2] at SAMPLE_RATE."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:
        raise AudioError(f"the FluidSynth library is missing ({e}); install it "
                         "(Debian: apt-get install libfluidsynth3)") from None
    events, length = note_events(score, bpm)
    synth = fluidsynth.Synth(samplerate=float(SAMPLE_RATE), gain=0.6)
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise AudioError(f"FluidSynth could not load the SoundFont {soundfont}")
        synth.program_select(0, sfid, 0, program)
        chunks, now = [], 0
        for t, on, pitch, vel in events:
            frame = int(round(t * SAMPLE_RATE))
            if frame > now:
                chunks.append(synth.get_samples(frame - now))
                now = frame
            if on:
                synth.noteon(0, pitch, vel)
            else:
                synth.noteoff(0, pitch)
        end = int(round((length + tail) * SAMPLE_RATE))
        if end > now:
            chunks.append(synth.get_samples(end - now))
    finally:
        synth.delete()
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return audio.astype(np.int16).reshape(-1, 2)


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV file of [frames, channels] samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(audio.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(audio, "<i2").tobytes())
    return buf.getvalue()


def midi_bytes(score, bpm: float, program: int = 0) -> bytes:
    """A standard MIDI file of a score at `bpm` quarter notes per minute."""
    import music21

    s = score.stripTies()
    s.insert(0, music21.tempo.MetronomeMark(number=bpm))
    inst = music21.instrument.instrumentFromMidiProgram(program)
    for part in s.parts or [s]:
        part.insert(0, inst)
    mf = music21.midi.translate.streamToMidiFile(s)
    return mf.writestr()


def write_file(path: Path, data: bytes) -> None:
    """Write an output file atomically."""
    write_atomic(Path(path), data)
