"""ABC character models: tunes written as ABC text, one character per token, each checked with
music21 before it is returned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..abc import FIELD_VALUES, HEADER_FIELDS, field_ok, normal_key, tune_problem
from ..errors import PrimerError, TunegenError
from ..form import FormGuide
from ..keys import parse_key
from ..limits import MAX_PRIMER_CHARS
from ..paths import header_text
from .base import Kind, Plan


def parse_primer(primer: str, vocab) -> tuple[dict[str, str], str]:
    """Split a primer into header fields to fix and opening music to continue. A field's value
    must be one the model writes (`K:ppp` or `M:-3/4` would be copied into the tune unchecked)."""
    if len(primer) > MAX_PRIMER_CHARS:
        raise PrimerError(f"primer is {len(primer)} characters, more than the {MAX_PRIMER_CHARS} a primer "
                          "may have; give the opening bars of a tune, not a whole tunebook")
    fixed: dict[str, str] = {}
    body = ""
    text = primer.replace("\\n", "\n").strip()
    control = sorted({c for c in text if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127})
    if control:
        raise PrimerError(f"primer has control characters: {' '.join(repr(c) for c in control)}; remove them")
    fields_done = False
    for line in text.split("\n"):
        line = line.strip()
        found = list(re.finditer(r"([A-Za-z]):\s*(\S+)", line)) if not fields_done else []
        if found and re.fullmatch(r"(\s*[A-Za-z]:\s*\S+)+\s*", line):
            for m in found:
                name, value = m.group(1), m.group(2)
                if name not in HEADER_FIELDS:
                    raise PrimerError(f"primer field {name}: is not one the model uses "
                                      f"({', '.join(HEADER_FIELDS)}); drop it")
                if name == "K":
                    value = normal_key(value)
                if not _value_ok(name, value):
                    raise PrimerError(f"primer field {name}:{value} is not a value the model writes "
                                      f"({_EXAMPLES[name]})")
                fixed[name] = value
            continue
        fields_done = True
        body += line + "\n"
    body = body.strip()
    body = body + " " if body and not body.endswith("|") else body
    bad = vocab.unknown("".join(fixed.values()) + body)
    if bad:
        raise PrimerError(f"primer has characters the model never saw: {' '.join(repr(c) for c in bad)}; "
                          "remove or replace them")
    return fixed, body


_CONTROL_NAMES = {"K": "key", "M": "meter", "R": "rhythm"}


def controls(opts, manifest) -> dict[str, str]:
    """The header fields `--key`, `--meter` and `--rhythm` fix, each checked: a key and mode ABC
    writes, a meter, a rhythm the corpus names; each one a model's vocabulary can write."""
    fixed: dict[str, str] = {}
    if opts.key is not None:
        key = parse_key(opts.key)
        if key is None or key.abc not in FIELD_VALUES["K"]:
            raise TunegenError(f"key {opts.key!r} is not one ABC writes: give a tonic A-G (with # or b) and a "
                               "mode: G, Em, Dmix, Ador, Bb, F#m, E phrygian, D lydian, B locrian")
        fixed["K"] = key.abc
    if opts.meter is not None:
        meter = opts.meter.replace(" ", "")
        if meter not in FIELD_VALUES["M"]:
            raise TunegenError(f"meter {opts.meter!r} is not one tunegen writes: give N/D with D 1, 2, 4, 8 or "
                               "16 (6/8, 3/4, 9/8), or C and C| for 4/4 and 2/2")
        fixed["M"] = meter
    if opts.rhythm is not None:
        rhythm = " ".join(opts.rhythm.lower().split())
        known = manifest.music.get("rhythms") or []
        if known and rhythm not in known:
            raise TunegenError(f"rhythm {opts.rhythm!r} is not one the model's corpus has: one of {', '.join(known)}")
        if not _value_ok("R", rhythm.replace(" ", "")):
            raise TunegenError(f"rhythm {opts.rhythm!r} must be a word in letters, such as reel or slip jig")
        fixed["R"] = rhythm
    bad = manifest.vocab.unknown("".join(fixed.values()).replace(" ", ""))
    if bad:
        raise TunegenError(f"the model cannot write {' '.join(repr(c) for c in bad)}, so it cannot write "
                           f"{', '.join(f'{k}:{v}' for k, v in fixed.items())}; choose another")
    return fixed


MIN_TUNE_LENGTH = 48  # characters: a header (about 14) and two short bars
FORCED_CHARS = ("M", "L", "K", ":", "\n", "|")  # the header and barlines are written with these
_EXAMPLES = {"R": "a rhythm in letters, e.g. R:reel", "M": "a meter up to 16/16, e.g. M:6/8 or M:C",
             "L": "a unit from 1/1 to 1/32, e.g. L:1/8", "K": "a key such as K:G, K:Em or K:Dmix"}


