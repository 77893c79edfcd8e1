"""A quick look at a MIDI file's structure before music21 reads it: how long it lasts and how many
notes it holds. music21 reads a file whole and fills every gap with rests, so a 1 KB file whose
delta times say "wait a year" would keep it busy for hours; this scan refuses such a file first."""

from __future__ import annotations


class BadMidi(ValueError):
    """The bytes are not a MIDI file this scan can follow."""


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    for k in range(4):  # a variable-length quantity has at most four bytes
        b = data[i + k]
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, i + k + 1
    raise BadMidi("a variable-length number longer than four bytes")


def scan(data: bytes) -> tuple[float, int]:
    """(length in quarter notes, note-ons) of a standard MIDI file; BadMidi when damaged."""
    if data[:4] != b"MThd" or len(data) < 14:
        raise BadMidi("no MThd header")
    header = int.from_bytes(data[4:8], "big")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:  # SMPTE time: frames per second x ticks per frame, taken at 120 bpm
        per_quarter = (256 - (division >> 8)) * (division & 0xFF) / 2
    else:
        per_quarter = division
    if per_quarter <= 0:
        raise BadMidi("a time division of zero")
    longest = notes = 0
    pos = 8 + header
    try:
        while pos + 8 <= len(data):
            kind, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "big")
            i, end = pos + 8, min(pos + 8 + size, len(data))
            pos += 8 + size
            if kind != b"MTrk":
                continue
            t, status = 0, 0
            while i < end:
                delta, i = _varlen(data, i)
                t += delta
                if data[i] & 0x80:
                    status, i = data[i], i + 1
                elif not status:
                    raise BadMidi("data without a status byte")
                if status == 0xFF:
                    length, i = _varlen(data, i + 1)
                    i += length
                elif status in (0xF0, 0xF7):
                    length, i = _varlen(data, i)
                    i += length
                else:
                    high = status & 0xF0
                    if high == 0x90 and data[i + 1] > 0:
                        notes += 1
                    i += 1 if high in (0xC0, 0xD0) else 2
            longest = max(longest, t)
    except IndexError:
        raise BadMidi("it ends in the middle of an event") from None
    return longest / per_quarter, notes
