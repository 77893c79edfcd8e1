"""The JSON manifest that travels beside every `.tflite` model: all a runtime needs to use it."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import kinds
from .errors import ModelError
from .vocab import Vocabulary

FORMAT_VERSION = 1


@dataclass
class Manifest:
    """One model's manifest; `model.tflite` travels with `model.json`."""

    kind: str
    tflite: str
    sha256: str
    vocabulary: list[str]
    embedding: int
    layers: list[int]
    quantization: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    state: list[dict[str, Any]]
    sampling: dict[str, Any] = field(default_factory=dict)
    render: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    min_runtime: str = ""  # the lowest TFLite runtime (TensorFlow version) the graph's ops need
    format_version: int = FORMAT_VERSION

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary(tuple(self.vocabulary))

    @property
    def special_tokens(self) -> dict[str, int]:
        v = self.vocab
        return {"pad": v.pad, "start": v.start, "end": v.end}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["special_tokens"] = self.special_tokens
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | str = "<manifest>") -> Manifest:
        version = d.get("format_version")
        if not isinstance(version, int):
            raise ModelError(f"{path}: not a tunegen manifest (no format_version)")
        if version > FORMAT_VERSION:
            raise ModelError(
                f"{path}: manifest format {version} is newer than this tunegen understands "
                f"({FORMAT_VERSION}); upgrade tunegen"
            )
        if d.get("kind") not in kinds.names():
            raise ModelError(f"{path}: unknown model kind {d.get('kind')!r} (known: {', '.join(kinds.names())})")
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as e:
            raise ModelError(f"{path}: manifest is incomplete ({e})") from None

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        """Read a manifest, refusing one that is missing, malformed or too new."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{path}: manifest not found") from None
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: unreadable manifest ({e})") from None
        if not isinstance(d, dict):
            raise ModelError(f"{path}: unreadable manifest (not a JSON object)")
        return cls.from_dict(d, path)

    def save(self, path: Path | str) -> None:
        write_atomic(Path(path), (json.dumps(self.to_dict(), indent=1) + "\n").encode())


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to `path` through a temporary file and a rename, so no half file is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; outputs should not be
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
