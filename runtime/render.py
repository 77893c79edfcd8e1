"""Rendering a score to audio with FluidSynth and a General MIDI SoundFont, and writing files."""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import AudioError
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


def play_order(part) -> list:
    """The part's measures in playing order: repeated sections twice, first and second endings.

    Done on the measure list rather than with music21's expandRepeats, which copies the whole
    score and costs a Pi most of a second.
    """
    from music21 import bar

    measures = list(part.getElementsByClass("Measure"))
    index = {id(m): i for i, m in enumerate(measures)}
    ending = {}
    for sp in part.spannerBundle.getByClass("RepeatBracket"):
        for m in sp.getSpannedElements():
            if id(m) in index:
                ending[index[id(m)]] = str(sp.number)
    order, start, second, jumped, i = [], 0, False, set(), 0
    while i < len(measures):
        m = measures[i]
        if isinstance(m.leftBarline, bar.Repeat) and m.leftBarline.direction == "start" and not second:
            start = i
        if i in ending and ("2" in ending[i]) != second:
            i += 1  # the ending of the other pass
            continue
        if second and i not in ending and i > 0 and (i - 1) in ending:
            second, start = False, i  # left the second ending
        order.append(m)
        right = m.rightBarline
        if isinstance(right, bar.Repeat) and right.direction == "end":
            if i not in jumped:
                jumped.add(i)
                second, i = True, start
                continue
            second, start = False, i + 1
        i += 1
    return order or measures


def note_events(score) -> tuple[list[tuple[float, int, int, int]], float]:
    """(quarter notes, on=1/off=0, pitch, velocity) events of a score with its repeats played out
    and tied notes joined, and its length in quarter notes."""
    part = score.parts[0] if score.parts else score
    measures = play_order(part)
    notes: list[list] = []  # [start, end, midi]
    tied: dict[int, list] = {}  # midi pitch -> the note a tie continues
    t = 0.0
    for m in measures:
        for n in m.flatten().notes:
            start = t + float(n.offset)
            length = max(float(n.quarterLength), 0.05)
            kind = n.tie.type if n.tie is not None else None
            for p in n.pitches:
                if kind in ("stop", "continue") and p.midi in tied:
                    tied[p.midi][1] = start + length
                    note = tied[p.midi]
                else:
                    note = [start, start + length, p.midi]
                    notes.append(note)
                if kind in ("start", "continue"):
                    tied[p.midi] = note
                else:
                    tied.pop(p.midi, None)
        t += float(m.duration.quarterLength)
    if not measures:  # a score without measures: its notes as they stand
        for n in part.flatten().notes:
            notes.extend([float(n.offset), float(n.offset) + max(float(n.quarterLength), 0.05), p.midi]
                         for p in n.pitches)
        t = float(part.flatten().highestTime)
    events = [(a, 1, pitch, 90) for a, _, pitch in notes] + [(b, 0, pitch, 0) for _, b, pitch in notes]
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs first at the same time
    return events, max(t, max((b for _, b, _ in notes), default=0.0))


def music_events(music) -> tuple[list[tuple[float, int, int, int]], float]:
    """`note_events` of an `events.Music` piece; notes on a barline are played a little louder."""
    from .events import GRID

    bars = set(music.barlines)
    events = [(n.start / GRID, 1, n.pitch, 96 if n.start in bars else 80) for n in music.notes]
    events += [(n.end / GRID, 0, n.pitch, 0) for n in music.notes]
    events.sort(key=lambda e: (e[0], e[1]))
    return events, music.length / GRID


def synthesize(score, soundfont: Path, program: int = 0, bpm: float = 120.0,
               tail: float = 1.0) -> np.ndarray:
    """Render a music21 score to stereo int16 samples [frames, 2] at SAMPLE_RATE."""
    return synthesize_events(*note_events(score), soundfont, program, bpm, tail)


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


def midi_bytes(score, bpm: float, program: int = 0, ticks: int = 480) -> bytes:
    """A standard MIDI file (format 0) of a score's notes, repeats played out, at `bpm`.

    Written from the same events the audio is rendered from: music21's own stream-to-MIDI path
    re-expands repeats and fails on some that the renderer plays as written.
    """
    return events_midi(note_events(score)[0], bpm, program, ticks)


def events_midi(events, bpm: float, program: int = 0, ticks: int = 480, meter: str | None = None) -> bytes:
    """A standard MIDI file (format 0) of (quarter notes, on/off, pitch, velocity) events."""
    track = bytearray()

    def put(delta: int, data: bytes) -> None:
        var = [delta & 0x7F]
        while delta > 0x7F:
            delta >>= 7
            var.insert(0, (delta & 0x7F) | 0x80)
        track.extend(bytes(var) + data)

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
