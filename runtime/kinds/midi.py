"""MIDI event models: pieces as note events on a grid (`tunegen.runtime.events`), a length in bars
or seconds, a primer piece to continue, and a clean ending at a barline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import PrimerError, TunegenError
from ..events import GRID, METERS, EventGuide, Music, decode, encode, event_vocabulary, release_at
from ..limits import MAX_PRIMER_BYTES, MAX_PRIMER_NOTES, MAX_PRIMER_QUARTERS, MAX_PRIMER_SCORE_BYTES
from ..midiscan import BadMidi, scan
from .base import Kind, Plan

MIN_NOTES = 8  # fewer is no piece; it is drawn again
PRIMER_BARS = 4
ENDINGS = {"end": "ended by the model", "bars": "stopped at the bar limit",
           "seconds": "stopped at the time limit", "length": "stopped at the length limit"}


def primer_tokens(path: str | Path, bars: int = PRIMER_BARS) -> list[str]:
    """The opening `bars` bars of a MIDI or score file as event tokens, to be continued."""
    from ..score import NotMusic, read_music

    path = Path(path).expanduser()
    if not path.is_file():
        raise PrimerError(f"primer file {path} not found; give a MIDI or score file to continue")
    size, most = path.stat().st_size, MAX_PRIMER_BYTES.get(path.suffix.lower(), MAX_PRIMER_SCORE_BYTES)
    if size > most:
        raise PrimerError(f"primer {path} is {size >> 10} KB, more than the {most >> 10} KB a primer file may "
                          f"be; only its opening {bars} bars are used, so give a file of those")
    if path.suffix.lower() in (".mid", ".midi"):
        try:
            quarters, notes = scan(path.read_bytes())
        except BadMidi as e:
            raise PrimerError(f"primer {path} is not a MIDI file tunegen can read ({e})") from None
        except OSError as e:
            raise PrimerError(f"primer {path} cannot be read ({e.strerror or e})") from None
        if quarters > MAX_PRIMER_QUARTERS or notes > MAX_PRIMER_NOTES:
            raise PrimerError(f"primer {path} lasts {quarters:.0f} quarter notes with {notes} notes, more than "
                              f"a primer may ({MAX_PRIMER_QUARTERS} quarters, {MAX_PRIMER_NOTES} notes); only "
                              f"its opening {bars} bars are used, so give a file of those")
    try:
        music = read_music(path)
    except NotMusic as e:
        raise PrimerError(f"primer {path} cannot be used: {e}") from None
    meter = music.meters[0][1]
    if meter not in METERS:
        raise PrimerError(f"primer {path} is in {meter}, a meter the model does not know")
    cut = music.barlines[bars] if len(music.barlines) > bars else music.length
    opening = Music(release_at(music.notes, cut), [m for m in music.meters if m[0] < cut],
                    [b for b in music.barlines if b < cut])
    tokens = encode(opening)
    if not opening.notes:
        raise PrimerError(f"primer {path} has no notes in its opening {bars} bars")
    # wait to the cut, so the piece goes on where the primer's bars end
    end_of_tokens = max(max(n.start for n in opening.notes), max(opening.barlines, default=0))
    gap = cut - end_of_tokens
    while gap > 0:
        step = min(gap, 96)
        tokens.append(f"w{step}")
        gap -= step
    return tokens


@dataclass
class MidiPlan(Plan):
    primer: list[str]
    min_bars: int
    max_bars: int | None
    max_ticks: int | None

    def guide(self) -> EventGuide:
        return EventGuide(list(self.primer), self.min_bars, self.max_bars, self.max_ticks)


class MidiKind(Kind):
    name = "midi-event"
    short = "midi"
    noun, plural = "piece", "pieces"
    loss_unit, loss_scale = "nats/token", math.log(2)
    # `bars` is the length limit when none is asked for; `min_bars` the shortest piece
    sampling = {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "max_length": 8000, "bars": 24,
                "min_bars": 8}
    render = {"program": 0, "bpm": 100}  # acoustic grand piano
    suffixes = (".mid", ".midi", ".wav", ".svg", ".musicxml")
    keep_suffix = ".mid"
    options = ("bars", "seconds")

    def vocabulary_problem(self, tokens) -> str | None:
        events = set(event_vocabulary().tokens)
        unknown = [t for t in tokens if t not in events]
        if unknown:
            return f"tokens that are not events ({', '.join(map(repr, unknown[:5]))})"
        missing = len(events) - len(set(tokens))
        return f"{missing} event tokens are missing" if missing else None

    def check(self, opts, model: str) -> None:
        super().check(opts, model)
        if opts.primer and not Path(opts.primer).expanduser().exists():
            raise TunegenError(f"primer file {opts.primer} not found; a MIDI event model continues a "
                               "MIDI or score file")

    def prepare(self, step, opts, bpm: float) -> MidiPlan:
        defaults = {**self.sampling, **step.manifest.sampling}
        max_bars = opts.bars if opts.bars else (None if opts.seconds else defaults["bars"])
        # a length in seconds is its own floor
        min_bars = 0 if opts.seconds else min(defaults["min_bars"], max_bars or 10**6)
        max_ticks = round(opts.seconds * bpm / 60 * GRID) if opts.seconds else None
        primer = primer_tokens(opts.primer) if opts.primer else []
        if len(primer) >= opts.max_length:
            raise PrimerError(f"the primer's opening is {len(primer)} tokens, as long as max length "
                              f"{opts.max_length} or longer, so nothing would be added; raise --max-length")
        return MidiPlan(primer, min_bars, max_bars, max_ticks)

    def primer_notes(self, plan) -> int:
        return len(decode(plan.primer).notes)

    def ending(self, draw) -> str:
        return "length" if draw.ending == "stuck" else draw.ending

    def content(self, plan, draw) -> Music:
        music, guide = decode(draw.tokens), draw.guide
        if draw.ending != "end":  # stopped by a limit: every note released at the last barline
            cut = guide.now if draw.ending in ("bars", "seconds") else max(guide.barlines, default=guide.now)
            music = Music(release_at(music.notes, cut), music.meters, [b for b in music.barlines if b < cut])
        return music

    def problem(self, piece) -> str | None:
        return f"fewer than {MIN_NOTES} notes" if len(piece.content.notes) < MIN_NOTES else None

    def describe(self, piece) -> str:
        m = piece.content
        return (f"{len(m.barlines)} bars of {m.meters[0][1]}, {len(m.notes)} notes, "
                f"{piece.seconds:.0f} s, {ENDINGS[piece.ending]}, seed {piece.seed}")

    def events(self, piece):
        from ..render import music_events

        return music_events(piece.content)

    def music(self, piece) -> Music:
        return piece.content

    def meter(self, piece) -> str | None:
        return piece.content.meters[0][1]

    def score(self, piece):
        from ..sheet import music_score

        return music_score(piece.content, piece.model.bpm)

    def data(self, piece, suffix: str) -> bytes | None:
        if suffix in (".svg", ".musicxml"):
            from ..sheet import musicxml, musicxml_svg

            data = musicxml(piece.score)
            return musicxml_svg(data) if suffix == ".svg" else data
        return None


KIND = MidiKind()
