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

from tunegen.runtime import kinds
from tunegen.runtime.kinds.base import Kind
from tunegen.runtime.manifest import write_atomic
from tunegen.runtime.vocab import Vocabulary

from .model import ModelConfig, build_model
from .windows import bits_per_char, length_batches, padded_tunes

# Options that may change between a run and its resumption; any other change is a new run.
_RESUMABLE = {"epochs", "max_steps", "patience", "strategy", "precision"}


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
    strategy: str = "auto"  # auto, one, mirrored, multiworker (tf.distribute)
    precision: str = "float32"  # or "mixed": float16 compute, float32 logits and weights


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


class CheckpointError(OSError):
    """A checkpoint could not be written (a full disk, say); the previous one is intact."""


def _save_keras(model, path: Path) -> None:
    """Save through a temporary file and a rename: a failed write leaves the previous file whole."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not write {path.name} ({e.strerror or e}); "
                              f"{'the previous one is intact' if path.exists() else 'nothing was written'}: "
                              "free some space and run the same command to resume") from None


def evaluate_bits(model, tunes: list, vocab: Vocabulary, batch: int = 32) -> float:
    """Bits per token of `tunes` (texts or token lists), each read whole from its start token."""
    return evaluate_ids(model, padded_tunes(tunes, vocab), batch)


def run_scorer(run: Path):
    """(runtime kind, vocabulary, score) of a run folder's best model, where score(pieces) is bits/token."""
    import keras

    from tunegen.runtime.errors import ModelError

    cfg = json.loads((Path(run) / "config.json").read_text())
    if not (Path(run) / "model.keras").exists():
        raise ModelError(f"{run}: no trained model.keras yet")
    vocab = Vocabulary(tuple(cfg["vocab"]))
    net = keras.models.load_model(Path(run) / "model.keras")
    return kinds.get(cfg["train"].get("kind", "abc")), vocab, lambda pieces: evaluate_bits(net, pieces, vocab)


def calibration_sample(cache, seed: int, count: int = 32) -> list:
    """A few training pieces of a token cache, kept in the run folder to calibrate full-int8 export
    with real data."""
    train_idx = cache.split()[0]
    picks = np.random.default_rng(seed).choice(len(train_idx), min(count, len(train_idx)), replace=False)
    return [cache.piece(int(train_idx[i])) for i in sorted(picks)]


def evaluate_ids(model, seqs: list[np.ndarray], batch: int = 32, distributed: bool = False) -> float:
    """Bits per token of id sequences (start ... end), each read whole (full context). A model
    trained under a multi-replica strategy is called directly (its predict would split the batch)."""
    total, count = 0.0, 0
    for x, y, mask in length_batches(seqs, batch):
        logits = np.asarray(model(x, training=False) if distributed else model.predict_on_batch(x))
        s, n = bits_per_char(logits, y, mask)
        total, count = total + s, count + n
    return total / max(count, 1)


