"""`tunegen radio`: endless music for a kiosk. The next piece is made while the current one plays,
and one PortAudio stream plays them back to back, so there is no gap beyond the pause asked for."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .api import Model
from .errors import TunegenError
from .paths import remove_stale_temps, safe_filename
from .piece import Piece
from .playback import NoAudioDevice
from .render import SAMPLE_RATE

LEAD_SECONDS = 2.0  # queue the next piece when the current one has this long left to play
SILENCE = 24  # int16 amplitude below which a piece's release tail counts as silence


@dataclass
class Station:
    """What radio plays: models and sampling settings in rotation, and where pieces go."""

    models: list[Model]
    temperatures: list[float | None]
    pause: float = 1.0
    seed: int | None = None
    keep: Path | None = None
    out_dir: Path | None = None
    max_pieces: int | None = None

    def programme(self) -> Iterator[tuple[int, Model, float | None, int]]:
        """(number, model, temperature, seed) of every piece to come, in rotation."""
        base = self.seed if self.seed is not None else int(np.random.default_rng().integers(0, 2**31 - 10**6))
        rotation = itertools.cycle(itertools.product(self.models, self.temperatures))
        for n in itertools.count(1):
            if self.max_pieces is not None and n > self.max_pieces:
                return
            model, temperature = next(rotation)
            yield n, model, temperature, base + n - 1


def trimmed(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Audio chunks without silence at either end (a piece that opens on a rest, the release
    tail), so the pause between pieces is the one asked for; each passed on as soon as it is
    known not to be the end's silence."""
    started, quiet = False, []
    for chunk in chunks:
        loud = np.flatnonzero(np.abs(chunk).max(axis=1) > SILENCE) if len(chunk) else chunk[:0, 0]
        if not started:
            if not len(loud):
                continue
            chunk, loud, started = chunk[loud[0]:], loud - loud[0], True
        if not len(loud):
            quiet.append(chunk)
            continue
        yield from quiet
        quiet = [chunk[loud[-1] + 1:]]
        yield chunk[:loud[-1] + 1]


def _release_memory() -> None:
    """Hand freed memory back to the system after each piece: the audio buffers are large, and
    without this glibc keeps the freed pages and a radio's RSS creeps up over hours."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


class Player:
    """One output stream written from its own thread with the queued pieces, back to back; `add`
    returns at once. Writes block at the device's pace, so the queue says how much is left to play."""

    CHUNK = 2048  # frames per write: small enough to stop within a second

    def __init__(self, rate: int = SAMPLE_RATE, channels: int = 2) -> None:
        try:
            import sounddevice as sd
        except OSError as e:
            raise NoAudioDevice(f"PortAudio is not installed ({e}); install it "
                                "(Debian: apt-get install libportaudio2)") from None
        self.rate = rate
        self._queue: deque[np.ndarray] = deque()
        self._left = 0  # frames queued and not yet written
        self._lock = threading.Condition()
        self._closing = False
        try:
            self.device = str(sd.query_devices(kind="output").get("name", "default"))
            self._stream = sd.OutputStream(samplerate=rate, channels=channels, dtype="int16")
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            raise NoAudioDevice(f"no audio output device ({e})") from None
        self._thread = threading.Thread(target=self._write, name="tunegen-radio-player", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if self._closing:
                    return
                buf = self._queue.popleft()
            for i in range(0, len(buf), self.CHUNK):
                if self._closing:
                    return
                chunk = buf[i:i + self.CHUNK]
                self._stream.write(chunk)
                with self._lock:
                    self._left -= len(chunk)
                    self._lock.notify_all()

    def add(self, audio: np.ndarray) -> None:
        with self._lock:
            self._queue.append(np.ascontiguousarray(audio, np.int16))
            self._left += len(audio)
            self._lock.notify_all()

    def seconds_left(self) -> float:
        with self._lock:
            return self._left / self.rate

    def close(self, drain: bool = False) -> None:
        """Stop: at once, or (`drain`) after what the device still buffers has played."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout=1.0)
        if drain:
            self._stream.stop()
        else:
            self._stream.abort()
        self._stream.close()


def _files(piece: Piece, folder: Path, number: int, with_audio: bool) -> list[Path]:
    # a manifest's name is untrusted: as a plain file-name part it cannot leave `folder`
    stem = f"{number:05d}-{safe_filename(piece.model.name)}-seed{piece.seed}"
    written = [piece.save(folder / f"{stem}{piece.kind.keep_suffix}")]
    if with_audio:
        written.append(piece.save(folder / f"{stem}.wav"))
    return written


def run(station: Station, report: Callable[[str], None] = print,
        stop: threading.Event | None = None) -> int:
    """Play (or, with `out_dir`, write) pieces until `max_pieces` or `stop`; returns how many.

    Files are written whole or not at all, so an interrupted radio leaves no partial file."""
    stop = stop or threading.Event()
    for folder in (station.keep, station.out_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(folder, ".[0-9][0-9][0-9][0-9][0-9]-*.tmp")  # a killed radio's half files
    player = None
    if station.out_dir is None:
        try:
            player = Player()
        except NoAudioDevice as e:
            raise TunegenError(f"{e}; to run radio without sound, write the pieces instead: "
                               "tunegen radio --out-dir DIR --max-pieces N") from None
        report(f"radio on {player.device}: Ctrl-C to stop")
    played, finished = 0, False
    pause = np.zeros((int(station.pause * SAMPLE_RATE), 2), np.int16)
    try:
        for number, model, temperature, seed in station.programme():
            if stop.is_set():
                break
            piece = model.generate(seed=seed, temperature=temperature)
            if station.out_dir is not None:
                _files(piece, station.out_dir, number, with_audio=True)
            if station.keep is not None:
                _files(piece, station.keep, number, with_audio=False)
            frames = 0
            if player is not None:
                while player.seconds_left() > LEAD_SECONDS and not stop.is_set():
                    stop.wait(0.05)
                if played:
                    player.add(pause)
                for chunk in trimmed(piece.audio_chunks()):  # sound as soon as its first chunk is made
                    player.add(chunk)
                    frames += len(chunk)
            else:
                frames = sum(len(chunk) for chunk in trimmed([piece.audio()]))
            played += 1
            del piece
            _release_memory()
            report(f"{number}: {model.name} seed {seed}, {frames / SAMPLE_RATE:.0f} s ({frames} frames)")
        if player is not None:
            while player.seconds_left() > 0 and not stop.is_set():
                stop.wait(0.05)
        finished = True
    finally:
        if player is not None:
            player.close(drain=finished)
    return played
