"""The training side of ABC character models: read files, folders or music21's bundled
collections, split them at `X:` and normalise each tune.

A normalised tune is its header (`R:` if known, then `M:`, `L:`, `K:`) and its music: titles,
comments, lyrics, annotations, chord symbols, decorations, grace notes and slurs are dropped, so the
model spends its capacity on notes and bars.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from tunegen.runtime import kinds
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
from tunegen.runtime.form import parts_of
from tunegen.runtime.keys import parse_key
from tunegen.runtime.vocab import Vocabulary

from .base import TrainingKind, spec_files

ABC_SUFFIXES = (".abc",)
MIN_RHYTHM = 5  # tunes of a rhythm before the model offers it by name
MIN_FULL_BARS = 0.75  # tunes whose own bars mostly disagree with their meter teach bad habits

_FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")
_KEY = re.compile(r"^([A-Ga-g])([#b]?)\s*([A-Za-z]*)")


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
    return spec_files(spec, lambda p: p.is_file() and p.suffix.lower() in ABC_SUFFIXES,
                      music21_collections, "ABC files")


def split_tunes(text: str) -> list[str]:
    """Split the text of a multi-tune ABC file at its `X:` lines."""
    parts = re.split(r"(?m)^X:", text)
    return ["X:" + p for p in parts[1:]]


def _key(value: str) -> str:
    value = value.split("%")[0].strip()
    m = _KEY.match(value)  # the key, and anything after it (`K:D exp ^f` is not one tunegen reads)
    key = parse_key(m.group(0)) if m else None
    if key is None:
        raise SkipTune("unreadable key")
    return key.abc


def _field(name: str, value: str) -> str:
    """A key or meter change as the normalised body writes it (`[K:Em]`, `[M:6/8]`)."""
    value = value.split("%")[0].strip()
    if name == "K":
        return f"[K:{_key(value)}]"
    meter = value.replace(" ", "")
    try:
        parse_fraction(meter)
    except AbcSyntaxError:
        raise SkipTune("unreadable meter or unit length") from None
    return f"[M:{meter}]"


_PART_END = re.compile(r"(^|\|\||:\||\|\]|::|\|:)\s*$")


def _clean_body(body: str) -> str:
    body = re.sub(r"\\\s*\n", " ", body)  # line continuations
    body = re.sub(r'"[^"\n]*"', "", body)  # annotations and chord symbols
    body = re.sub(r"![^!\n]*!|\+[^+\n]*\+", "", body)  # decorations
    body = re.sub(r"\{[^}]*\}", "", body)  # grace notes
    if re.search(r"\[[Llkm]:", body):
        raise SkipTune("unit length change")
    # key and meter changes are kept, out of the way of the cleaning below, and must stand where
    # a part begins (as tunebooks write them between parts)
    fields: list[str] = []

    def keep(m: re.Match) -> str:
        if not _PART_END.search(body[:m.start()].rstrip().replace("[|", "|")):
            raise SkipTune("key or meter change inside a part")
        fields.append(_field(m.group(1), m.group(2)))
        return f"\x01{len(fields) - 1}\x02"

    body = re.sub(r"\[([KM]):([^\]]*)\]", keep, body)
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
    body = re.sub(r"(\x01\d+\x02)\s*\|:", r"|:\1", body)  # K:G before |: stands in the part it opens
    body = _merge_empty_bars(body)
    return re.sub(r"\s*\x01(\d+)\x02\s*", lambda m: "\n" + fields[int(m.group(1))], body).strip()


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
            if m.group(1) == "L":
                raise SkipTune("unit length change")
            if m.group(1) in "MK":  # a key or meter change on a line of its own: inline, as [K:G]
                body_lines.append(f"[{m.group(1)}:{m.group(2)}]")
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


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class AbcTraining(TrainingKind):
    """ABC tunes: normalised text, one character per token, the vocabulary the corpus's characters."""

    kind = kinds.get("abc-char")
    tokenizer = "abc-char-2"
    files_text = ".abc files"

    def files(self, spec: str) -> list[Path]:
        return corpus_files(spec)

    def read_file(self, path: Path) -> list[tuple[str | None, str]]:
        try:
            text = read_text(path)
        except OSError as e:
            return [(None, f"unreadable file ({e.strerror})")]
        out: list[tuple[str | None, str]] = []
        for raw in split_tunes(text.replace("\r\n", "\n").replace("\r", "\n")):
            try:
                out.append((normalise(raw), ""))
            except SkipTune as e:
                out.append((None, str(e)))
        if not out:  # a file with no tune in it is skipped and counted too, not lost without a word
            reason = ("empty file" if not text.strip() else
                      "not ABC text (binary or UTF-16)" if "\0" in text or "\ufffd" in text else "no tune in the file")
            out.append((None, reason))
        return out

    def option(self, max_chars: int) -> int:
        return max_chars

    def reject(self, piece: str, max_chars: int) -> str | None:
        if len(piece) > max_chars:
            return "too long"
        if max(map(ord, piece)) > 0xFFFF:  # a symbol is 16 bits
            return "characters beyond the basic plane"
        return None

    def dedup_key(self, piece: str) -> str:
        return split_header(piece)[1]  # the same music under another title or rhythm is a repeat

    def split_key(self, piece: str) -> str:
        return piece

    def facts(self, piece: str) -> list[str]:
        fields = split_header(piece)[0]
        rhythm, meter = fields.get("R", ""), fields["M"]
        out = [f"rhythm {rhythm}"] if rhythm else []
        try:
            parts = parts_of(piece)[0]
        except (AbcSyntaxError, ValueError):
            return out
        for part in parts:
            out.append(f"bars meter {meter} {part['count']}")
            if rhythm:
                out.append(f"bars rhythm {rhythm} {part['count']}")
        return out

    def manifest_music(self, facts: dict[str, int]) -> dict:
        """The rhythms the corpus names (of at least MIN_RHYTHM tunes), commonest first, and for
        each rhythm and meter how many bars its parts have: `bars`, the commonest of the two
        lengths a part is played in, 8 and 16 (a 4-bar section is half a part), and `counts`."""
        rhythms = sorted(((k[7:], n) for k, n in facts.items() if k.startswith("rhythm ")), key=lambda kv: -kv[1])
        bars: dict[str, dict[str, Counter]] = {"rhythm": {}, "meter": {}}
        for k, n in facts.items():
            if k.startswith("bars "):
                _, by, rest = k.split(" ", 2)
                name, count = rest.rsplit(" ", 1)
                bars[by].setdefault(name, Counter())[int(count)] += n
        forms = {by: {name: {"bars": 16 if c[16] > c[8] else 8, "counts": dict(c.most_common(4))}
                      for name, c in sorted(table.items()) if sum(c.values()) >= MIN_RHYTHM}
                 for by, table in bars.items()}
        return {"rhythms": [r for r, n in rhythms if n >= MIN_RHYTHM], "forms": forms}

    def symbols(self, piece: str) -> np.ndarray:
        return np.frombuffer(piece.encode("utf-16-le"), np.uint16)

    def symbol(self, token: str) -> int:
        return ord(token)

    def vocabulary(self, symbols: set[int]) -> Vocabulary:
        return Vocabulary.from_texts(["".join(map(chr, symbols))])

    def piece(self, tokens: list[str]) -> str:
        return "".join(tokens)


TRAINING = AbcTraining()
