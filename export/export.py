"""`tunegen export`: a run folder -> quantized step graphs with manifests, parity-checked."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from tunegen.runtime.errors import ModelError
from tunegen.runtime.manifest import Manifest, sha256_file
from tunegen.runtime.model import StepModel
from tunegen.runtime.paths import write_all_atomic
from tunegen.runtime.vocab import Vocabulary
from tunegen.training import kinds as training_kinds
from tunegen.training.run import RunFolder

from .convert import BOUNDS, TARGETS, check_builtin, check_choices, convert, min_runtime, op_versions
from .parity import step_bits
from .step import build_step_model, state_names


def calibration(run: RunFolder) -> list:
    """Training pieces to calibrate full int8 with: the run's own sample, or for a folder that
    predates it, one drawn again from the run's corpus cache."""
    kept = run.calibration()
    if kept is not None:
        return kept
    from tunegen.training.cache import build_cache, calibration_pieces

    cfg = run.config
    return calibration_pieces(build_cache(cfg.corpus, cfg.kind, cfg.valid_percent, cfg.max_chars), cfg.seed)


def representative_data(step, pieces: list, vocab: Vocabulary, layers: int, units: int,
                        samples: int = 400, steps: int = 256, seed: int = 0):
    """A representative dataset for full-int8 calibration: (token, state) pairs met while the float
    step model reads real training pieces, as dicts keyed by input name."""
    import numpy as np

    from tunegen.training.windows import padded_tunes

    seqs = padded_tunes(pieces, vocab)
    x = np.zeros((len(seqs), min(steps, max(len(q) for q in seqs))), np.int32)
    for i, q in enumerate(seqs):
        x[i, :min(len(q), x.shape[1])] = q[:x.shape[1]]
    state = [np.zeros((len(seqs), units), np.float32) for _ in range(2 * layers)]
    seen = []
    for t in range(x.shape[1]):
        feed = {"token": x[:, t]}
        for i, (h, c) in enumerate(state_names(layers)):
            feed[h], feed[c] = state[2 * i], state[2 * i + 1]
        seen.append({k: np.array(v) for k, v in feed.items()})
        out = step(feed)
        state = [np.asarray(out[f"{k}{i}_out"]) for i in range(layers) for k in "hc"]
    rng = np.random.default_rng(seed)
    picks = [(int(rng.integers(len(seen))), int(rng.integers(len(seqs)))) for _ in range(samples)]
    picks = [(t, b) for t, b in picks if x[b, t] != 0] or [(0, 0)]

    def dataset():
        for t, b in picks:
            yield {k: v[b:b + 1] for k, v in seen[t].items()}

    return dataset


