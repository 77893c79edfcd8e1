"""ABC text -> music21 score, with the checks that make a tune usable."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings

# redirect_stderr and catch_warnings act on the whole process: two parses at once in two threads
# would trade warnings (and verdicts), and hide other threads' messages
_PARSING = threading.Lock()


def parse_abc(text: str):
    """Parse one ABC tune with music21; returns (score, problem) where problem is None when usable.

    music21 tolerates much bad ABC: it warns and guesses a C for a token that is no note. Such a
    guess counts as a problem here, as does an exception or a tune without notes.
    """
    import music21

    err = io.StringIO()
    try:
        with _PARSING, contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            score = music21.converter.parse(text, format="abc")
    except Exception as e:  # music21 raises many types for bad ABC
        return None, f"music21 could not parse it ({type(e).__name__}: {e})"
    messages = err.getvalue() + "".join(str(w.message) for w in caught)
    if "Could not get pitch" in messages:
        return score, "music21 guessed a pitch for a token that is no note"
    if not len(score.flatten().notes):
        return score, "no notes"
    return score, None


class NotMusic(ValueError):
    """A file that holds no usable music; the message is the reason it is counted under."""


def _is_drums(part) -> bool:
    from music21 import instrument

    for inst in part.getElementsByClass(instrument.Instrument):
        if isinstance(inst, instrument.UnpitchedPercussion) or inst.midiChannel == 9:
            return True
    return False


def _articulated(n, length: int) -> int:
    """A written length as a player sounds it: staccato notes half as long, and a breath (an
    eighth note, or half of a shorter note) after a fermata, where a chorale's phrase ends."""
    from music21 import articulations, expressions

    from .events import GRID

    if any(isinstance(a, articulations.Staccatissimo) for a in n.articulations):
        return max(length // 4, 1)
    if any(isinstance(a, articulations.Staccato) for a in n.articulations):
        return max(length // 2, 1)
    if any(isinstance(e, expressions.Fermata) for e in n.expressions):
        return length - GRID // 2 if length > GRID else max(length // 2, 1)
    return length


def _key(score, notes) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") of a score, by `keys.piece_key` from its key
    signature, music21's key analysis and its final bass note."""
    from music21 import key

    from .keys import piece_key

    found = score.analyze("key")
    signature = next(iter(score.recurse().getElementsByClass(key.KeySignature)), None)
    last = max(n.start for n in notes)
    bass = min(n.pitch for n in notes if n.start == last) % 12
    mode = found.mode if found.mode in ("major", "minor") else "major"
    return piece_key((found.tonic.pitchClass, mode), None if signature is None else signature.sharps, bass)


def score_music(score):
    """A music21 score as one keyboard stream of events on the grid (`events.Music`).

    Every pitched part except drums is merged into one stream, as a pianist would play a reduction;
    tied notes are joined; staccato and fermatas are played (see `_articulated`); repeats are kept
    as written. Barlines and meters come from the first part
    with measures. Raises NotMusic when nothing usable is left.
    """
    from music21 import chord, meter, note, stream

    from .events import GRID, METERS, Music, Note, bar_ticks, keyboard

    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    parts = [p for p in parts if not _is_drums(p)]
    notes: list[Note] = []
    for part in parts:
        for n in part.stripTies().flatten().notes:
            if not isinstance(n, (note.Note, chord.Chord)) or n.quarterLength <= 0:
                continue  # unpitched and grace notes
            start = round(float(n.offset) * GRID)
            length = _articulated(n, round(float(n.quarterLength) * GRID))
            notes.extend(Note(start, p.midi, max(length, 1)) for p in n.pitches)
    notes = keyboard(notes)
    if not notes:
        raise NotMusic("no notes")
    first = next((p for p in parts if p.getElementsByClass("Measure")), None)
    meters: list[tuple[int, str]] = []
    barlines: list[int] = []
    if first is not None:
        for ts in first.recurse().getElementsByClass(meter.TimeSignature):
            name = ts.ratioString
            if name not in METERS:
                raise NotMusic(f"meter {name} is not one the vocabulary holds")
            tick = round(float(ts.getOffsetInHierarchy(first)) * GRID)
            if not meters or meters[-1][1] != name:
                meters.append((tick, name))
        measures = list(first.getElementsByClass("Measure"))
        for i, m in enumerate(measures):
            tick = round(float(m.offset) * GRID)
            if i == 0 and meters and round(float(m.duration.quarterLength) * GRID) < bar_ticks(meters[0][1]):
                continue  # a pickup: the first barline comes after it
            barlines.append(tick)
    if not meters or meters[0][0] != 0:
        meters.insert(0, (0, meters[0][1] if meters else "4/4"))
    end = max(n.end for n in notes)
    barlines = [b for b in barlines if b < end]
    tonic, mode = _key(score, notes)
    return Music(notes, meters, barlines, tonic, mode)


def read_music(path) -> object:
    """Read a MIDI file or any score music21 reads (MusicXML, kern, ABC) as `events.Music`.

    Raises NotMusic with the reason when the file cannot be parsed or holds no notes."""
    import music21

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = music21.converter.parse(str(path))
    except Exception as e:  # music21 raises many types for a corrupt file
        reason = str(e).split("\n")[0][:120]
        raise NotMusic(f"unreadable ({type(e).__name__}: {reason})") from None
    return score_music(score)
