"""Sheet music: engraved SVG (ABC through abcm2ps, MIDI event pieces through MusicXML and Verovio)
and MusicXML for MuseScore users."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

from .errors import TunegenError


class SheetError(TunegenError):
    """Sheet music cannot be made (a missing engraver, or one that failed)."""


def abc_svg(abc: str) -> bytes:
    """An ABC tune engraved as SVG by abcm2ps."""
    exe = shutil.which("abcm2ps")
    if exe is None:
        raise SheetError("abcm2ps is not installed, so no SVG can be engraved; install it "
                         "(Debian: apt-get install abcm2ps)")
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "tune.abc"
        src.write_text(abc)
        res = subprocess.run([exe, "-q", "-g", "-O", str(Path(d) / "tune.svg"), str(src)],
                             capture_output=True, text=True, timeout=60)
        pages = sorted(Path(d).glob("tune*.svg"))
        if res.returncode or not pages:
            raise SheetError(f"abcm2ps could not engrave the tune: {(res.stderr or res.stdout).strip()[-200:]}")
        return pages[0].read_bytes()


def _speller(music):
    """(music21 key signature or None, MIDI pitch -> music21 pitch spelled in the piece's key): a
    key's own notes as its scale writes them, the others with sharps in sharp keys, flats in flat."""
    from music21 import key, pitch

    if not music.mode:
        return None, lambda midi: pitch.Pitch(midi=midi)
    from .keys import key_named

    k = key.Key(key_named(music.tonic, music.mode).tonic.replace("b", "-"), music.mode)
    names = {p.pitchClass: p.name for p in k.getPitches()}
    for pc in range(12):
        if pc not in names:
            p = pitch.Pitch(pc)
            names[pc] = p.name if (k.sharps >= 0) == ("#" in p.name) else p.getEnharmonic().name

    def spell(midi: int):
        p = pitch.Pitch(names[midi % 12])
        p.octave = 4
        p.octave += (midi - p.midi) // 12
        return p

    return k, spell


def music_score(music, bpm: float | None = None):
    """A two-staff piano score (music21) of an `events.Music` piece: notes from middle C up on the
    upper staff, the rest on the lower; each staff's notes sounding together become chords. A piece
    in a key carries its key signature, its notes spelled in that key."""
    from music21 import clef, meter, note, stream, tempo

    from .events import GRID

    signature, spell = _speller(music)
    score = stream.Score()
    for name, keep, staff_clef in (("right hand", lambda p: p >= 60, clef.TrebleClef()),
                                   ("left hand", lambda p: p < 60, clef.BassClef())):
        part = stream.Part()
        part.partName = name
        part.insert(0, staff_clef)
        part.insert(0, meter.TimeSignature(music.meters[0][1]))
        if bpm and name == "right hand":
            part.insert(0, tempo.MetronomeMark(number=round(bpm)))
        for n in music.notes:
            if keep(n.pitch):
                part.insert(Fraction(n.start, GRID), note.Note(spell(n.pitch), quarterLength=Fraction(n.length, GRID)))
        if not part.notes:
            part.insert(0, note.Rest(quarterLength=Fraction(music.length or GRID, GRID)))
        staff = part.chordify() if part.notes else part
        if signature is not None:
            staff.insert(0, signature.__class__(signature.tonic, signature.mode))
        score.insert(0, staff)
    return score


def musicxml(score) -> bytes:
    """A music21 score as MusicXML bytes."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(score).parse()


def musicxml_svg(data: bytes) -> bytes:
    """MusicXML engraved as SVG by Verovio (the first page)."""
    try:
        import verovio
    except ImportError:
        raise SheetError("engraving a MIDI piece needs Verovio: pip install verovio "
                         "(or tunegen[sheet]); or save it as .musicxml and open it in MuseScore") from None
    from importlib import resources

    # Verovio keeps its resource path per thread, set only in the thread that imported it
    verovio.setDefaultResourcePath(str(resources.files("verovio") / "data"))
    tk = verovio.toolkit()
    tk.setOptions({"adjustPageHeight": True, "footer": "none", "header": "none"})
    if not tk.loadData(data.decode()):
        raise SheetError("Verovio could not read the piece's MusicXML")
    return tk.renderToSVG(1).encode()
