"""The training commands, `tunegen train abc|midi`, `tunegen eval` and `tunegen facts`, registered into the
runtime's command line through the `tunegen.commands` entry point. TensorFlow is imported only
when a command runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from tunegen.runtime.cli import fail

train_app = typer.Typer(help="Train a model on a corpus (needs the `train` extra).",
                        no_args_is_help=True)


def _train_import():
    import importlib.util

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if importlib.util.find_spec("tensorflow") is None:
        fail("training and export need TensorFlow: pip install 'tunegen[train]'")


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
RunOutOpt = Annotated[str, typer.Option("--out", "-o", metavar="DIR", help="Run folder: checkpoints, vocabulary, config, model.")]


def _train(out: str, **options) -> None:
    _train_import()
    from tunegen.training.train import CheckpointError, TrainConfig, train

    try:
        train(TrainConfig(**options), Path(out))  # the config checks every option
    except CheckpointError as e:
        fail(str(e))
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: finished epochs are saved in {out}; run the same command to resume",
                   err=True)
        raise typer.Exit(130) from None
    except ValueError as e:
        fail(str(e))


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
    transpose: Annotated[int, typer.Option(help="Key augmentation: each epoch shifts every piece by a random -N..N semitones (pieces are already brought to C major or A minor, so 0 keeps the model in one key).")] = 0,
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


def eval_cmd(
    model: Annotated[str, typer.Argument(help="A run folder, or a shipped name or path to a .tflite/.json.")],
    corpus: Annotated[str, typer.Argument(help="Corpus to score: a file, folder or music21 collections, as for train.")],
):
    """Score a model on a corpus: bits/char (ABC) or nats/token (MIDI), each piece read whole.
    Pieces with a token outside the model's vocabulary are skipped and counted."""
    import numpy as np

    from tunegen.runtime import kinds
    from tunegen.runtime.errors import CorpusError
    from tunegen.training.cache import build_cache, reasons
    from tunegen.training.run import RunFolder

    if RunFolder.is_run(Path(model)):
        _train_import()
        from tunegen.training.train import run_scorer

        kind, vocab, score = run_scorer(Path(model))
    else:
        from tunegen.export.parity import step_bits
        from tunegen.runtime.model import load_model

        step = load_model(model)
        kind, vocab = kinds.get(step.manifest.kind), step.manifest.vocab

        def score(pieces):
            return step_bits(step, pieces, vocab)
    # every kept piece scores: none is held out, none is too long
    found = build_cache(corpus, kind.name, valid_percent=0, max_chars=10**9)
    known = found.known(vocab)
    pieces = [found.piece(int(i)) for i in np.flatnonzero(known)]
    skipped = found.skipped()
    if not known.all():
        skipped["outside the model's vocabulary"] += int((~known).sum())
    typer.echo(f"corpus: {len(pieces)} {kind.plural} from {found.meta['files']} files"
               + (f"; skipped {reasons(skipped)}" if skipped else ""), err=True)
    if not pieces:
        raise CorpusError(f"corpus {corpus!r} has no {kind.noun} the model can read "
                          f"({reasons(skipped)})")
    bits = score(pieces)
    typer.echo(f"{bits * kind.loss_scale:.3f} {kind.loss_unit} over {len(pieces)} {kind.plural}")


def facts_cmd(
    kind: Annotated[str, typer.Argument(help="abc or midi.")],
    corpus: Annotated[str, typer.Argument(help="Corpus: a file, folder or music21 collections, as for train.")],
    into: Annotated[str | None, typer.Option("--into", metavar="FILE", help="A model's .json manifest whose `music` section to write them into (export writes it for every model it makes).")] = None,
):
    """What a corpus does, as a model's manifest records it: an ABC corpus's rhythms and the bars
    of its parts for each rhythm and meter, a MIDI corpus's keys."""
    import json

    from tunegen.runtime.errors import TunegenError
    from tunegen.runtime.manifest import Manifest
    from tunegen.training import kinds
    from tunegen.training.cache import build_cache

    try:
        training = kinds.get(kind)
        music = training.manifest_music(build_cache(corpus, kind).meta.get("facts", {}))
        if into is not None:
            manifest = Manifest.load(into)
            if manifest.kind != training.kind.name:
                fail(f"{into} is a {manifest.kind} model, not a {training.kind.name} one")
            manifest.music = music
            manifest.save(into)
            typer.echo(f"wrote the music section of {into}", err=True)
    except TunegenError as e:
        fail(str(e))
    typer.echo(json.dumps(music, indent=1))


def register(app: typer.Typer) -> None:
    """Add `train`, `eval` and `facts` to the command line."""
    app.add_typer(train_app, name="train")
    app.command("eval")(eval_cmd)
    app.command("facts")(facts_cmd)
