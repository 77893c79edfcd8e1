"""The JSON manifest that travels beside every `.tflite` model: all a runtime needs to use it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import kinds, limits
from .errors import ModelError, TunegenError
from .paths import write_atomic  # noqa: F401  (imported from here by training and export)
from .vocab import END, PAD, START, Vocabulary

FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 16 << 20  # a real one is a few kB; the vocabulary is the bulk


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
    music: dict[str, Any] = field(default_factory=dict)  # what the corpus does: its keys, its forms
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
        """A manifest from its JSON object, checked against the schema (`validate`)."""
        validate(d, path)
        known = {f for f in cls.__dataclass_fields__}
        m = cls(**{k: v for k, v in d.items() if k in known})
        m.name = m.name or Path(str(path)).stem
        return m

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        """Read a manifest, refusing one that is missing, malformed or too new."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                raise ModelError(f"{path}: not a tunegen manifest (over {MAX_MANIFEST_BYTES >> 20} MB)")
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: manifest not found") from None
        except RecursionError:
            raise ModelError(f"{path}: unreadable manifest (nested too deeply)") from None
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: unreadable manifest ({e})") from None
        return cls.from_dict(d, path)

    def to_bytes(self) -> bytes:
        """The manifest as the JSON file holds it."""
        return (json.dumps(self.to_dict(), indent=1) + "\n").encode()

    def save(self, path: Path | str) -> None:
        write_atomic(Path(path), self.to_bytes())


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


MAX_LAYERS = 16
MAX_UNITS = 8192
MAX_VOCABULARY = 65536
SPECIAL = [PAD, START, END]  # at indices 0, 1, 2: sampling never draws below 3


