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


def note_events(score) -> tuple[list[tuple[float, int, int, int]], float]:
    """(quarter notes, on=1/off=0, pitch, velocity) events of a score with its repeats played out,
    and its length in quarter notes."""
    try:
        score = score.expandRepeats()
    except Exception:  # music21 refuses some repeat structures: play the tune as written
        pass
    flat = score.stripTies().flatten()
    events = []
    for n in flat.notes:
        start = float(n.offset)
        end = start + max(float(n.quarterLength), 0.05)
        for p in n.pitches:
            events.append((start, 1, p.midi, 90))
            events.append((end, 0, p.midi, 0))
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs first at the same time
    return events, float(flat.highestTime)


def synthesize(score, soundfont: Path, program: int = 0, bpm: float = 120.0,
               tail: float = 1.0) -> np.ndarray:
    """Render a score to stereo int16 samples [frames, 2] at SAMPLE_RATE."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:
        raise AudioError(f"the FluidSynth library is missing ({e}); install it "
                         "(Debian: apt-get install libfluidsynth3)") from None
    events, length = note_events(score)
    sec = 60.0 / bpm
    synth = fluidsynth.Synth(samplerate=float(SAMPLE_RATE), gain=0.6)
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise AudioError(f"FluidSynth could not load the SoundFont {soundfont}")
        synth.program_select(0, sfid, 0, program)
        chunks, now = [], 0
        for t, on, pitch, vel in events:
            frame = int(round(t * sec * SAMPLE_RATE))
            if frame > now:
                chunks.append(synth.get_samples(frame - now))
                now = frame
            if on:
                synth.noteon(0, pitch, vel)
            else:
                synth.noteoff(0, pitch)
        end = int(round((length * sec + tail) * SAMPLE_RATE))
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


def midi_bytes(score, bpm: float, program: int = 0, ticks: int = 480) -> bytes:
    """A standard MIDI file (format 0) of a score's notes, repeats played out, at `bpm`.

    Written from the same events the audio is rendered from: music21's own stream-to-MIDI path
    re-expands repeats and fails on some that the renderer plays as written.
    """
    events, _ = note_events(score)
    track = bytearray()

    def put(delta: int, data: bytes) -> None:
        var = [delta & 0x7F]
        while delta > 0x7F:
            delta >>= 7
            var.insert(0, (delta & 0x7F) | 0x80)
        track.extend(bytes(var) + data)

    put(0, b"\xff\x51\x03" + int(60_000_000 / bpm).to_bytes(3, "big"))
    put(0, bytes([0xC0, program & 0x7F]))
    now = 0
    for t, on, pitch, vel in events:
        tick = int(round(t * ticks))
        put(tick - now, bytes([0x90 if on else 0x80, pitch & 0x7F, vel & 0x7F]))
        now = tick
    put(0, b"\xff\x2f\x00")
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") \
        + ticks.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def write_file(path: Path, data: bytes) -> None:
    """Write an output file atomically."""
    write_atomic(Path(path), data)
