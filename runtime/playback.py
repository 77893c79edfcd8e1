"""Playing audio through PortAudio (sounddevice)."""

from __future__ import annotations

import numpy as np

from .errors import AudioError


class NoAudioDevice(AudioError):
    """There is no audio output device to play through."""


def play(audio: np.ndarray, rate: int) -> str:
    """Play [frames, channels] int16 samples on the default output device and wait for the end.

    Returns the device's name; raises NoAudioDevice when there is none.
    """
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library itself is missing
        raise NoAudioDevice(f"PortAudio is not installed ({e}); "
                            "install it (Debian: apt-get install libportaudio2)") from None
    try:
        device = sd.query_devices(kind="output")
        sd.play(audio, rate, blocking=True)
    except (sd.PortAudioError, ValueError) as e:
        raise NoAudioDevice(f"no audio output device ({e})") from None
    return str(device.get("name", "default"))
