"""Playing audio through PortAudio (sounddevice)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .errors import AudioError


class NoAudioDevice(AudioError):
    """There is no audio output device to play through."""


def play_chunks(chunks: Iterable[np.ndarray], rate: int) -> str:
    """Play [frames, 2] int16 chunks on the default output device as they come (the device plays
    one while the next is made) and wait for the end. Returns the device's name; raises
    NoAudioDevice when there is none."""
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library itself is missing
        raise NoAudioDevice(f"PortAudio is not installed ({e}); "
                            "install it (Debian: apt-get install libportaudio2)") from None
    try:
        device = sd.query_devices(kind="output")
        stream = sd.OutputStream(samplerate=rate, channels=2, dtype="int16")
    except (sd.PortAudioError, ValueError) as e:
        raise NoAudioDevice(f"no audio output device ({e})") from None
    with stream:
        for chunk in chunks:
            stream.write(np.ascontiguousarray(chunk, np.int16))
    return str(device.get("name", "default"))


def play(audio: np.ndarray, rate: int) -> str:
    """Play [frames, 2] int16 samples on the default output device and wait for the end.

    Returns the device's name; raises NoAudioDevice when there is none.
    """
    return play_chunks([audio], rate)
