"""Rendering a score to audio with FluidSynth and a General MIDI SoundFont, and writing files."""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import AudioError
from .midiscan import varlen_bytes
from .quiet import native_stderr

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


def music_events(music) -> tuple[list[tuple[float, int, int, int]], float]:
    """(quarter notes, on=1/off=0, pitch, velocity) events of an `events.Music` piece, and its length
    in quarters; notes on a barline are played a little louder."""
    from .events import GRID

    bars = set(music.barlines)
    events = [(n.start / GRID, 1, n.pitch, 96 if n.start in bars else 80) for n in music.notes]
    events += [(n.end / GRID, 0, n.pitch, 0) for n in music.notes]
    events.sort(key=lambda e: (e[0], e[1]))
    return events, music.length / GRID


def synthesize_events(events, length: float, soundfont: Path, program: int = 0, bpm: float = 120.0,
                      tail: float = 1.0) -> np.ndarray:
    """Render (quarter notes, on/off, pitch, velocity) events to stereo int16 samples [frames, 2]."""
    chunks = list(render_chunks(events, length, soundfont, program, bpm, tail))
    return np.concatenate(chunks) if chunks else np.zeros((0, 2), np.int16)


CHUNK_SECONDS = 0.5  # audio rendered at a time: the first half second can play while the rest renders


def render_chunks(events, length: float, soundfont: Path, program: int = 0, bpm: float = 120.0,
                  tail: float = 1.0, seconds: float = CHUNK_SECONDS) -> Iterator[np.ndarray]:
    """`synthesize_events` a little at a time: stereo int16 chunks of about `seconds` each, as
    FluidSynth renders them, so playing can begin before the whole piece is rendered."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:
        raise AudioError(f"the FluidSynth library is missing ({e}); install it "
                         "(Debian: apt-get install libfluidsynth3)") from None
    sec = 60.0 / bpm
    step = max(int(seconds * SAMPLE_RATE), 1)
    synth = fluidsynth.Synth(samplerate=float(SAMPLE_RATE), gain=0.6)
    try:
        with native_stderr():  # FluidSynth prints its own reasons ("Not a RIFF file"); ours is below
            sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise AudioError(f"FluidSynth could not load the SoundFont {soundfont}")
        synth.program_select(0, sfid, 0, program)
        pending: list[np.ndarray] = []
        held, now = 0, 0

        def render(frames: int) -> Iterator[np.ndarray]:
            nonlocal held
            while frames > 0:
                n = min(frames, step - held)
                pending.append(np.asarray(synth.get_samples(n), np.int16).reshape(-1, 2))
                held += n
                frames -= n
                if held >= step:
                    yield np.concatenate(pending)
                    pending.clear()
                    held = 0

        for t, on, pitch, vel in events:
            frame = int(round(t * sec * SAMPLE_RATE))
            if frame > now:
                yield from render(frame - now)
                now = frame
            if on:
                synth.noteon(0, pitch, vel)
            else:
                synth.noteoff(0, pitch)
        end = int(round((length * sec + tail) * SAMPLE_RATE))
        if end > now:
            yield from render(end - now)
        if pending:
            yield np.concatenate(pending)
    finally:
        synth.delete()


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV file of [frames, channels] samples."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(audio.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(audio, "<i2").tobytes())
    return buf.getvalue()


def events_midi(events, bpm: float, program: int = 0, ticks: int = 480, meter: str | None = None) -> bytes:
    """A standard MIDI file (format 0) of (quarter notes, on/off, pitch, velocity) events."""
    track = bytearray()

    def put(delta: int, data: bytes) -> None:
        track.extend(varlen_bytes(delta) + data)

    put(0, b"\xff\x51\x03" + int(60_000_000 / bpm).to_bytes(3, "big"))
    if meter:
        num, den = (int(x) for x in meter.split("/"))
        put(0, bytes([0xFF, 0x58, 0x04, num, den.bit_length() - 1, 24, 8]))
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
