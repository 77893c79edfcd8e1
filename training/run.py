"""A training run's folder, typed: what training writes and export, eval and a resumed run read.

    run = RunFolder.load("runs/folk")          # ModelError when it is not a run folder
    run.config.corpus, run.model.units, run.vocab, run.kind.loss_unit, run.valid()

Files: `config.json` (format, settings, model sizes, vocabulary, tokenizer), `vocab.json`,
`corpus.json`, `valid.json`, `calibration.json`, `state.json`, `summary.json`, `model.keras` (best),
`checkpoint.keras` (latest, with the state of its epoch inside), `logs/`, `loss.png`. Folders written before the format was recorded
(format 1) hold the same files and load the same way.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunegen.runtime import kinds
from tunegen.runtime.errors import ModelError
from tunegen.runtime.kinds.base import Kind
from tunegen.runtime.manifest import write_atomic
from tunegen.runtime.vocab import Vocabulary

from .config import TrainConfig
from .model import ModelConfig

RUN_FORMAT = 2  # 1: folders from before `format` was written in config.json (the same layout)
STATE_ENTRY = "tunegen-state.json"  # the state inside checkpoint.keras (a zip)


@dataclass
class RunState:
    """Progress of a run, rewritten after every epoch (`state.json`)."""

    epoch: int = 0
    steps: int = 0
    best_bits: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    finished: bool = False
    history: list[dict] = field(default_factory=list)


def write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=1) + "\n").encode())


class CheckpointError(OSError):
    """A checkpoint could not be written (a full disk, say); the previous one is intact."""


def save_keras(model, path: Path, state: RunState | None = None) -> None:
    """Save through a temporary file and a rename: a failed write leaves the previous file whole.
    A `state` is written into the same file, so the one rename makes weights and progress current
    together."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as z:
                z.writestr(STATE_ENTRY, json.dumps(asdict(state)))
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not write {path.name} ({e.strerror or e}); "
                              f"{'the previous one is intact' if path.exists() else 'nothing was written'}: "
                              "free some space and run the same command to resume") from None


@dataclass
class RunFolder:
    """A run folder's settings, read once; its other files are read when asked for."""

    path: Path
    config: TrainConfig
    model: ModelConfig
    vocab: Vocabulary
    tokenizer: str | None = None
    format: int = RUN_FORMAT

    @staticmethod
    def is_run(path: Path) -> bool:
        """Whether `path` is a run folder (has a config.json)."""
        return (Path(path) / "config.json").is_file()

    @classmethod
    def load(cls, path: Path, trained: bool = False) -> RunFolder:
        """The run folder at `path`; ModelError when it is none, is of a newer format, or (with
        `trained`) has no best model yet."""
        path = Path(path)
        if not cls.is_run(path) or (trained and not (path / "model.keras").exists()):
            raise ModelError(f"{path}: not a trained run folder (needs config.json and model.keras); "
                             "train one with `tunegen train abc CORPUS --out RUN_DIR`")
        saved = json.loads((path / "config.json").read_text())
        version = saved.get("format", 1)
        if version > RUN_FORMAT:
            raise ModelError(f"{path}: run folder format {version} is newer than this tunegen reads "
                             f"({RUN_FORMAT}); update tunegen")
        return cls(path, TrainConfig.from_dict(saved["train"]), ModelConfig(**saved["model"]),
                   Vocabulary(tuple(saved["vocab"])), saved.get("tokenizer"), version)

    @property
    def kind(self) -> Kind:
        return kinds.get(self.config.kind)

    @property
    def best_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.keras"

    def save(self, corpus: dict, valid: list, calibration: list) -> None:
        """Write the run's settings and the data export needs (validation and calibration pieces)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "config.json", {"format": RUN_FORMAT, "train": asdict(self.config),
                                               "model": self.model.to_dict(), "vocab": list(self.vocab.tokens),
                                               "tokenizer": self.tokenizer})
        write_json(self.path / "vocab.json", list(self.vocab.tokens))
        write_json(self.path / "corpus.json", corpus)
        write_json(self.path / "valid.json", valid)
        write_json(self.path / "calibration.json", calibration)

    def corpus(self) -> dict:
        """What was read of the corpus: files, split, skips and the facts counted over it."""
        path = self.path / "corpus.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def valid(self) -> list:
        """The validation pieces, as the kind's reader gives them."""
        return json.loads((self.path / "valid.json").read_text())

    def calibration(self) -> list | None:
        """The training pieces kept for int8 calibration; None in folders that predate them."""
        path = self.path / "calibration.json"
        return json.loads(path.read_text()) if path.exists() else None

    def state(self) -> RunState | None:
        """The progress of the last finished epoch, or None before the first: the one saved inside
        the checkpoint (it goes with its weights even when a kill came before state.json was
        written), else state.json (folders that predate it)."""
        try:
            with zipfile.ZipFile(self.checkpoint_path) as z:
                return RunState(**json.loads(z.read(STATE_ENTRY)))
        except (OSError, KeyError, zipfile.BadZipFile):
            pass
        path = self.path / "state.json"
        return RunState(**json.loads(path.read_text())) if path.exists() else None

    def save_checkpoint(self, model, state: RunState) -> None:
        """The latest weights with their progress, then `state.json` for people and tools to read."""
        save_keras(model, self.checkpoint_path, state)
        write_json(self.path / "state.json", asdict(state))

    @staticmethod
    def remove_stale(path: Path) -> None:
        """Remove the temporary files a killed run left (`.checkpoint.tmp.keras`, `.state.json.*.tmp`)."""
        for stale in Path(path).glob(".*.tmp*"):
            if stale.is_file():
                stale.unlink(missing_ok=True)

    def summary(self) -> dict:
        """The finished run's best figure, epoch and steps ({} before it finishes)."""
        path = self.path / "summary.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def save_summary(self, summary: dict) -> None:
        write_json(self.path / "summary.json", summary)

    def load_best(self):
        """The best Keras model."""
        import keras

        return keras.models.load_model(self.best_path)
