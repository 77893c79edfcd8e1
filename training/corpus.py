"""ABC corpus ingestion: read files, folders or music21's bundled collections, split at `X:`,
normalise each tune, drop duplicates and split train/validation by tune.

A normalised tune is its header (`R:` if known, then `M:`, `L:`, `K:`) and its music: titles,
comments, lyrics, annotations, chord symbols, decorations, grace notes and slurs are dropped, so the
model spends its capacity on notes and bars.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tunegen.runtime.abc import (
    BARLINES,
    AbcSyntaxError,
    bar_stats,
    bar_units,
    default_unit,
    parse_fraction,
    split_bars,
    split_header,
)
from tunegen.runtime.errors import CorpusError

ABC_SUFFIXES = (".abc",)
MIN_FULL_BARS = 0.75  # tunes whose own bars mostly disagree with their meter teach bad habits

_FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
_KEY = re.compile(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)")
_MODES = {"": "", "maj": "", "major": "", "ion": "", "ionian": "", "m": "m", "min": "m",
          "minor": "m", "aeo": "m", "aeolian": "m", "mix": "Mix", "mixolydian": "Mix",
          "dor": "Dor", "dorian": "Dor", "phr": "Phr", "phrygian": "Phr", "lyd": "Lyd",
          "lydian": "Lyd", "loc": "Loc", "locrian": "Loc"}


class SkipTune(Exception):
    """A tune that cannot be used; the message is the reason it is counted under."""


def music21_collections() -> dict[str, Path]:
    """music21's bundled ABC collections, by folder name."""
    import music21.corpus

    root = Path(music21.corpus.__file__).parent
    return {p.name: p for p in sorted(root.iterdir())
            if p.is_dir() and any(p.rglob("*.abc"))}


def corpus_files(spec: str) -> list[Path]:
    """ABC files for a corpus spec: a file, a folder, or music21 collection names (comma-separated)."""
    files: list[Path] = []
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        path = Path(part).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            # is_file: a symlink loop or a dangling link is no file (and would stop the digest)
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in ABC_SUFFIXES and p.is_file()))
        else:
            known = music21_collections()
            if part not in known:
                raise CorpusError(
                    f"corpus {part!r} is not a file, a folder, or a bundled collection; "
                    f"give a path to ABC files or one of: {', '.join(known)}"
                )
            files.extend(sorted(known[part].rglob("*.abc")))
    return files


def split_tunes(text: str) -> list[str]:
    """Split the text of a multi-tune ABC file at its `X:` lines."""
    parts = re.split(r"(?m)^X:", text)
    return ["X:" + p for p in parts[1:]]


def _key(value: str) -> str:
    value = value.split("%")[0].strip()
    m = _KEY.match(value)
    if not m:
        raise SkipTune("unreadable key")
    mode = m.group(3).lower()
    if mode not in _MODES:
        mode = mode[:3]
        if mode not in _MODES:
            raise SkipTune("unreadable key")
    return m.group(1).upper() + m.group(2) + _MODES[mode]


def _clean_body(body: str) -> str:
    body = re.sub(r"\\\s*\n", " ", body)  # line continuations
    body = re.sub(r'"[^"\n]*"', "", body)  # annotations and chord symbols
    body = re.sub(r"![^!\n]*!|\+[^+\n]*\+", "", body)  # decorations
    body = re.sub(r"\{[^}]*\}", "", body)  # grace notes
    if re.search(r"\[[KMLkml]:", body):
        raise SkipTune("key or meter change")
    body = re.sub(r"\[[A-Za-z]:[^\]]*\]", "", body)  # other inline fields
    if re.search(r"[&Z]", body):
        raise SkipTune("unsupported ABC (voice overlay or multi-bar rest)")
    body = re.sub(r"\((?!\d)|\)", "", body)  # slurs, not tuplets
    body = re.sub(r"[H-WYh-wy~.$*`!]", "", body)  # decoration letters, spacers, old line breaks
    body = re.sub(r"\s+(?=[-<>])|(?<=[<>])\s+", "", body)  # "A >B" and "A -" -> "A>B", "A-"
    body = re.sub(r"(^|[|:\s])-", r"\1", body)  # ties that follow no note
    body = re.sub(r"([|:])\s*\[(\d)", r"\1\2", body)  # |[1 -> |1
    body = re.sub(r"\[(\d)", r"|\1", body)
    for old, new in ((":|:", "::"), ("|:|", "|"), ("[|", "|"), ("||:", "|:"), (":||", ":|"),
                     (":|]", ":|"), ("|||", "||"), (":::", "::")):
        body = body.replace(old, new)
    return _merge_empty_bars(body)


