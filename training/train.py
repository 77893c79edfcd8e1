"""The training loop: tune-aligned windows, a progress bar, a checkpoint and validation loss every
epoch (in the kind's unit: bits/char for ABC, nats/token for MIDI events), resume after an
interruption, early stopping on validation.

`train` runs three steps: `prepare` (the corpus cache, the devices, the run folder), `resume_or_build`
(the model and its progress) and `fit_epochs` (the epoch loop)."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tunegen.runtime.kinds.base import Kind
from tunegen.runtime.manifest import write_atomic
from tunegen.runtime.vocab import Vocabulary

from .config import ConfigError, TrainConfig
from .model import ModelConfig, build_model
from .run import CheckpointError, RunFolder, RunState, save_keras
from .windows import bits_per_char, length_batches, padded_tunes

__all__ = ["CheckpointError", "ConfigError", "RunState", "TrainConfig", "train"]

# Options that may change between a run and its resumption; any other change is a new run.
_RESUMABLE = {"epochs", "max_steps", "patience", "strategy", "precision"}


def evaluate_bits(model, tunes: list, vocab: Vocabulary, batch: int = 32) -> float:
    """Bits per token of `tunes` (texts or token lists), each read whole from its start token."""
    return evaluate_ids(model, padded_tunes(tunes, vocab), batch)


def run_scorer(path: Path):
    """(runtime kind, vocabulary, score) of a run folder's best model, where score(pieces) is bits/token."""
    run = RunFolder.load(path, trained=True)
    net = run.load_best()
    return run.kind, run.vocab, lambda pieces: evaluate_bits(net, pieces, run.vocab)


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


@dataclass
class Prepared:
    """What a run trains on and where: the corpus cache, the placement, the run folders."""

    cfg: TrainConfig
    cache: object  # a TokenCache
    placement: object  # a devices.Placement
    policy: str
    run: RunFolder  # where this process writes (a scratch folder on workers other than the chief)
    saved: Path  # the chief's run folder, which every worker resumes from

    @property
    def global_batch(self) -> int:
        return self.cfg.batch_size * self.placement.replicas


