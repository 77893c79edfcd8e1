"""music21's reading of a tune as played: repeats played out from its measures and repeat
brackets, ties joined. What tunegen rendered from before its own ABC player
(`tunegen.runtime.abcplay`), kept here as the reference a test holds that player to."""

from __future__ import annotations


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
