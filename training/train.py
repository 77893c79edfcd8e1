"""The training loop: tune-aligned windows, a progress bar, a checkpoint and validation loss every
epoch (bits/char for ABC, nats/token for MIDI events), resume after an interruption, early stopping
on validation."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tunegen.runtime.manifest import write_atomic
from tunegen.runtime.vocab import Vocabulary

from .corpus import load_corpus
from .model import ModelConfig, build_model
from .windows import bits_per_char, id_windows, length_batches, padded_tunes

# Options that may change between a run and its resumption; any other change is a new run.
_RESUMABLE = {"epochs", "max_steps", "patience"}


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved in the run folder as `config.json`."""

    corpus: str
    kind: str = "abc"  # "abc" (characters) or "midi" (note events)
    transpose: int = 0  # MIDI: each epoch shifts every training piece by a random -N..N semitones
    embedding: int = 64
    units: int = 384
    layers: int = 2
    dropout: float = 0.15
    epochs: int = 40
    max_steps: int | None = None
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 2e-3
    patience: int = 3
    valid_percent: int = 10
    max_chars: int = 3000
    seed: int = 0


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


def _json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=1) + "\n").encode())


def _save_keras(model, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


UNITS = {"abc": ("bits/char", 1.0), "midi": ("nats/token", math.log(2))}


def loss_text(kind: str, bits: float) -> str:
    """A validation figure in the unit of its model kind (bits/char or nats/token)."""
    unit, scale = UNITS[kind]
    return f"{bits * scale:.4f} {unit}"


def evaluate_bits(model, tunes: list, vocab: Vocabulary, batch: int = 32) -> float:
    """Bits per token of `tunes`, each read whole from its start token (full context)."""
    total, count = 0.0, 0
    for x, y, mask in length_batches(padded_tunes(tunes, vocab), batch):
        logits = np.asarray(model.predict_on_batch(x))
        s, n = bits_per_char(logits, y, mask)
        total, count = total + s, count + n
    return total / max(count, 1)


def calibration_sample(tunes: list, seed: int, count: int = 32) -> list:
    """A few training pieces, kept in the run folder to calibrate full-int8 export with real data."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(tunes), min(count, len(tunes)), replace=False)
    return [tunes[int(i)] for i in sorted(picks)]


def device_line() -> str:
    """One line saying where training runs."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"training on {len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}"
    return "no GPU found: training on the CPU (slower; sizes and steps as configured)"


def train(cfg: TrainConfig, out: Path, console=None) -> RunState:
    """Train (or resume) a run in `out`; returns the final state. Raises CorpusError on bad data."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = console or Console()
    out = Path(out)
    state_path, ckpt_path, best_path = out / "state.json", out / "checkpoint.keras", out / "model.keras"

    if cfg.kind not in UNITS:
        raise ValueError(f"unknown model kind {cfg.kind!r}; use one of {', '.join(UNITS)}")
    if cfg.kind == "midi":
        from tunegen.runtime.events import TOKENIZER, event_vocabulary

        from .midi_corpus import load_midi_corpus

        with Progress(TextColumn("reading corpus"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console, transient=True) as bar:
            def progress(total):
                task = bar.add_task("read", total=total)
                return lambda: bar.advance(task)

            corpus = load_midi_corpus(cfg.corpus, cfg.valid_percent, progress=progress)
        vocab, tokenizer = event_vocabulary(), TOKENIZER
    else:
        corpus = load_corpus(cfg.corpus, cfg.valid_percent, cfg.max_chars)
        vocab, tokenizer = Vocabulary.from_texts(corpus.train + corpus.valid), "abc-char-1"
    console.print(f"corpus: {corpus.summary()}")
    out.mkdir(parents=True, exist_ok=True)  # only once there is something to train on
    mcfg = ModelConfig(len(vocab), cfg.embedding, cfg.units, cfg.layers, cfg.dropout)

    import keras

    state = RunState()
    if state_path.exists() and ckpt_path.exists():
        old = json.loads((out / "config.json").read_text())
        defaults = asdict(TrainConfig(cfg.corpus))  # options added since the run began
        changed = {k for k, v in asdict(cfg).items() if old["train"].get(k, defaults[k]) != v} - _RESUMABLE
        if changed or old["vocab"] != list(vocab.tokens):
            raise ValueError(
                f"{out} holds a run with other settings ({', '.join(sorted(changed)) or 'vocabulary'}); "
                "use a new --out folder, or the same options to resume"
            )
        state = RunState(**json.loads(state_path.read_text()))
        model = keras.models.load_model(ckpt_path)
        console.print(f"{out} finished after epoch {state.epoch}" if state.finished else
                      f"resuming {out} after epoch {state.epoch} ({state.steps} steps)")
    else:
        keras.utils.set_random_seed(cfg.seed)
        model = build_model(mcfg)
        model.compile(optimizer=keras.optimizers.Adam(cfg.lr, clipnorm=1.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)  # XLA made CPU training slower, not faster
    _json(out / "config.json", {"train": asdict(cfg), "model": mcfg.to_dict(),
                                "vocab": list(vocab.tokens), "tokenizer": tokenizer})
    _json(out / "vocab.json", list(vocab.tokens))
    _json(out / "corpus.json", {"spec": cfg.corpus, "files": corpus.files, "train": len(corpus.train),
                                "valid": len(corpus.valid), "skipped": dict(corpus.skipped)})
    _json(out / "valid.json", corpus.valid)
    _json(out / "calibration.json", calibration_sample(corpus.train, cfg.seed))
    console.print(device_line())
    console.print(f"model: {model.count_params():,} parameters "
                  f"(embedding {cfg.embedding}, {cfg.layers}x LSTM {cfg.units}, vocab {len(vocab)})")

    unit, scale = UNITS[cfg.kind]
    seqs = padded_tunes(corpus.train, vocab)
    x, y, w = id_windows(seqs, cfg.seq_len)
    per_epoch = math.ceil(len(x) / cfg.batch_size)
    tables = None
    if cfg.transpose:
        from tunegen.runtime.events import transpose_table

        tables = {k: np.asarray(transpose_table(vocab, k), np.int32)
                  for k in range(-cfg.transpose, cfg.transpose + 1)}

    class _Bar(keras.callbacks.Callback):
        def __init__(self, progress, task):
            super().__init__()
            self.progress, self.task = progress, task

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            self.progress.update(self.task, advance=1,
                                 loss=f"{float(loss) / math.log(2) * scale:.3f}" if loss is not None else "")

    while not state.finished and state.epoch < cfg.epochs:
        steps = per_epoch if cfg.max_steps is None else min(per_epoch, cfg.max_steps - state.steps)
        if steps <= 0:
            break
        rng = np.random.default_rng(cfg.seed + state.epoch)
        if tables:  # key augmentation: this epoch's shift per piece, from the epoch's own seed
            shifts = rng.integers(-cfg.transpose, cfg.transpose + 1, len(seqs))
            x, y, w = id_windows([tables[int(k)][s] for k, s in zip(shifts, seqs, strict=True)], cfg.seq_len)
        order = rng.permutation(len(x))[:steps * cfg.batch_size]
        with Progress(TextColumn(f"epoch {state.epoch + 1}/{cfg.epochs}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn(f"train {{task.fields[loss]}} {unit}"),
                      TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task("train", total=steps, loss="")
            hist = model.fit(x[order], y[order], sample_weight=w[order], batch_size=cfg.batch_size,
                             epochs=1, shuffle=False, verbose=0, callbacks=[_Bar(progress, task)])
        train_loss = float(hist.history["loss"][-1])
        bits = evaluate_bits(model, corpus.valid, vocab)
        state.epoch += 1
        state.steps += steps
        state.history.append({"epoch": state.epoch, "steps": state.steps, "valid_bits": bits,
                              "train_loss": train_loss})
        improved = state.best_bits is None or bits < state.best_bits - 1e-3
        if improved:
            state.best_bits, state.best_epoch, state.bad_epochs = bits, state.epoch, 0
            _save_keras(model, best_path)
        else:
            state.bad_epochs += 1
        _save_keras(model, ckpt_path)
        if state.bad_epochs >= cfg.patience:
            state.finished = True
            console.print(f"stopping early: no gain for {cfg.patience} epochs")
        if cfg.max_steps is not None and state.steps >= cfg.max_steps:
            state.finished = True
        if state.epoch >= cfg.epochs:
            state.finished = True
        _json(state_path, asdict(state))
        console.print(f"epoch {state.epoch}: {state.steps} steps, validation {loss_text(cfg.kind, bits)}"
                      + (" (best)" if improved else ""))
    if state.finished and not best_path.exists():
        shutil.copy(ckpt_path, best_path)
    _json(out / "summary.json", {"valid_bits": state.best_bits, "epoch": state.best_epoch,
                                 "steps": state.steps,
                                 "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    console.print(f"done: best validation {loss_text(cfg.kind, state.best_bits)} at epoch {state.best_epoch}; "
                  f"model in {best_path}")
    return state