def prepare(cfg: TrainConfig, out: Path, console) -> Prepared:
    """Read (or reuse) the corpus cache, place the run on its devices and make its folder.
    Raises CorpusError on bad data and TrainingSetupError when the strategy or precision cannot be had."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .cache import build_cache
    from .devices import place, precision_policy

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
        run_dir = Path(out)
    else:  # other workers train in step but keep their files to themselves
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="tunegen-worker-"))
    run_dir.mkdir(parents=True, exist_ok=True)  # only once there is something to train on
    if placement.chief:
        RunFolder.remove_stale(run_dir)
    mcfg = ModelConfig(len(cache.vocab), cfg.embedding, cfg.units, cfg.layers, cfg.dropout)
    run = RunFolder(run_dir, cfg, mcfg, cache.vocab, cache.meta["tokenizer"])
    return Prepared(cfg, cache, placement, policy, run, Path(out))


def resume_or_build(p: Prepared, console):
    """(model, state): the chief's last checkpoint and progress when the same run was begun before,
    else a new compiled model. Raises ValueError when the folder holds a run with other settings."""
    import keras

    from .devices import use_xla

    cfg, saved = p.cfg, p.saved
    with p.placement.scope():
        old = RunFolder.load(saved) if RunFolder.is_run(saved) else None
        state = old.state() if old else None
        if old and state and old.checkpoint_path.exists():
            changed = {f.name for f in fields(cfg)
                       if getattr(old.config, f.name) != getattr(cfg, f.name)} - _RESUMABLE
            if changed or old.vocab != p.run.vocab:
                raise ValueError(
                    f"{saved} holds a run with other settings ({', '.join(sorted(changed)) or 'vocabulary'}); "
                    "use a new --out folder, or the same options to resume")
            if state.finished and state.epoch < cfg.epochs and state.bad_epochs < cfg.patience and (
                    cfg.max_steps is None or state.steps < cfg.max_steps):
                state.finished = False  # asked for more epochs or steps than it had: go on
            model = keras.models.load_model(old.checkpoint_path)
            console.print(f"{saved} finished after epoch {state.epoch}" if state.finished else
                          f"resuming {saved} after epoch {state.epoch} ({state.steps} steps)")
            return model, state
        keras.utils.set_random_seed(cfg.seed)
        model = build_model(p.run.model)
        model.compile(optimizer=keras.optimizers.Adam(cfg.lr, clipnorm=1.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=use_xla(p.placement.gpus))
    return model, RunState()


def _describe(p: Prepared, model, console) -> None:
    import keras

    from .devices import cudnn_problems

    cfg = p.cfg
    console.print(p.placement.line)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    problems = sorted({q for layer in lstms for q in cudnn_problems(layer)})
    console.print(f"model: {model.count_params():,} parameters (embedding {cfg.embedding}, {cfg.layers}x LSTM "
                  f"{cfg.units}, vocab {len(p.run.vocab)}); {p.policy}; LSTM layers "
                  + ("qualify for cuDNN on a GPU" if not problems else f"miss cuDNN ({', '.join(problems)})")
                  + f"; global batch {p.global_batch} ({p.placement.replicas} replica(s))")


def _save_setup(p: Prepared) -> None:
    from .cache import calibration_pieces

    cache = p.cache
    train_idx, valid_idx = cache.split()
    p.run.save(corpus={"spec": p.cfg.corpus, "files": cache.meta["files"], "train": len(train_idx),
                       "valid": len(valid_idx), "skipped": cache.meta["skipped"], "facts": cache.meta.get("facts", {}),
                       "cache": str(cache.path)},
               valid=[cache.piece(int(i)) for i in valid_idx],
               calibration=calibration_pieces(cache, p.cfg.seed))


def fit_epochs(p: Prepared, model, state: RunState, console) -> RunState:
    """Train epoch after epoch until the epochs, the steps or the patience run out, saving the best
    model, a checkpoint and the state after each."""
    import keras
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batches import WindowBatches, WindowIndex
    from .kinds import get as training_kind

    cfg, cache, run, kind = p.cfg, p.cache, p.run, p.run.kind
    unit, scale = kind.loss_unit, kind.loss_scale
    train_idx, valid_idx = cache.split()
    valid_seqs = [cache.ids(int(i)) for i in valid_idx]
    windows = WindowIndex(cache, train_idx, cfg.seq_len)
    per_epoch = max(len(windows) // p.global_batch, 1)
    tables = None
    if cfg.transpose:
        tk = training_kind(cfg.kind)
        tables = {k: tk.transpose_table(run.vocab, k) for k in range(-cfg.transpose, cfg.transpose + 1)}
    callbacks = [keras.callbacks.TensorBoard(log_dir=str(run.path / "logs"), update_freq="epoch")] \
        if p.placement.chief and keras.config.backend() == "tensorflow" else []

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
        order = rng.permutation(len(windows))[:steps * p.global_batch]
        data = WindowBatches(windows, order, p.global_batch, tables, shifts)
        with Progress(TextColumn(f"epoch {state.epoch + 1}/{cfg.epochs}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn(f"train {{task.fields[loss]}} {unit}, {{task.fields[rate]}} tokens/s"),
                      TimeRemainingColumn(), console=console, transient=True) as progress:
            task = progress.add_task("train", total=len(data), loss="", rate="")
            bar = _Bar(progress, task, data.tokens / max(len(data), 1))
            if p.placement.name == "multiworker":
                from .distributed import fit_epoch

                train_loss = fit_epoch(model, data, p.placement.strategy,
                                       lambda loss, bar=bar: bar.on_train_batch_end(0, {"loss": loss}))
            else:
                hist = model.fit(data, epochs=state.epoch + 1, initial_epoch=state.epoch, verbose=0,
                                 callbacks=[bar, *callbacks])
                train_loss = float(hist.history["loss"][-1])
        rate = data.tokens / max(time.perf_counter() - bar.start, 1e-9)
        bits = evaluate_ids(model, valid_seqs, distributed=p.placement.replicas > 1)
        state.epoch += 1
        state.steps += len(data)
        state.history.append({"epoch": state.epoch, "steps": state.steps, "valid_bits": bits,
                              "train_loss": train_loss, "tokens_per_s": round(rate)})
        improved = state.best_bits is None or bits < state.best_bits - 1e-3
        if improved:
            state.best_bits, state.best_epoch, state.bad_epochs = bits, state.epoch, 0
        else:
            state.bad_epochs += 1
        state.finished = (state.bad_epochs >= cfg.patience or state.epoch >= cfg.epochs
                          or (cfg.max_steps is not None and state.steps >= cfg.max_steps))
        if improved:
            save_keras(model, run.best_path)
        run.save_checkpoint(model, state)
        if state.bad_epochs >= cfg.patience:
            console.print(f"stopping early: no gain for {cfg.patience} epochs")
        save_loss_curve(state.history, kind, run.path / "loss.png")
        console.print(f"epoch {state.epoch}: {state.steps} steps, validation {kind.loss_text(bits)}, "
                      f"{rate:,.0f} tokens/s" + (" (best)" if improved else ""))
    return state


def train(cfg: TrainConfig, out: Path, console=None) -> RunState:
    """Train (or resume) a run in `out`; returns the final state. Raises CorpusError on bad data,
    TrainingSetupError when the strategy or precision cannot be had, ValueError when `out` holds
    another run."""
    from rich.console import Console

    console = console or Console()
    p = prepare(cfg, out, console)
    model, state = resume_or_build(p, console)
    _save_setup(p)
    _describe(p, model, console)
    state = fit_epochs(p, model, state, console)
    run = p.run
    if state.finished and not run.best_path.exists():
        shutil.copy(run.checkpoint_path, run.best_path)
    run.save_summary({"valid_bits": state.best_bits, "epoch": state.best_epoch, "steps": state.steps,
                      "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    if not p.placement.chief:
        shutil.rmtree(run.path, ignore_errors=True)
    console.print(f"done: best validation {run.kind.loss_text(state.best_bits)} at epoch {state.best_epoch}; "
                  f"model in {run.best_path}")
    return state
