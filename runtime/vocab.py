"""Token vocabularies shared by training, export and the runtime."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

START = "<start>"
END = "<end>"
PAD = "<pad>"


@dataclass(frozen=True)
class Vocabulary:
    """An ordered list of tokens: index 0 is padding, then start and end, then the symbols."""

    tokens: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """A character vocabulary covering every character of `texts`."""
        chars = sorted({c for t in texts for c in t})
        return cls((PAD, START, END, *chars))

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad(self) -> int:
        return 0

    @property
    def start(self) -> int:
        return self._index[START]  # type: ignore[attr-defined]

    @property
    def end(self) -> int:
        return self._index[END]  # type: ignore[attr-defined]

    def index(self, token: str) -> int:
        """The id of one token (KeyError when it is not in the vocabulary)."""
        return self._index[token]  # type: ignore[attr-defined]

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` that are not in the vocabulary."""
        return sorted({c for c in text if c not in self._index})  # type: ignore[attr-defined]

    def encode(self, text: str, wrap: bool = False) -> list[int]:
        """Character ids of `text`, optionally wrapped in start and end."""
        ids = [self._index[c] for c in text]  # type: ignore[attr-defined]
        return [self.start, *ids, self.end] if wrap else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of character ids; special tokens are dropped."""
        return "".join(self.tokens[i] for i in ids if i > 2)
