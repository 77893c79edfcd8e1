"""The interface of a kind's training side: how its corpus is found, read, filtered and stored as
16-bit symbols in the token cache, and how its vocabulary is made."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tunegen.runtime.errors import CorpusError
from tunegen.runtime.kinds.base import Kind
from tunegen.runtime.vocab import Vocabulary

# a piece as its kind's reader gives it: ABC text, a list of event tokens, ...
Piece = Any



def spec_files(spec: str, wanted: Callable[[Path], bool], collections: Callable[[], dict[str, Path]],
               what: str) -> list[Path]:
    """The files of a corpus spec: each comma-separated part a file, a folder (the `wanted` files
    below it) or the name of one of `collections()`; CorpusError for a part that is none of them."""
    files: list[Path] = []
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        path = Path(part).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if wanted(p)))
        else:
            known = collections()
            if part not in known:
                raise CorpusError(f"corpus {part!r} is not a file, a folder, or a bundled collection; "
                                  f"give a path to {what} or one of: {', '.join(known)}")
            files.extend(sorted(p for p in known[part].rglob("*") if wanted(p)))
    return files


class TrainingKind:
    """One kind's training side; `kind` is its runtime kind (names, noun, loss unit)."""

    kind: ClassVar[Kind]
    tokenizer: ClassVar[str]  # bump when what a piece's symbols mean changes: old caches are rebuilt
    files_text: ClassVar[str]  # what a corpus of this kind holds, for "holds no ..." messages
    transposes: ClassVar[bool] = False  # whether `transpose_table` moves its pieces to other keys

    def files(self, spec: str) -> list[Path]:
        """The files of a corpus spec: a file, a folder or bundled collection names (comma-separated)."""
        raise NotImplementedError

    def read_file(self, path: Path) -> list[tuple[Piece | None, str]]:
        """The pieces of one file, or (None, reason) for each one skipped. Runs in worker
        processes, so it must not need anything but the path."""
        raise NotImplementedError

    def option(self, max_chars: int) -> Any:
        """The part of the options that shapes this kind's pieces (it keys the cache)."""
        return None

    def reject(self, piece: Piece, max_chars: int) -> str | None:
        """Why a read piece is not kept (counted under that reason), or None to keep it."""
        return None

    def dedup_key(self, piece: Piece) -> str:
        """The text two pieces share when one repeats the other."""
        return self.split_key(piece)

    def split_key(self, piece: Piece) -> str:
        """The text whose hash decides the piece's side of the validation split."""
        raise NotImplementedError

    def facts(self, piece: Piece) -> list[str]:
        """What the corpus does, counted over its pieces (`"key G major"`, ...)."""
        return []

    def manifest_music(self, facts: dict[str, int]) -> dict:
        """The manifest's `music` section from the corpus's counted facts (keys, forms)."""
        return {}

    def symbols(self, piece: Piece) -> np.ndarray:
        """The piece as uint16 symbols for the cache."""
        raise NotImplementedError

    def symbol(self, token: str) -> int:
        """The cache symbol of a vocabulary token (not a special one)."""
        raise NotImplementedError

    def vocabulary(self, symbols: set[int]) -> Vocabulary:
        """The vocabulary of a corpus whose pieces hold `symbols`."""
        raise NotImplementedError

    def transpose_table(self, vocab: Vocabulary, shift: int) -> np.ndarray:
        """Token id -> token id moving a piece by `shift` semitones (kinds that `transposes`)."""
        raise NotImplementedError

    def piece(self, tokens: list[str]) -> Piece:
        """A piece again from its tokens, as `read_file` gives it."""
        return tokens
