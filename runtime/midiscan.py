"""A quick look at a MIDI file's structure before music21 reads it: how long it lasts and how many
notes it holds, and its opening bars as a file of their own. music21 reads a file whole and fills
every gap with rests, so a 1 KB file whose delta times say "wait a year" would keep it busy for
hours, and a long piece takes seconds: a primer is cut to its opening first."""

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
    per_quarter = _division(data)
    if per_quarter <= 0:
        raise BadMidi("a time division of zero")
    longest = notes = 0
    try:
        for i, end in _tracks(data):
            for t, status, body in _events(data, i, end):
                longest = max(longest, t)
                if status & 0xF0 == 0x90 and body[1] > 0:
                    notes += 1
    except IndexError:
        raise BadMidi("it ends in the middle of an event") from None
    return longest / per_quarter, notes


def _division(data: bytes) -> float:
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:  # SMPTE time: frames per second x ticks per frame, taken at 120 bpm
        return (256 - (division >> 8)) * (division & 0xFF) / 2
    return division


def _events(data: bytes, i: int, end: int):
    """(time, status, the event's bytes after its status) of one track's events, in order;
    running status is resolved."""
    t, status = 0, 0
    while i < end:
        delta, i = _varlen(data, i)
        t += delta
        if data[i] & 0x80:
            status, i = data[i], i + 1
        elif not status:
            raise BadMidi("data without a status byte")
        start = i
        if status == 0xFF:
            length, i = _varlen(data, i + 1)
            i += length
        elif status in (0xF0, 0xF7):
            length, i = _varlen(data, i)
            i += length
        else:
            i += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        yield t, status, data[start:i]


MAX_TRACKS = 256  # a MIDI file's tracks: an orchestral score has a few dozen


def _tracks(data: bytes):
    """(index after the chunk header, index after the chunk) of every MTrk chunk; BadMidi past
    MAX_TRACKS (thousands of empty tracks would keep music21 busy for minutes)."""
    pos, count = 8 + int.from_bytes(data[4:8], "big"), 0
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "big")
        if kind == b"MTrk":
            count += 1
            if count > MAX_TRACKS:
                raise BadMidi(f"more than {MAX_TRACKS} tracks")
            yield pos + 8, min(pos + 8 + size, len(data))
        pos += 8 + size


def varlen_bytes(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


MAX_BAR_QUARTERS = 16  # a bar of the longest meter one could write (16/4); longer ones are cut there


def opening(data: bytes, bars: int) -> bytes:
    """The first `bars` bars of a standard MIDI file (by its time signatures, 4/4 until one
    says otherwise) as a MIDI file of their own: every event before the cut, a note still
    sounding there released at it. A long file is read only as far as its opening, so a primer
    of thousands of notes costs no more than one of a few bars. BadMidi when damaged."""
    if data[:4] != b"MThd" or len(data) < 14:
        raise BadMidi("no MThd header")
    per_quarter = _division(data)
    if per_quarter <= 0:
        raise BadMidi("a time division of zero")
    try:
        # the time signatures that fall in the opening (they are meta events, most often in the first track)
        signatures: dict[int, tuple[int, int]] = {}
        horizon = (bars + 1) * MAX_BAR_QUARTERS * per_quarter
        for i, end in _tracks(data):
            for t, status, body in _events(data, i, end):
                if t > horizon:
                    break
                if status == 0xFF and body[0] == 0x58 and len(body) >= 4 and body[2] and body[3] < 8:
                    signatures.setdefault(t, (body[2], 1 << body[3]))
        t = 0.0
        for _ in range(bars):
            bar = next((signatures[s] for s in sorted(signatures, reverse=True) if s <= t), (4, 4))
            t += min(bar[0] * 4 / bar[1], MAX_BAR_QUARTERS) * per_quarter
        cut = int(t)
        tracks = []
        for i, end in _tracks(data):
            out, last, sounding = bytearray(), 0, set()
            for t, status, body in _events(data, i, end):
                if t >= cut:
                    break
                if status == 0xFF and body[0] == 0x2F:
                    continue  # the end of the track is written at the cut
                high, channel = status & 0xF0, status & 0x0F
                if high == 0x90 and body[1]:
                    sounding.add((channel, body[0]))
                elif high == 0x80 or high == 0x90:
                    sounding.discard((channel, body[0]))
                out += varlen_bytes(t - last) + bytes([status]) + body
                last = t
            for channel, pitch in sorted(sounding):
                out += varlen_bytes(cut - last) + bytes([0x80 | channel, pitch, 0])
                last = cut
            out += varlen_bytes(max(cut - last, 0)) + b"\xff\x2f\x00"
            tracks.append(b"MTrk" + len(out).to_bytes(4, "big") + bytes(out))
    except IndexError:
        raise BadMidi("it ends in the middle of an event") from None
    header = b"MThd" + (6).to_bytes(4, "big") + data[8:10] + len(tracks).to_bytes(2, "big") + data[12:14]
    return header + b"".join(tracks)


def pitch_summary(data: bytes) -> tuple[list[float], int | None, int | None]:
    """Of a whole MIDI file (drums left out): how long each pitch class sounds, in quarter notes;
    the pitch class of the lowest note struck last; and its first key signature's sharps (flats
    below 0), or None. BadMidi when damaged."""
    per_quarter = _division(data) or 1
    weights = [0.0] * 12
    last_onset, bass, sharps = -1, None, None
    try:
        for i, end in _tracks(data):
            sounding: dict[tuple[int, int], int] = {}
            for t, status, body in _events(data, i, end):
                high, channel = status & 0xF0, status & 0x0F
                if status == 0xFF and body[0] == 0x59 and len(body) >= 4 and sharps is None:
                    sharps = body[2] - 256 if body[2] > 127 else body[2]
                if channel == 9 or high not in (0x80, 0x90):
                    continue
                key = (channel, body[0])
                if key in sounding:  # a note ends where its key is released or struck again
                    weights[body[0] % 12] += (t - sounding.pop(key)) / per_quarter
                if high == 0x90 and body[1]:
                    sounding[key] = t
                    if t > last_onset or bass is None:
                        last_onset, bass = t, body[0]
                    elif t == last_onset:
                        bass = min(bass, body[0])
    except IndexError:
        raise BadMidi("it ends in the middle of an event") from None
    return weights, None if bass is None else bass % 12, sharps