def export_run(run: Path, out: Path, variants: tuple[str, ...] = ("dynamic-int8", "float32"),
               console=None, targets: tuple[str, ...] = ()) -> list[Path]:
    """Export every variant of a run; the first is written as `out`, others as `out-VARIANT`.

    Refuses (raises ModelError, writes nothing more) a variant whose validation loss through the
    step graph is worse than the Keras model's by more than its bound, or that needs a newer
    TFLite runtime than one of `targets` carries.
    """
    from rich.console import Console
    from rich.progress import Progress

    from tunegen.training.train import evaluate_bits

    console = console or Console()
    run, out = Path(run), Path(out)
    try:
        check_choices(variants, targets)
    except ValueError as e:
        raise ModelError(str(e)) from None
    folder = RunFolder.load(run, trained=True)
    keras_model, valid, vocab, kind = folder.load_best(), folder.valid(), folder.vocab, folder.kind
    layers, units = folder.model.layers, folder.model.units
    music = training_kinds.get(kind.name).manifest_music(folder.corpus().get("facts", {}))
    keras_bits = evaluate_bits(keras_model, valid, vocab)
    console.print(f"Keras model: {kind.loss_text(keras_bits)} over {len(valid)} validation pieces")
    step = build_step_model(keras_model, layers, units)
    summary = folder.summary()
    written: list[Path] = []
    staged: list[tuple[Path, bytes]] = []
    refused: list[str] = []
    for i, variant in enumerate(variants):
        try:
            name = out.name if i == 0 else f"{out.name}-{variant}"
            target = out.parent / f"{name}.tflite"
            representative = None
            if variant == "int8":
                representative = representative_data(step, calibration(folder), vocab, layers, units)
            with console.status(f"converting {variant}"):
                data = convert(step, variant, representative)
            check_builtin(data)
            needs = min_runtime(data)
            for t in targets:
                if _version(needs) > _version(TARGETS[t]):
                    raise ModelError(f"{variant} graph needs TFLite runtime {needs} (ops "
                                     f"{_ops_text(op_versions(data))}), newer than --target {t} "
                                     f"({TARGETS[t]}); not written")
            inputs = {"token": "token"}
            outputs = {"logits": "logits"}
            for h, c in state_names(layers):
                inputs[h], inputs[c] = h, c
                outputs[h], outputs[c] = f"{h}_out", f"{c}_out"
            manifest = Manifest(
                kind=kind.name, name=name, tflite=target.name, sha256="",
                vocabulary=list(vocab.tokens), embedding=folder.model.embedding, layers=[units] * layers,
                quantization=variant, inputs=inputs, outputs=outputs,
                state=[{"name": n, "shape": [1, units], "dtype": "float32"}
                       for pair in state_names(layers) for n in pair],
                sampling=dict(kind.sampling), render=dict(kind.render), music=music, min_runtime=needs,
            )
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d) / target.name
                tmp.write_bytes(data)
                manifest.sha256 = sha256_file(tmp)
                total = sum(len(t) + 1 for t in valid)
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task(f"checking {variant} step graph", total=total)
                    bits = step_bits(StepModel(manifest, tmp), valid, vocab,
                                     progress=lambda t=task: progress.advance(t, 64))
            worse = (bits - keras_bits) / keras_bits
            console.print(f"{variant}: {kind.loss_text(bits)} through the step graph vs Keras "
                          f"{kind.loss_text(keras_bits)} ({worse:+.3%}, bound {BOUNDS[variant]:.1%}); "
                          f"{len(data) / 1e6:.2f} MB")
            if worse > BOUNDS[variant]:
                raise ModelError(f"{variant} step graph is {worse:.2%} worse than the Keras model "
                                 f"({kind.loss_text(bits)} vs {kind.loss_text(keras_bits)}; bound "
                                 f"{BOUNDS[variant]:.1%}); not written")
            manifest.provenance = {
                "corpus": folder.config.corpus, "config": asdict(folder.config),
                "model": folder.model.to_dict(), "tokenizer": folder.tokenizer, "run": run.name,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "valid_tunes": len(valid), "valid_bits_per_char": round(bits, 4),
                "keras_valid_bits_per_char": round(keras_bits, 4),
                **_in_unit(kind, bits, keras_bits),
                "train_steps": summary.get("steps"), "best_epoch": summary.get("epoch"),
                "ops": op_versions(data), "targets": list(targets),
            }
            staged += [(target, data), (target.with_suffix(".json"), manifest.to_bytes())]
            written.append(target)
        except ModelError as e:
            console.print(f"refused: {e}")
            refused.append(str(e))
    write_all_atomic(staged)  # all variants or none: a full disk leaves no model without its twin
    for target in written:
        console.print(f"wrote {target} and {target.with_suffix('.json').name}")
    if refused:
        raise ModelError("; ".join(refused) + (f" (wrote {', '.join(p.name for p in written)})" if written else ""))
    return written


def _in_unit(kind, bits: float, keras_bits: float) -> dict:
    """The step graph's and the Keras model's loss in the kind's own unit, where that is not bits."""
    if kind.loss_scale == 1.0:
        return {}
    key = kind.loss_unit.replace("/", "_per_")  # "nats/token" -> valid_nats_per_token
    return {f"valid_{key}": round(bits * kind.loss_scale, 4),
            f"keras_valid_{key}": round(keras_bits * kind.loss_scale, 4)}


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".")[:3] if x.isdigit()) if v else (0,)


def _ops_text(ops: dict[str, int]) -> str:
    return ", ".join(f"{k} v{v}" for k, v in sorted(ops.items()))