def save_loss_curve(history: list[dict], kind: Kind, path: Path) -> None:
    """Train and validation loss against steps, as a PNG (written atomically)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    unit, scale = kind.loss_unit, kind.loss_scale
    fig = Figure(figsize=(6, 3.5), dpi=100)
    ax = fig.add_subplot()
    steps = [h["steps"] for h in history]
    ax.plot(steps, [h["train_loss"] / math.log(2) * scale for h in history], "o-", label="train")
    ax.plot(steps, [h["valid_bits"] * scale for h in history], "o-", label="validation")
    ax.set_xlabel("steps")
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())


def train(cfg: TrainConfig, out: Path, console=None) -> RunState:
    """Train (or resume) a run in `out`; returns the final state. Raises CorpusError on bad data and
    TrainingSetupError when the strategy or precision cannot be had."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batches import WindowBatches, WindowIndex
    from .cache import build_cache
    from .devices import cudnn_problems, place, precision_policy, use_xla

    console = console or Console()
    out = Path(out)
    kind = kinds.get(cfg.kind)
    with Progress(TextColumn("reading corpus"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        def progress(total):
            task = bar.add_task("read", total=total)
            return lambda: bar.advance(task)

        cache = build_cache(cfg.corpus, cfg.kind, cfg.valid_percent, cfg.max_chars, progress=progress,
                            report=console.print)
    console.print(f"corpus: {cache.summary()}")
    import keras

    placement = place(cfg.strategy)
    policy, warning = precision_policy(cfg.precision, placement.gpus)
    if warning:
        console.print(f"warning: {warning}")
    keras.mixed_precision.set_global_policy(policy)
    if placement.chief:
        run_dir = out
    else:  # other workers train in step but keep their files to themselves
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="tunegen-worker-"))
    run_dir.mkdir(parents=True, exist_ok=True)  # only once there is something to train on
    state_path, ckpt_path, best_path = run_dir / "state.json", run_dir / "checkpoint.keras", run_dir / "model.keras"
    vocab = cache.vocab
    tokenizer = cache.meta["tokenizer"]
    mcfg = ModelConfig(len(vocab), cfg.embedding, cfg.units, cfg.layers, cfg.dropout)
    train_idx, valid_idx = cache.split()
    global_batch = cfg.batch_size * placement.replicas

    state = RunState()
    # every worker resumes from the chief's run folder (shared storage); only the chief writes it
    saved_state, saved_ckpt = out / "state.json", out / "checkpoint.keras"
    with placement.scope():
        if saved_state.exists() and saved_ckpt.exists():
            old = json.loads((out / "config.json").read_text())
            defaults = asdict(TrainConfig(cfg.corpus))  # options added since the run began
            changed = {k for k, v in asdict(cfg).items() if old["train"].get(k, defaults[k]) != v} - _RESUMABLE
            if changed or old["vocab"] != list(vocab.tokens):
                raise ValueError(
                    f"{out} holds a run with other settings ({', '.join(sorted(changed)) or 'vocabulary'}); "
                    "use a new --out folder, or the same options to resume"
                )
            state = RunState(**json.loads(saved_state.read_text()))
            if state.finished and state.epoch < cfg.epochs and state.bad_epochs < cfg.patience and (
                    cfg.max_steps is None or state.steps < cfg.max_steps):
                state.finished = False  # asked for more epochs or steps than it had: go on
            model = keras.models.load_model(saved_ckpt)
            console.print(f"{out} finished after epoch {state.epoch}" if state.finished else
                          f"resuming {out} after epoch {state.epoch} ({state.steps} steps)")
        else:
            keras.utils.set_random_seed(cfg.seed)
            model = build_model(mcfg)
            model.compile(optimizer=keras.optimizers.Adam(cfg.lr, clipnorm=1.0),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          jit_compile=use_xla(placement.gpus))
    _json(run_dir / "config.json", {"train": asdict(cfg), "model": mcfg.to_dict(),
                                    "vocab": list(vocab.tokens), "tokenizer": tokenizer})
    _json(run_dir / "vocab.json", list(vocab.tokens))
    _json(run_dir / "corpus.json", {"spec": cfg.corpus, "files": cache.meta["files"], "train": len(train_idx),
                                    "valid": len(valid_idx), "skipped": cache.meta["skipped"],
                                    "cache": str(cache.path)})
    _json(run_dir / "valid.json", [cache.piece(int(i)) for i in valid_idx])
    _json(run_dir / "calibration.json", calibration_sample(cache, cfg.seed))
    console.print(placement.line)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    problems = sorted({p for layer in lstms for p in cudnn_problems(layer)})
    console.print(f"model: {model.count_params():,} parameters (embedding {cfg.embedding}, {cfg.layers}x LSTM "
                  f"{cfg.units}, vocab {len(vocab)}); {policy}; LSTM layers "
                  + ("qualify for cuDNN on a GPU" if not problems else f"miss cuDNN ({', '.join(problems)})")
                  + f"; global batch {global_batch} ({placement.replicas} replica(s))")

    unit, scale = kind.loss_unit, kind.loss_scale
    valid_seqs = [cache.ids(int(i)) for i in valid_idx]
    windows = WindowIndex(cache, train_idx, cfg.seq_len)
    per_epoch = max(len(windows) // global_batch, 1)
    tables = None
    if cfg.transpose:
        from tunegen.runtime.events import transpose_table

        tables = {k: np.asarray(transpose_table(vocab, k), np.int32)
                  for k in range(-cfg.transpose, cfg.transpose + 1)}
    callbacks = [keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"), update_freq="epoch")] \
        if placement.chief and keras.config.backend() == "tensorflow" else []

    class _Bar(keras.callbacks.Callback):
        def __init__(self, progress, task, tokens_per_step):
            super().__init__()
            self.progress, self.task, self.tokens_per_step = progress, task, tokens_per_step
            self.start, self.done = time.perf_counter(), 0

        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            loss = (logs or {}).get("loss")
            rate = self.done * self.tokens_per_step / max(time.perf_counter() - self.start, 1e-9)
            self.progress.update(self.task, advance=1, rate=f"{rate:,.0f}",
                                 loss=f"{float(loss) / math.log(2) * scale:.3f}" if loss is not None else "")

    while not state.finished and state.epoch < cfg.epochs:
        steps = per_epoch if cfg.max_steps is None else min(per_epoch, cfg.max_steps - state.steps)
        if steps <= 0:
            break
        rng = np.random.default_rng(cfg.seed + state.epoch)
        shifts = rng.integers(-cfg.transpose, cfg.transpose + 1, len(cache)) if tables else None
        order = rng.permutation(len(windows))[:steps * global_batch]
        data = WindowBatches(windows, order, global_batch, tables, shifts)
        with Progress(TextColumn(f"epoch {state.epoch + 1}/{cfg.epochs}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn(f"train {{task.fields[loss]}} {unit}, {{task.fields[rate]}} tokens/s"),
                      TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task("train", total=len(data), loss="", rate="")
            bar = _Bar(progress, task, data.tokens / max(len(data), 1))
            if placement.name == "multiworker":
                from .distributed import fit_epoch

                train_loss = fit_epoch(model, data, placement.strategy,
                                       lambda loss, bar=bar: bar.on_train_batch_end(0, {"loss": loss}))
            else:
                hist = model.fit(data, epochs=state.epoch + 1, initial_epoch=state.epoch, verbose=0,
                                 callbacks=[bar, *callbacks])
                train_loss = float(hist.history["loss"][-1])
        rate = data.tokens / max(time.perf_counter() - bar.start, 1e-9)
        bits = evaluate_ids(model, valid_seqs, distributed=placement.replicas > 1)
        state.epoch += 1
        state.steps += len(data)
        state.history.append({"epoch": state.epoch, "steps": state.steps, "valid_bits": bits,
                              "train_loss": train_loss, "tokens_per_s": round(rate)})
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
        save_loss_curve(state.history, kind, run_dir / "loss.png")
        console.print(f"epoch {state.epoch}: {state.steps} steps, validation {kind.loss_text(bits)}, "
                      f"{rate:,.0f} tokens/s" + (" (best)" if improved else ""))
    if state.finished and not best_path.exists():
        shutil.copy(ckpt_path, best_path)
    _json(run_dir / "summary.json", {"valid_bits": state.best_bits, "epoch": state.best_epoch,
                                     "steps": state.steps,
                                     "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    if not placement.chief:
        shutil.rmtree(run_dir, ignore_errors=True)
    console.print(f"done: best validation {kind.loss_text(state.best_bits)} at epoch {state.best_epoch}; "
                  f"model in {best_path}")
    return state