def _merge_empty_bars(body: str) -> str:
    """Two barlines with no note between them become one ("|\\n|" at line breaks)."""
    bars = split_bars(body)
    out: list[str] = []
    line_break = ""
    for i, (text, bar) in enumerate(bars):
        if out and not text.strip() and bar:
            prev = out.pop()
            joined = prev + bar
            if prev == "|":
                prev = bar
            elif bar != "|":
                prev = joined if joined in BARLINES else prev
            out.append(prev)
            line_break = "\n" if "\n" in text else line_break
            continue
        if line_break:
            text = "\n" + text.lstrip(" ")
            line_break = ""
        if i == 0:
            text = text.lstrip()
        out.extend([text, bar] if bar else [text])
    body = "".join(out)
    body = re.sub(r"[ \t]+", " ", body)
    body = "\n".join(ln.strip() for ln in body.split("\n") if ln.strip())
    return body


def normalise(raw: str) -> str:
    """One tune's normalised text (header then body), or SkipTune with the reason."""
    fields: dict[str, str] = {}
    body_lines: list[str] = []
    in_body = False
    for line in raw.split("\n"):
        line = line.rstrip()
        if line.startswith("%"):
            continue
        m = _FIELD.match(line)
        if not in_body:
            if m:
                fields.setdefault(m.group(1), m.group(2))
                if m.group(1) == "K":
                    in_body = True
            continue
        if m and not line.startswith("|"):
            if m.group(1) in "MLK":
                raise SkipTune("key or meter change")
            continue  # lyrics, parts, notes and other fields in the body
        body_lines.append(line.split("%")[0])
    if "K" not in fields:
        raise SkipTune("no K: field")
    meter = fields.get("M", "").replace(" ", "")
    if not meter or meter.lower() == "none":
        raise SkipTune("no meter")
    unit = fields.get("L", "").replace(" ", "") or default_unit(meter)
    try:
        parse_fraction(meter)
        parse_fraction(unit)
    except AbcSyntaxError:
        raise SkipTune("unreadable meter or unit length") from None
    header = []
    rhythm = re.sub(r"[^a-z ]", "", fields.get("R", "").lower()).strip()
    if rhythm and len(rhythm) <= 16:
        header.append(f"R:{re.sub(' +', ' ', rhythm)}")
    header += [f"M:{meter}", f"L:{unit}", f"K:{_key(fields['K'])}"]
    body = _clean_body("\n".join(body_lines))
    try:
        notes = sum(bar_units(t, strict=True) > 0 for t, _ in split_bars(body))
        stats = bar_stats({"M": meter, "L": unit}, body)
    except AbcSyntaxError:
        raise SkipTune("unreadable ABC") from None
    if notes < 2:
        raise SkipTune("no notes")
    if stats.fraction < MIN_FULL_BARS:
        raise SkipTune("bars disagree with the meter")
    return "\n".join(header) + "\n" + body


@dataclass
class Corpus:
    """Normalised, de-duplicated tunes with the count of tunes skipped, by reason."""

    spec: str
    train: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    files: int = 0
    noun: str = "tunes"

    @property
    def kept(self) -> int:
        return len(self.train) + len(self.valid)

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {r}" for r, n in self.skipped.most_common())
        return (f"{self.kept} {self.noun} kept ({len(self.train)} train, {len(self.valid)} validation) "
                f"from {self.files} files; {sum(self.skipped.values())} skipped"
                + (f" ({reasons})" if reasons else ""))


def is_valid_split(text: str, valid_percent: int) -> bool:
    """Deterministic split by the tune's own content: the same tune always lands on the same side."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 100 < valid_percent


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_corpus(spec: str, valid_percent: int = 10, max_chars: int = 3000,
                progress: Iterable | None = None) -> Corpus:
    """Read, normalise, de-duplicate and split a corpus; raise CorpusError if nothing is usable."""
    files = corpus_files(spec)
    corpus = Corpus(spec=spec, files=len(files))
    if not files:
        raise CorpusError(f"corpus {spec!r} holds no .abc files; point it at ABC files")
    seen: set[str] = set()
    for path in (progress(files) if progress else files):
        try:
            text = read_text(path)
        except OSError as e:
            corpus.skipped[f"unreadable file ({e.strerror})"] += 1
            continue
        for raw in split_tunes(text.replace("\r\n", "\n").replace("\r", "\n")):
            try:
                tune = normalise(raw)
            except SkipTune as e:
                corpus.skipped[str(e)] += 1
                continue
            if len(tune) > max_chars:
                corpus.skipped["too long"] += 1
                continue
            body = split_header(tune)[1]
            if body in seen:
                corpus.skipped["duplicate"] += 1
                continue
            seen.add(body)
            (corpus.valid if is_valid_split(tune, valid_percent) else corpus.train).append(tune)
    if not corpus.train:
        raise CorpusError(
            f"corpus {spec!r} has no usable tunes ({corpus.summary()}); "
            "each tune needs X:, M:, K: and notes"
        )
    if not corpus.valid:  # a tiny corpus: hold one tune back so validation still means something
        corpus.valid.append(corpus.train.pop())
        if not corpus.train:
            corpus.train.append(corpus.valid[0])
    return corpus
