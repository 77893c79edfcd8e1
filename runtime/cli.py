"""The `tunegen` command line: play, generate, models, train, export."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import TunegenError

app = typer.Typer(
    help="Generate and play new tunes offline from small quantized LSTM models.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model on a corpus (needs the `train` extra).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Shipped model name or path to a .tflite/.json.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", "-s", help="Same seed and settings, same tune. Random if not given.")]
TempOpt = Annotated[float | None, typer.Option("--temperature", "-t", help="Below 1 is safer, above 1 wilder. Model default if not given.")]
TopKOpt = Annotated[int | None, typer.Option("--top-k", help="Sample only from the K likeliest symbols (0: off).")]
TopPOpt = Annotated[float | None, typer.Option("--top-p", help="Sample only from the likeliest symbols holding this much probability.")]
PrimerOpt = Annotated[str, typer.Option("--primer", "-p", help="ABC models: header fields like 'M:6/8 K:Dmix' and/or opening bars to continue. MIDI models: a .mid or score file whose opening bars to continue.")]
CountOpt = Annotated[int, typer.Option("--count", "-n", help="How many pieces.")]
MaxLenOpt = Annotated[int | None, typer.Option("--max-length", help="Most tokens per piece (characters for ABC models).")]
BarsOpt = Annotated[int | None, typer.Option("--bars", help="MIDI models: length in bars (default from the model).")]
CandidatesOpt = Annotated[int, typer.Option("--candidates", help="Sample N pieces together (one batched step) and keep the one the model finds likeliest.")]
SecondsOpt = Annotated[float | None, typer.Option("--seconds", help="MIDI models: length in seconds, ended at the next barline.")]
SoundFontOpt = Annotated[Path | None, typer.Option("--soundfont", help="General MIDI .sf2 to render with (default: the system's).")]
BpmOpt = Annotated[float | None, typer.Option("--bpm", help="Tempo in quarter notes per minute (model default if not given).")]
ProgramOpt = Annotated[int | None, typer.Option("--program", help="General MIDI program 0-127 (model default if not given).")]


def _fail(message: str, code: int = 1):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool):
    if value:
        from tunegen import __version__

        typer.echo(f"tunegen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False):
    """Generate and play new tunes offline from small quantized LSTM models."""


def _check_outputs(outs: list[Path], kind: str = "") -> None:
    from .api import MIDI_KIND, suffixes

    allowed = suffixes(kind)
    for out in outs:
        if out.suffix.lower() not in allowed:
            why = " (a MIDI event model makes no ABC)" if kind == MIDI_KIND and out.suffix.lower() == ".abc" else ""
            _fail(f"cannot write {out}: the suffix picks the format, one of {', '.join(allowed)}{why}")
        if not out.parent.exists():
            _fail(f"cannot write {out}: folder {out.parent} does not exist")


def _numbered(path: Path, index: int, count: int) -> Path:
    return path if count == 1 else path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


def _run(model, seed, temperature, top_k, top_p, primer, count, max_length, soundfont, bpm,
         program, outs: list[Path], play: bool, bars=None, seconds=None, candidates: int = 1) -> None:
    from .api import load
    from .manifest import write_atomic

    _check_outputs(outs)
    m = load(model, soundfont=soundfont, bpm=bpm, program=program)
    _check_outputs(outs, m.manifest.kind)
    if play or any(o.suffix.lower() == ".wav" for o in outs):
        m.soundfont()  # a missing SoundFont stops us before any sampling
    kwargs = dict(seed=seed, temperature=temperature, top_k=top_k, top_p=top_p, primer=primer,
                  max_length=max_length, bars=bars, seconds=seconds, candidates=candidates)
    if count > 1:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("generating", total=count)
            pieces = m.generate_many(count, progress=lambda: progress.advance(task), **kwargs)
    else:
        pieces = m.generate_many(1, **kwargs)
    resampled = sum(p.resampled for p in pieces)
    if resampled:
        typer.echo(f"resampled {resampled} tune(s) that did not parse", err=True)
    abc_outs = [o for o in outs if o.suffix.lower() == ".abc"]
    for o in abc_outs:
        write_atomic(o, "\n".join(p.tune.document(i + 1) for i, p in enumerate(pieces)).encode())
        typer.echo(f"wrote {o}")
    for i, piece in enumerate(pieces):
        if m.is_midi:
            typer.echo(f"piece {i + 1}: {piece.describe()}")
        elif play or not abc_outs:
            typer.echo(piece.tune.document(i + 1))
        for o in outs:
            if o.suffix.lower() != ".abc":
                typer.echo(f"wrote {piece.save(_numbered(o, i, count))}")
        if play:
            from .playback import NoAudioDevice
            from .render import SAMPLE_RATE

            try:
                typer.echo(f"playing piece {i + 1} of {count} ({len(piece.audio()) / SAMPLE_RATE:.0f} s)...",
                           err=True)
                typer.echo(f"played on {piece.play()}", err=True)
            except NoAudioDevice as e:
                if any(o.suffix.lower() == ".wav" for o in outs):
                    typer.echo(f"{e}; the piece is in the WAV written above", err=True)
                    continue
                fallback = piece.save(f"tune-{piece.seed}" + (f"-{i + 1}" if count > 1 else "") + ".wav")
                typer.echo(f"{e}; wrote {fallback} instead", err=True)


@app.command()
def play(
    model: ModelOpt = "folk", seed: SeedOpt = None, temperature: TempOpt = None, top_k: TopKOpt = None,
    top_p: TopPOpt = None, primer: PrimerOpt = "", count: CountOpt = 1, max_length: MaxLenOpt = None,
    soundfont: SoundFontOpt = None, bpm: BpmOpt = None, program: ProgramOpt = None,
    bars: BarsOpt = None, seconds: SecondsOpt = None, candidates: CandidatesOpt = 1,
    out: Annotated[list[Path] | None, typer.Option("--out", "-o", help="Also write the piece: .abc, .mid or .wav (repeatable).")] = None,
):
    """Generate a new piece and play it (writes a WAV when there is no audio device)."""
    _run(model, seed, temperature, top_k, top_p, primer, count, max_length, soundfont, bpm, program,
         out or [], play=True, bars=bars, seconds=seconds, candidates=candidates)


@app.command()
def generate(
    out: Annotated[list[Path], typer.Option("--out", "-o", help="Write the piece: .abc, .mid or .wav by suffix (repeatable).")],
    model: ModelOpt = "folk", seed: SeedOpt = None, temperature: TempOpt = None, top_k: TopKOpt = None,
    top_p: TopPOpt = None, primer: PrimerOpt = "", count: CountOpt = 1, max_length: MaxLenOpt = None,
    soundfont: SoundFontOpt = None, bpm: BpmOpt = None, program: ProgramOpt = None,
    bars: BarsOpt = None, seconds: SecondsOpt = None, candidates: CandidatesOpt = 1,
):
    """Generate new pieces and write them to files (ABC, MIDI, WAV)."""
    _run(model, seed, temperature, top_k, top_p, primer, count, max_length, soundfont, bpm, program,
         out, play=False, bars=bars, seconds=seconds, candidates=candidates)


@app.command()
def radio(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model(s) to rotate through (repeatable). Default: folk.")] = None,
    temperature: Annotated[list[float] | None, typer.Option("--temperature", "-t", help="Temperature(s) to rotate through (repeatable). Default: the model's.")] = None,
    pause: Annotated[float, typer.Option(help="Seconds of silence between pieces.")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="Seed of the first piece; the next ones count up. Random if not given.")] = None,
    keep: Annotated[Path | None, typer.Option(help="Keep every piece played (ABC or MIDI, its seed in the name) in this folder.")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Write the pieces (WAV and ABC/MIDI) here instead of playing them: headless radio.")] = None,
    max_pieces: Annotated[int | None, typer.Option(help="Stop after this many pieces (default: never).")] = None,
    soundfont: SoundFontOpt = None,
):
    """Play new pieces without end, for a kiosk: the next is made while the current one plays."""
    import signal

    from .api import load
    from .radio import Station, run

    if pause < 0 or (max_pieces is not None and max_pieces < 1):
        _fail("--pause must be 0 or more and --max-pieces at least 1")
    for t in temperature or ():
        if not t > 0:
            _fail(f"temperature must be above 0 (got {t})")
    models = [load(m, soundfont=soundfont) for m in (model or ["folk"])]
    models[0].soundfont()  # a missing SoundFont stops us before anything plays

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    station = Station(models, list(temperature or [None]), pause, seed, keep, out_dir, max_pieces)
    played = run(station, report=lambda line: typer.echo(line, err=True))
    typer.echo(f"radio: {played} pieces" + (f" in {out_dir}" if out_dir else ""), err=True)


@app.command()
def models():
    """List the shipped models."""
    from .manifest import Manifest
    from .model import DEFAULT_MODEL, shipped_models

    found = shipped_models()
    if not found:
        typer.echo("no shipped models")
    for name, path in found.items():
        try:
            m = Manifest.load(path)
        except TunegenError as e:
            typer.echo(f"{name}: broken ({e})")
            continue
        size = (path.parent / m.tflite).stat().st_size / 1e6 if (path.parent / m.tflite).exists() else 0
        default = " (default)" if name == DEFAULT_MODEL else ""
        typer.echo(f"{name}{default}: {m.kind}, {len(m.layers)}x LSTM {m.layers[0]}, {m.quantization}, "
                   f"{size:.1f} MB, {_validation(m)} ({m.provenance.get('corpus')})")


def _validation(m, keras: bool = False) -> str:
    p = m.provenance
    key = "nats_per_token" if m.kind == "midi-event" else "bits_per_char"
    unit = "nats/token" if m.kind == "midi-event" else "bits/char"
    text = f"{p.get('valid_' + key)} {unit} on {p.get('valid_tunes')} validation pieces"
    return text + (f" (Keras {p.get('keras_valid_' + key)})" if keras else "")


@app.command()
def info(model: Annotated[str, typer.Argument(help="Shipped model name or path to a .tflite/.json.")] = "folk"):
    """Show what a model is: kind, size, shape, quantization, validation figure, checksum."""
    from .interpreter import interpreter_class, package_version, runtime_fits
    from .manifest import Manifest, sha256_file
    from .model import resolve

    path = resolve(model)
    m = Manifest.load(path)
    tflite = path.parent / m.tflite
    ok = tflite.exists() and sha256_file(tflite) == m.sha256
    p = m.provenance
    try:
        _, package = interpreter_class()
        version = package_version(package)
        fits = runtime_fits(m.min_runtime, package, version)
        package = f"{package} {version}" + ("" if fits else f" (TOO OLD for this model: it needs {m.min_runtime})")
    except TunegenError as e:
        package = f"none ({e})"
    rows = [
        ("model", f"{m.name or path.stem} ({path})"),
        ("kind", m.kind),
        ("file", f"{tflite.name}, {tflite.stat().st_size / 1e6:.2f} MB" if tflite.exists() else f"{tflite.name} missing"),
        ("checksum", "ok" if ok else "DOES NOT MATCH the manifest"),
        ("vocabulary", f"{len(m.vocabulary)} tokens"),
        ("layers", f"embedding {m.embedding}, {len(m.layers)} x LSTM {m.layers[0]}"),
        ("quantization", m.quantization),
        ("validation", _validation(m, keras=True)),
        ("trained on", f"{p.get('corpus')} ({p.get('created')})"),
        ("sampling", ", ".join(f"{k} {v}" for k, v in m.sampling.items())),
        ("min runtime", f"TFLite {m.min_runtime} (read from the graph's op versions)" if m.min_runtime else "not recorded"),
        ("interpreter", package),
        ("format", f"manifest version {m.format_version}"),
    ]
    for key, value in rows:
        typer.echo(f"{key:>12}  {value}")
    if not ok:
        raise typer.Exit(1)


def _train_import():
    import importlib.util

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if importlib.util.find_spec("tensorflow") is None:
        _fail("training and export need TensorFlow: pip install 'tunegen[train]'")


LayersOpt = Annotated[int, typer.Option(help="Stacked LSTM layers.")]
UnitsOpt = Annotated[int, typer.Option(help="Units per LSTM layer.")]
EmbeddingOpt = Annotated[int, typer.Option(help="Embedding size.")]
DropoutOpt = Annotated[float, typer.Option(help="Dropout after each LSTM layer.")]
EpochsOpt = Annotated[int, typer.Option(help="Most passes over the training data.")]
MaxStepsOpt = Annotated[int | None, typer.Option(help="Stop after this many batches in all.")]
BatchOpt = Annotated[int, typer.Option(help="Windows per batch.")]
LrOpt = Annotated[float, typer.Option(help="Adam learning rate.")]
PatienceOpt = Annotated[int, typer.Option(help="Stop after this many epochs without validation gain.")]
TrainSeedOpt = Annotated[int, typer.Option(help="Random seed for weights and shuffling.")]
StrategyOpt = Annotated[str, typer.Option(help="auto, one, mirrored (local GPUs) or multiworker (TF_CONFIG).")]
PrecisionOpt = Annotated[str, typer.Option(help="float32, or mixed (float16 compute on a GPU; float32 elsewhere).")]
RunOutOpt = Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, vocabulary, config, model.")]


def _train(out: Path, **options) -> None:
    _train_import()
    from tunegen.training.train import TrainConfig, train

    cfg = TrainConfig(**options)
    from tunegen.training.devices import PRECISIONS, STRATEGIES

    if cfg.strategy not in STRATEGIES:
        _fail(f"unknown strategy {cfg.strategy!r}; use one of {', '.join(STRATEGIES)}")
    if cfg.precision not in PRECISIONS:
        _fail(f"unknown precision {cfg.precision!r}; use one of {', '.join(PRECISIONS)}")
    if min(cfg.layers, cfg.units, cfg.embedding, cfg.epochs, cfg.batch_size, cfg.seq_len) < 1 \
            or not 0 <= cfg.dropout < 1 or cfg.lr <= 0 or not 0 <= cfg.transpose <= 12:
        _fail("sizes, epochs, batch size and sequence length must be positive, dropout in [0, 1), "
              "lr > 0, transpose 0-12")
    from tunegen.training.train import CheckpointError

    try:
        train(cfg, out)
    except CheckpointError as e:
        _fail(str(e))

    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: finished epochs are saved in {out}; run the same command to resume",
                   err=True)
        raise typer.Exit(130) from None
    except ValueError as e:
        _fail(str(e))


@train_app.command("abc")
def train_abc(
    corpus: Annotated[str, typer.Argument(help="ABC file, folder, or music21 collections (comma-separated), e.g. oneills1850,ryansMammoth,airdsAirs.")],
    out: RunOutOpt,
    layers: LayersOpt = 2, units: UnitsOpt = 384, embedding: EmbeddingOpt = 64, dropout: DropoutOpt = 0.15,
    epochs: EpochsOpt = 40, max_steps: MaxStepsOpt = None, batch_size: BatchOpt = 64,
    seq_len: Annotated[int, typer.Option(help="Characters per training window.")] = 128,
    lr: LrOpt = 2e-3, patience: PatienceOpt = 3, seed: TrainSeedOpt = 0,
    strategy: StrategyOpt = "auto", precision: PrecisionOpt = "float32",
):
    """Train the char-level LSTM on ABC tunes; run again with the same options to resume."""
    _train(out, corpus=corpus, kind="abc", embedding=embedding, units=units, layers=layers,
           dropout=dropout, epochs=epochs, max_steps=max_steps, batch_size=batch_size, seq_len=seq_len,
           lr=lr, patience=patience, seed=seed, strategy=strategy, precision=precision)


@train_app.command("midi")
def train_midi(
    corpus: Annotated[str, typer.Argument(help="MIDI file, folder of MIDI/MusicXML/kern files, or music21 collections (comma-separated), e.g. bach.")],
    out: RunOutOpt,
    transpose: Annotated[int, typer.Option(help="Key augmentation: each epoch shifts every piece by a random -N..N semitones.")] = 0,
    layers: LayersOpt = 2, units: UnitsOpt = 384, embedding: EmbeddingOpt = 64, dropout: DropoutOpt = 0.2,
    epochs: EpochsOpt = 40, max_steps: MaxStepsOpt = None, batch_size: BatchOpt = 64,
    seq_len: Annotated[int, typer.Option(help="Event tokens per training window.")] = 256,
    lr: LrOpt = 2e-3, patience: PatienceOpt = 3, seed: TrainSeedOpt = 0,
    strategy: StrategyOpt = "auto", precision: PrecisionOpt = "float32",
):
    """Train the note-event LSTM on MIDI or scores (all parts but drums merged into one keyboard
    stream); run again with the same options to resume."""
    _train(out, corpus=corpus, kind="midi", transpose=transpose, embedding=embedding, units=units,
           layers=layers, dropout=dropout, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
           seq_len=seq_len, lr=lr, patience=patience, seed=seed, strategy=strategy, precision=precision)


@app.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Argument(help="A run folder, or a shipped name or path to a .tflite/.json.")],
    corpus: Annotated[str, typer.Argument(help="Corpus to score: a file, folder or music21 collections, as for train.")],
):
    """Score a model on a corpus: bits/char (ABC) or nats/token (MIDI), each piece read whole."""
    import math

    from .errors import ModelError

    run = Path(model)
    if run.is_dir() and (run / "config.json").exists():
        _train_import()
        from tunegen.training.train import run_scorer

        kind, vocab, score = run_scorer(run)
    else:
        from tunegen.export.parity import step_bits

        from .model import load_model

        step = load_model(model)
        kind = "midi" if step.manifest.kind == "midi-event" else "abc"
        vocab = step.manifest.vocab

        def score(pieces):
            return step_bits(step, pieces, vocab)
    if kind == "midi":
        from tunegen.training.midi_corpus import load_midi_corpus

        found = load_midi_corpus(corpus, valid_percent=0)
        pieces = found.train + [p for p in found.valid if p not in found.train]
    else:
        from tunegen.training.corpus import load_corpus

        found = load_corpus(corpus, valid_percent=0, max_chars=10**9)
        pieces = found.train + [p for p in found.valid if p not in found.train]
        unknown = sorted({c for p in pieces for c in p if c not in vocab.tokens})
        if unknown:
            raise ModelError(f"the corpus has characters the model never saw: {' '.join(map(repr, unknown[:10]))}")
    reasons = ", ".join(f"{n} {r}" for r, n in found.skipped.most_common())
    typer.echo(f"corpus: {len(pieces)} {found.noun} from {found.files} files"
               + (f"; skipped {reasons}" if reasons else ""), err=True)
    bits = score(pieces)
    if kind == "midi":
        typer.echo(f"{bits * math.log(2):.3f} nats/token over {len(pieces)} pieces")
    else:
        typer.echo(f"{bits:.3f} bits/char over {len(pieces)} tunes")


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="A training run folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model path without suffix, e.g. models/folk.")],
    quantize: Annotated[list[str] | None, typer.Option(
        "--quantize", "-q", help="float32, float16, dynamic-int8 or int8 (repeatable; the first is "
        "written as OUT, the others as OUT-VARIANT). Default: dynamic-int8 and float32.")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="Refuse a variant this interpreter cannot load: tflite-runtime-2.14 or "
        "litert (repeatable).")] = None,
):
    """Export a trained run as single-step TFLite models with manifests, each checked against the
    Keras model's validation loss."""
    from .errors import ModelError

    variants = tuple(quantize or ("dynamic-int8", "float32"))
    known_q = ("float32", "float16", "dynamic-int8", "int8")
    known_t = ("tflite-runtime-2.14", "litert")
    bad = [q for q in variants if q not in known_q] + [t for t in target or () if t not in known_t]
    if bad:
        _fail(f"unknown --quantize/--target value {', '.join(bad)}; --quantize takes "
              f"{', '.join(known_q)}; --target takes {', '.join(known_t)}")
    if len(set(variants)) != len(variants):
        _fail("each --quantize variant may be given once")
    _train_import()
    from tunegen.export.export import export_run

    try:
        export_run(run, out.with_suffix("") if out.suffix in (".tflite", ".json") else out, variants,
                   targets=tuple(target or ()))
    except ModelError as e:
        _fail(str(e))


def main() -> None:
    """Entry point: user mistakes become one line and exit code 1, never a traceback."""
    try:
        app()
    except TunegenError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()