def _value_ok(name: str, value: str) -> bool:
    if name == "R":  # free text the model writes in letters
        return value.isalpha() and value.isascii() and len(value) <= 16
    return field_ok(name, value)


@dataclass
class AbcPlan(Plan):
    fixed: dict[str, str]
    body: str
    parts: int | None = None
    bars: int | None = None
    forms: dict | None = None

    def guide(self, index: int = 0) -> FormGuide:
        return FormGuide(self.fixed, self.body, self.parts, self.bars, self.forms)


class AbcKind(Kind):
    name = "abc-char"
    short = "abc"
    noun, plural = "tune", "tunes"
    loss_unit, loss_scale = "bits/char", 1.0
    sampling = {"temperature": 0.8, "top_k": 0, "top_p": 0.95, "max_length": 2000}
    render = {"program": 73, "bpm": 160}  # flute
    suffixes = (".abc", ".mid", ".midi", ".wav", ".svg", ".musicxml")
    keep_suffix = ".abc"
    collection_suffix = ".abc"
    options = ("key", "meter", "rhythm", "parts", "bars_per_part")

    def vocabulary_problem(self, tokens) -> str | None:
        if any(len(t) != 1 for t in tokens[3:]):
            return "its symbols must be single characters"
        missing = [c for c in FORCED_CHARS if c not in tokens]
        return f"it lacks {' '.join(repr(c) for c in missing)}, which every tune needs" if missing else None

    def check(self, opts, model: str) -> None:
        super().check(opts, model)
        if Path(opts.primer).suffix.lower() in (".mid", ".midi"):
            raise TunegenError(f"a MIDI primer needs a MIDI event model; {model} continues ABC "
                               "text such as 'M:6/8 K:D'")

    def prepare(self, step, opts, bpm: float) -> AbcPlan:
        if opts.max_length < MIN_TUNE_LENGTH:
            raise TunegenError(f"max length {opts.max_length} is too short for a tune: the header and "
                               f"two bars need at least {MIN_TUNE_LENGTH} characters")
        fixed, body = parse_primer(opts.primer, step.manifest.vocab)
        for name, value in controls(opts, step.manifest).items():
            if name in fixed and fixed[name] != value:
                raise PrimerError(f"--{_CONTROL_NAMES[name]} {value} contradicts the primer's {name}:{fixed[name]}; "
                                  "give one of them")
            fixed[name] = value
        return AbcPlan(fixed, body, opts.parts, opts.bars_per_part, step.manifest.music.get("forms"))

    def content(self, plan, draw) -> str:
        text = "".join(draw.tokens).strip()
        if draw.ending == "length":  # cut off mid-bar by max length: keep the whole bars only
            key = re.search(r"^K:[^\n]*(\n|$)", text, re.M)
            body = key.end() if key else len(text)
            text = text[:text.rfind("|", body) + 1 or body].strip()
        return text

    def problem(self, piece) -> str | None:
        # the project's own reader, not music21's: a parse costs more than sampling the tune, and
        # a test holds the two together on thousands of tunes; music21 reads a tune only when a
        # score is asked for (rendering, MusicXML)
        if piece.ending == "stuck":
            return "sampling reached a dead end"
        if piece.ending == "length" and len(re.findall(r"\|+", piece.content.split("\nK:", 1)[-1])) < 2:
            return "max length ends it before two bars are complete"
        return tune_problem(self.document(piece))

    def score(self, piece):
        from ..score import parse_abc

        score, problem = parse_abc(self.document(piece))
        if problem:
            raise TunegenError(f"music21 cannot read tune seed {piece.seed}: {problem}")
        return score

    def document(self, piece, number: int = 1) -> str:
        """A complete ABC tune with reference number and title."""
        title = f"tunegen {header_text(piece.model.name)} seed {piece.seed}" + (f" #{piece.index + 1}" if piece.index else "")
        return f"X:{number}\nT:{title}\n{piece.content}\n"

    def describe(self, piece) -> str:
        return f"tune of {len(piece.tokens)} characters, seed {piece.seed}"

    def announce(self, piece, number: int, in_file: bool) -> str | None:
        return None if in_file else self.document(piece, number)

    def events(self, piece):
        from ..abcplay import abc_events  # the project's own reader: no music21 to hear a tune

        return abc_events(self.document(piece))

    def data(self, piece, suffix: str) -> bytes | None:
        if suffix == ".abc":
            return self.document(piece).encode()
        if suffix == ".svg":
            from ..sheet import abc_svg

            return abc_svg(self.document(piece))
        if suffix == ".musicxml":
            from ..sheet import musicxml

            return musicxml(piece.score)
        return None

    def collection(self, pieces) -> bytes:
        return "\n".join(self.document(p, i + 1) for i, p in enumerate(pieces)).encode()


KIND = AbcKind()
