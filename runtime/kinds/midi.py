"""MIDI event models: pieces as note events on a grid (`tunegen.runtime.events`), a length in bars
or seconds, a primer piece to continue, and a clean ending at a barline."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import PrimerError, TunegenError
from ..events import (
    GRID,
    METERS,
    MODES,
    REFERENCE,
    EventGuide,
    Music,
    decode,
    encode,
    event_vocabulary,
    in_reference_key,
    release_at,
    shift_to,
    transposed,
)
from ..keys import Key, key_fit, key_named, parse_key, piece_key, strongest_key
from ..limits import MAX_PRIMER_BYTES, MAX_PRIMER_NOTES, MAX_PRIMER_SCORE_BYTES
from ..midiscan import BadMidi, opening, pitch_summary, scan
from .base import Kind, Plan

MIN_NOTES = 8  # fewer is no piece; it is drawn again
PRIMER_BARS = 4
KEY_MARGIN = 0.02  # how clearly a piece must be in its key (see keys.key_fit): music21 reads MIDI a little apart
KEY_STREAM = 7  # the random stream a piece's key is drawn from, apart from its notes'
ENDINGS = {"end": "ended by the model", "bars": "closed at the bar limit",
           "seconds": "closed at the time limit", "length": "stopped at the length limit"}


def primer_music(path: str | Path, bars: int = PRIMER_BARS) -> tuple[Music, int]:
    """The opening `bars` bars of a MIDI or score file, to be continued (its key as music21 reads
    it), and the tick they end at."""
    from ..score import NotMusic, read_music

    path = Path(path).expanduser()
    if not path.is_file():
        raise PrimerError(f"primer file {path} not found; give a MIDI or score file to continue")
    size, most = path.stat().st_size, MAX_PRIMER_BYTES.get(path.suffix.lower(), MAX_PRIMER_SCORE_BYTES)
    if size > most:
        raise PrimerError(f"primer {path} is {size >> 10} KB, more than the {most >> 10} KB a primer file may "
                          f"be; only its opening {bars} bars are used, so give a file of those")
    try:
        if path.suffix.lower() in (".mid", ".midi"):
            music = _midi_opening(path, bars)
        else:
            music = read_music(path)
    except NotMusic as e:
        raise PrimerError(f"primer {path} cannot be used: {e}") from None
    meter = music.meters[0][1]
    if meter not in METERS:
        raise PrimerError(f"primer {path} is in {meter}, a meter the model does not know")
    cut = music.barlines[bars] if len(music.barlines) > bars else music.length
    opening = Music(release_at(music.notes, cut), [m for m in music.meters if m[0] < cut],
                    [b for b in music.barlines if b < cut], music.tonic, music.mode)
    if not opening.notes:
        raise PrimerError(f"primer {path} has no notes in its opening {bars} bars")
    return opening, cut


def _midi_opening(path: Path, bars: int) -> Music:
    """A MIDI primer's opening `bars` bars and one more (so that where they end is known), read by
    music21 from a file of those alone: a long piece is read no further than its opening."""
    import tempfile

    from ..score import read_music

    try:
        whole = path.read_bytes()
        data = opening(whole, bars + 1)
        notes = scan(data)[1]  # the opening's length is bounded by the cut; its notes are not
    except BadMidi as e:
        raise PrimerError(f"primer {path} is not a MIDI file tunegen can read ({e})") from None
    except OSError as e:
        raise PrimerError(f"primer {path} cannot be read ({e.strerror or e})") from None
    if notes > MAX_PRIMER_NOTES:
        raise PrimerError(f"primer {path} has {notes} notes in its opening {bars} bars, more than the "
                          f"{MAX_PRIMER_NOTES} a primer may; give a file whose opening a pianist could play")
    with tempfile.TemporaryDirectory(prefix="tunegen-primer-") as tmp:
        cut = Path(tmp) / "opening.mid"
        cut.write_bytes(data)
        music = read_music(cut)
    weights, bass, sharps = pitch_summary(whole)  # the key is the whole piece's, as it is heard
    if bass is None:
        return music
    tonic, mode = piece_key(strongest_key(weights), sharps, bass)
    return replace(music, tonic=tonic, mode=mode)


def primer_tokens(opening: Music, cut: int, modes: bool) -> list[str]:
    """A primer's event tokens (for a model that knows keys, moved to its reference key and
    opening with its mode), waiting to the primer's cut so the piece goes on where its bars end."""
    tokens = encode(in_reference_key(opening) if modes else replace(opening, mode=None))
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
    keys: list[Key] | None = None  # a model that knows keys: the one asked for, or those to draw from
    weights: list[float] | None = None
    seed: int = 0

    def key(self, index: int) -> Key | None:
        """The key of the piece of `index`: the one asked for, or one the seed draws from the
        corpus's keys, as often as the corpus has it."""
        if not self.keys:
            return None
        if len(self.keys) == 1:
            return self.keys[0]
        rng = np.random.default_rng([self.seed, index, KEY_STREAM])
        return self.keys[int(rng.choice(len(self.keys), p=self.weights))]

    def guide(self, index: int = 0) -> EventGuide:
        key = self.key(index)
        if key is None:
            return EventGuide(list(self.primer), self.min_bars, self.max_bars, self.max_ticks)
        return EventGuide(list(self.primer or [key.mode]), self.min_bars, self.max_bars, self.max_ticks,
                          tonic=REFERENCE[key.mode], mode=key.mode, key=key)


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
    options = ("bars", "seconds", "key")

    def vocabulary_problem(self, tokens) -> str | None:
        # models made before keys were known lack the mode tokens, and are played as they are
        events = set(event_vocabulary(modes=any(m in tokens for m in MODES)).tokens)
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
        modes = MODES[0] in step.manifest.vocab.tokens
        opening, cut = primer_music(opts.primer) if opts.primer else (None, 0)
        keys, weights = self._keys(step.manifest, opts, opening, modes)
        primer = primer_tokens(opening, cut, modes) if opening else []
        return MidiPlan(primer, min_bars, max_bars, max_ticks, keys, weights, opts.seed)

    def _keys(self, manifest, opts, opening: Music | None, modes: bool):
        """The key asked for (or the primer's), or the corpus's keys with their weights."""
        if not modes:
            if opts.key is not None:
                raise TunegenError(f"key has no meaning for {manifest.name}: it was made before MIDI event "
                                   "models knew keys, and plays in whatever key it wanders into")
            return None, None
        if opts.key is not None:
            key = parse_key(opts.key)
            if key is None or key.mode not in MODES:
                raise TunegenError(f"key {opts.key!r} is not a major or minor key, the keys a piano piece is in: "
                                   "give a tonic A-G (with # or b), and m or minor for minor: D, Bb, F#m, "
                                   "G minor")
            if opening is not None and opening.mode != key.mode:
                raise PrimerError(f"--key {opts.key} contradicts the primer, which is in a {opening.mode} key; "
                                  "give one of them")
            return [key], None
        if opening is not None:
            return [key_named(opening.tonic, opening.mode)], None
        corpus = manifest.music.get("keys", {}).get("corpus") or {"C major": 1, "A minor": 1}
        keys = [parse_key(k) for k in corpus]
        total = sum(corpus.values())
        return keys, [n / total for n in corpus.values()]

    def primer_notes(self, plan) -> int:
        return len(decode(plan.primer).notes)

    def ending(self, draw) -> str:
        if draw.ending == "end" and draw.guide.closing:
            return draw.guide.closing  # the limit, and then the closing chord
        return "length" if draw.ending == "stuck" else draw.ending

    def content(self, plan, draw) -> Music:
        music, guide = decode(draw.tokens), draw.guide
        if draw.ending == "end" and guide.closing:  # every note but the closing chord's released at its barline
            cut = guide.closing_at
            music = replace(music, notes=release_at(music.notes, cut) + [n for n in music.notes if n.start == cut])
        elif draw.ending != "end":  # stopped by a limit: every note released at the last barline
            cut = guide.now if draw.ending in ("bars", "seconds") else max(guide.barlines, default=guide.now)
            music = replace(music, notes=release_at(music.notes, cut), barlines=[b for b in music.barlines if b < cut])
        key = guide.key
        if key is not None:  # written in C major or A minor: played in its own key
            music = transposed(music, shift_to(REFERENCE[key.mode], key.pc))
        return music

    def problem(self, piece) -> str | None:
        return f"fewer than {MIN_NOTES} notes" if len(piece.content.notes) < MIN_NOTES else None

    def rank(self, piece) -> tuple[bool, float]:
        """A piece is all it should be when a listener hears the key it is in (not its relative or
        its dominant); among those, the model's likeliest first."""
        music = piece.content
        if not music.mode:
            return True, piece.mean_logprob
        pcs = np.array([n.pitch % 12 for n in music.notes], np.intp)
        weights = np.bincount(pcs, [n.length for n in music.notes], 12)
        return key_fit(weights, music.tonic, music.mode) >= KEY_MARGIN, piece.mean_logprob

    def describe(self, piece) -> str:
        m = piece.content
        key = f" in {key_named(m.tonic, m.mode).name}" if m.mode else ""
        return (f"{len(m.barlines)} bars of {m.meters[0][1]}{key}, {len(m.notes)} notes, "
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
