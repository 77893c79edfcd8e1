"""ABC character models: tunes written as ABC text, one character per token, each checked with
music21 before it is returned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..abc import HEADER_FIELDS, BarGuide, tune_problem
from ..errors import PrimerError, TunegenError
from .base import Kind, Plan


def parse_primer(primer: str, vocab) -> tuple[dict[str, str], str]:
    """Split a primer into header fields to fix and opening music to continue."""
    fixed: dict[str, str] = {}
    body = ""
    text = primer.replace("\\n", "\n").strip()
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


@dataclass
class AbcPlan(Plan):
    fixed: dict[str, str]
    body: str

    def guide(self) -> BarGuide:
        return BarGuide(self.fixed, self.body)


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

    def check(self, opts, model: str) -> None:
        super().check(opts, model)
        if Path(opts.primer).suffix.lower() in (".mid", ".midi"):
            raise TunegenError(f"a MIDI primer needs a MIDI event model; {model} continues ABC "
                               "text such as 'M:6/8 K:D'")

    def prepare(self, step, opts, bpm: float) -> AbcPlan:
        return AbcPlan(*parse_primer(opts.primer, step.manifest.vocab))

    def content(self, plan, draw) -> str:
        return "".join(draw.tokens).strip()

    def problem(self, piece) -> str | None:
        # the project's own reader, not music21's: a parse costs more than sampling the tune, and
        # a test holds the two together on thousands of tunes; music21 reads a tune only when a
        # score is asked for (rendering, MusicXML)
        if piece.ending == "stuck":
            return "sampling reached a dead end"
        return tune_problem(self.document(piece))

    def score(self, piece):
        from ..score import parse_abc

        score, problem = parse_abc(self.document(piece))
        if problem:
            raise TunegenError(f"music21 cannot read tune seed {piece.seed}: {problem}")
        return score

    def document(self, piece, number: int = 1) -> str:
        """A complete ABC tune with reference number and title."""
        title = f"tunegen {piece.model.name} seed {piece.seed}" + (f" #{piece.index + 1}" if piece.index else "")
        return f"X:{number}\nT:{title}\n{piece.content}\n"

    def describe(self, piece) -> str:
        return f"tune of {len(piece.tokens)} characters, seed {piece.seed}"

    def announce(self, piece, number: int, in_file: bool) -> str | None:
        return None if in_file else self.document(piece, number)

    def events(self, piece):
        from ..render import note_events

        return note_events(piece.score)

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
