"""The training side of MIDI event models: MIDI files, any score music21 reads, or music21's
bundled collections, each turned into event tokens (`tunegen.runtime.events`).

Every pitched part except drums is merged into one keyboard stream (see `score_music`); a file that
fails to parse, is empty or has no notes is skipped and counted with its reason. Every piece is
moved to C major or A minor and opens with its mode, so the model learns to stay in one key; the
keys the corpus was in are counted, and a model draws its keys from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunegen.runtime import kinds
from tunegen.runtime.events import (
    REFERENCE,
    TOKENIZER,
    encode,
    event_vocabulary,
    in_reference_key,
    transpose_table,
)
from tunegen.runtime.keys import key_named
from tunegen.runtime.score import NotMusic, read_music
from tunegen.runtime.vocab import Vocabulary

from .base import TrainingKind, spec_files

MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn")


def _collections() -> dict[str, Path]:
    import music21.corpus

    root = Path(music21.corpus.__file__).parent
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("_")}


def _wanted(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in MIDI_SUFFIXES + SCORE_SUFFIXES


def midi_corpus_files(spec: str) -> list[Path]:
    """Files for a corpus spec: a file, a folder (MIDI and score files, recursively) or music21
    collection names such as `bach` (comma-separated)."""
    return spec_files(spec, _wanted, _collections, "MIDI or score files")


class EventPiece(list):
    """A piece's event tokens (in the reference key) and the key it was written in."""

    key: str = ""


def tokenize_file(path: Path) -> tuple[EventPiece | None, str]:
    """A file's event tokens in C major or A minor, or None and the reason it is skipped."""
    try:
        if path.stat().st_size == 0:
            return None, "empty file"
        music = read_music(path)
    except NotMusic as e:
        return None, str(e)
    except OSError as e:
        return None, f"unreadable file ({e.strerror})"
    piece = EventPiece(encode(in_reference_key(music)))
    piece.key = key_named(music.tonic, music.mode).name
    return piece, ""


class MidiTraining(TrainingKind):
    """MIDI pieces: one event token per symbol, the fixed event vocabulary."""

    kind = kinds.get("midi-event")
    tokenizer = TOKENIZER
    files_text = "MIDI or score files"
    transposes = True

    def __init__(self) -> None:
        self.events = event_vocabulary()

    def files(self, spec: str) -> list[Path]:
        return midi_corpus_files(spec)

    def read_file(self, path: Path) -> list[tuple[list[str] | None, str]]:
        return [tokenize_file(path)]

    def split_key(self, piece: list[str]) -> str:
        return " ".join(piece)

    def facts(self, piece: EventPiece) -> list[str]:
        return [f"key {piece.key}"] if getattr(piece, "key", "") else []

    def manifest_music(self, facts: dict[str, int]) -> dict:
        keys = {k[4:]: n for k, n in sorted(facts.items(), key=lambda kv: -kv[1]) if k.startswith("key ")}
        names = {"major": "C", "minor": "A"}
        return {"keys": {"written_in": {m: names[m] for m in REFERENCE}, "corpus": keys}} if keys else {}

    def symbols(self, piece: list[str]) -> np.ndarray:
        return np.array([self.events.index(t) for t in piece], np.uint16)

    def symbol(self, token: str) -> int:
        return self.events.index(token)

    def vocabulary(self, symbols: set[int]) -> Vocabulary:
        return self.events

    def transpose_table(self, vocab: Vocabulary, shift: int) -> np.ndarray:
        return np.asarray(transpose_table(vocab, shift), np.int32)


TRAINING = MidiTraining()