def validate(d: dict[str, Any], path: Path | str = "<manifest>") -> None:
    """Refuse a manifest that is not one tunegen can run, with the field and the reason: every
    field's type and range, the special tokens, the state matching the layers. (Whether the graph
    matches it is checked when the model is loaded, `model.StepModel`.)"""

    def bad(what: str) -> ModelError:
        return ModelError(f"{path}: {what}")

    def need(name: str, ok: bool, what: str) -> None:
        if not ok:
            got = d.get(name, "nothing")
            raise bad(f"manifest field {name!r} must be {what} (got {_short(got)})")

    if not isinstance(d, dict):
        raise bad("unreadable manifest (not a JSON object)")
    version = d.get("format_version")
    if not limits.is_int(version):
        raise bad("not a tunegen manifest (no whole-number format_version)")
    if version > FORMAT_VERSION:
        raise bad(f"manifest format {version} is newer than this tunegen understands "
                  f"({FORMAT_VERSION}); upgrade tunegen")
    need("format_version", version >= 1, f"from 1 to {FORMAT_VERSION}")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise bad(f"manifest is incomplete (missing {', '.join(missing)})")
    if not isinstance(d["kind"], str) or d["kind"] not in kinds.names():
        raise bad(f"unknown model kind {_short(d['kind'])} (known: {', '.join(kinds.names())})")
    tflite = d["tflite"]
    need("tflite", isinstance(tflite, str) and tflite.endswith(".tflite") and len(tflite) > 7
         and "/" not in tflite and "\\" not in tflite and not tflite.startswith(".") and "\0" not in tflite,
         "a .tflite file name beside the manifest (no folders)")
    need("sha256", isinstance(d["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", d["sha256"]) is not None,
         "64 hex digits")
    vocab = d["vocabulary"]
    need("vocabulary", isinstance(vocab, list) and all(isinstance(t, str) and t for t in vocab)
         and 4 <= len(vocab) <= MAX_VOCABULARY, f"a list of 4 to {MAX_VOCABULARY} tokens")
    need("vocabulary", vocab[:3] == SPECIAL, f"a list starting with {', '.join(SPECIAL)}")
    need("vocabulary", len(set(vocab)) == len(vocab), "a list without duplicates")
    problem = kinds.get(d["kind"]).vocabulary_problem(vocab)
    if problem:
        raise bad(f"vocabulary does not fit a {d['kind']} model: {problem}")
    need("embedding", limits.is_int(d["embedding"]) and 1 <= d["embedding"] <= MAX_UNITS,
         f"a whole number from 1 to {MAX_UNITS}")
    layers = d["layers"]
    need("layers", isinstance(layers, list) and 1 <= len(layers) <= MAX_LAYERS
         and all(limits.is_int(u) and 1 <= u <= MAX_UNITS for u in layers),
         f"a list of 1 to {MAX_LAYERS} layer sizes, each 1 to {MAX_UNITS}")
    need("quantization", isinstance(d["quantization"], str), "text")
    names = [f"{k}{i}" for i in range(len(layers)) for k in "hc"]
    for field_name, first in (("inputs", "token"), ("outputs", "logits")):
        tensors = d[field_name]
        need(field_name, isinstance(tensors, dict) and all(isinstance(v, str) for v in tensors.values()),
             "an object of tensor names")
        need(field_name, set(tensors) == {first, *names},
             f"an object naming {first} and {', '.join(names)} (one h and c per layer)")
    state = d["state"]
    need("state", isinstance(state, list) and len(state) == len(names)
         and all(isinstance(s, dict) for s in state), f"a list of {len(names)} objects (h and c per layer)")
    for i, s in enumerate(state):
        units = layers[i // 2]
        need("state", s.get("name") == names[i] and isinstance(s.get("shape"), list)
             and len(s["shape"]) == 2 and s["shape"][-1] == units,
             f"entries named {', '.join(names)} whose shapes end in their layer's size ({names[i]}: {units})")
    for field_name in ("sampling", "render", "provenance", "music"):
        need(field_name, isinstance(d.get(field_name, {}), dict), "an object")
    problem = _music_problem(d.get("music", {}))
    if problem:
        raise bad(f"manifest field 'music' {problem}")
    for field_name in ("name", "min_runtime", "quantization"):
        need(field_name, isinstance(d.get(field_name, ""), str), "text")
    need("min_runtime", re.fullmatch(r"(\d+(\.\d+){0,2})?", d.get("min_runtime", "")) is not None,
         "a version such as 2.3.0")
    special = d.get("special_tokens")
    need("special_tokens", special is None or special == {"pad": 0, "start": 1, "end": 2},
         "pad 0, start 1, end 2")
    sampling, render = d.get("sampling", {}), d.get("render", {})
    try:
        for key, check in _SAMPLING.items():
            if key in sampling:
                check(f"sampling.{key}", sampling[key])
        low, high = limits.BPM_RANGE
        if "bpm" in render:
            limits.real("render.bpm", render["bpm"], low, high)
        low, high = limits.PROGRAM_RANGE
        if "program" in render:
            limits.integer("render.program", render["program"], low, high)
    except TunegenError as e:
        raise bad(f"manifest {e}") from None


def _music_problem(music: dict) -> str | None:
    """Why the `music` section (what the corpus does) cannot be used, or None: rhythms as words,
    forms as bars per part for each rhythm and meter, keys the corpus has with their counts."""
    from .keys import parse_key

    rhythms = music.get("rhythms", [])
    if not isinstance(rhythms, list) or not all(
            isinstance(r, str) and 0 < len(r) <= 16 and r.replace(" ", "").isalpha() for r in rhythms):
        return "must list rhythms as words of letters (got rhythms " + _short(rhythms) + ")"
    forms = music.get("forms", {})
    if not isinstance(forms, dict) or not all(
            isinstance(table, dict) and all(isinstance(f, dict) and limits.is_int(f.get("bars"))
                                            and 2 <= f["bars"] <= limits.MAX_BARS_PER_PART for f in table.values())
            for table in forms.values()):
        return f"must give forms as bars per part, 2 to {limits.MAX_BARS_PER_PART} (got forms {_short(forms)})"
    keys = music.get("keys", {})
    corpus = keys.get("corpus", {}) if isinstance(keys, dict) else None
    if not isinstance(corpus, dict) or not all(
            isinstance(k, str) and getattr(parse_key(k), "mode", None) in ("major", "minor")
            and limits.is_int(n) and n > 0 for k, n in corpus.items()):
        return f"must count the corpus's major and minor keys (got keys {_short(keys)})"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


REQUIRED = ("kind", "tflite", "sha256", "vocabulary", "embedding", "layers", "quantization", "inputs",
            "outputs", "state")


def _top_p(name: str, value: Any) -> None:
    if not limits.is_real(value) or not 0 < value <= 1:
        raise TunegenError(f"{name} must be in (0, 1] (got {_short(value)})")


_SAMPLING = {
    "temperature": lambda n, v: limits.real(n, v, above=0.0, high=limits.MAX_TEMPERATURE),
    "top_k": lambda n, v: limits.integer(n, v, low=0),
    "top_p": _top_p,
    "max_length": lambda n, v: limits.integer(n, v, 16, limits.MAX_LENGTH),
    "bars": lambda n, v: limits.integer(n, v, 1, limits.MAX_BARS),
    "min_bars": lambda n, v: limits.integer(n, v, 0, limits.MAX_BARS),
}
