"""The `tunegen` command line. The runtime's commands (play, generate, radio, models, info) live
here; other layers add theirs (train, eval, export) through the `tunegen.commands` entry points, so
nothing here names them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import kinds, limits, quiet
from .errors import TunegenError
from .paths import check_folder, check_output, header_text
from .serve import serve

app = typer.Typer(
    help="Generate and play new tunes offline from small quantized LSTM models.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Shipped model name or path to a .tflite/.json.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", "-s", help="Same seed and settings, same tune. Random if not given.")]
TempOpt = Annotated[float | None, typer.Option("--temperature", "-t", help="Below 1 is safer, above 1 wilder. Model default if not given.")]
TopKOpt = Annotated[int | None, typer.Option("--top-k", help="Sample only from the K likeliest symbols (0: off).")]
TopPOpt = Annotated[float | None, typer.Option("--top-p", help="Sample only from the likeliest symbols holding this much probability.")]
PrimerOpt = Annotated[str, typer.Option("--primer", "-p", help="ABC models: header fields like 'M:6/8 K:Dmix' and/or opening bars to continue. MIDI models: a .mid or score file whose opening bars to continue.")]
CountOpt = Annotated[int, typer.Option("--count", "-n", help="How many pieces.")]
MaxLenOpt = Annotated[int | None, typer.Option("--max-length", help="Most tokens the model adds to a piece, a primer's not counted (characters for ABC models).")]
BarsOpt = Annotated[int | None, typer.Option("--bars", help="MIDI models: length in bars (default from the model).")]
CandidatesOpt = Annotated[int, typer.Option("--candidates", help="Sample N pieces together (a batched step on each core) and keep the one the model finds likeliest.")]
SecondsOpt = Annotated[float | None, typer.Option("--seconds", help="MIDI models: length in seconds, ended at the next barline.")]
KeyOpt = Annotated[str | None, typer.Option("--key", "-k", help="Key: G, Dmix, Ador, Em, Bb... (piano: a major or minor key). Default: the model's choice.")]
MeterOpt = Annotated[str | None, typer.Option("--meter", help="ABC models: meter, e.g. 6/8, 3/4, C.")]
RhythmOpt = Annotated[str | None, typer.Option("--rhythm", help="ABC models: rhythm as the corpus names it: reel, jig, slip jig, hornpipe, polka, waltz, march...")]
PartsOpt = Annotated[int | None, typer.Option("--parts", help="ABC models: how many parts (default: 2 to 4, as the model likes).")]
BarsPerPartOpt = Annotated[int | None, typer.Option("--bars-per-part", help="ABC models: bars in each part (default: what the corpus has for the rhythm or meter, else 8).")]
SoundFontOpt = Annotated[str | None, typer.Option("--soundfont", metavar="FILE", help="General MIDI .sf2 to render with (default: the system's).")]
BpmOpt = Annotated[float | None, typer.Option("--bpm", help="Tempo in quarter notes per minute (model default if not given).")]
ProgramOpt = Annotated[int | None, typer.Option("--program", help="General MIDI program 0-127 (model default if not given).")]


def fail(message: str, code: int = 1):
    """End a command with one `error:` line."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool):
    if value:
        from tunegen import __version__

        typer.echo(f"tunegen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False,
          verbose: Annotated[bool, typer.Option("--verbose", help="Show the native libraries' own log lines (TensorFlow, TFLite, FluidSynth); also $TUNEGEN_VERBOSE=1.")] = False):
    """Generate and play new tunes offline from small quantized LSTM models."""
    quiet.setup(verbose or None)


def _check_outputs(outs: list[Path], kind=None) -> None:
    """Refuse outputs before any work: an unknown suffix, a folder in the way, a missing or
    unwritable folder (so nothing is generated only to fail at the end)."""
    suffixes = kind.suffixes if kind else {s for k in kinds.names() for s in kinds.get(k).suffixes}
    for out in outs:
        if out.suffix.lower() not in suffixes:
            what = f" (a {kind.name} model makes no {out.suffix[1:].upper()})" if kind and out.suffix else ""
            fail(f"cannot write {out}: the suffix picks the format, one of {', '.join(sorted(suffixes))}{what}")
        check_output(out)


def _numbered(path: Path, index: int, count: int) -> Path:
    return path if count == 1 else path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


def _run(model, seed, temperature, top_k, top_p, primer, count, max_length, soundfont, bpm,
         program, outs: list[Path], play: bool, bars=None, seconds=None, candidates: int = 1,
         **controls) -> None:
    """Generate `count` pieces and write (and play) each as soon as it is made: a killed run keeps
    every piece it finished, and a collection file always holds the pieces made so far."""
    import contextlib

    from .api import load
    from .paths import write_atomic

    _check_outputs(outs)
    m = load(model, soundfont=soundfont, bpm=bpm, program=program)
    kind = m.kind
    _check_outputs(outs, kind)
    if play or any(o.suffix.lower() == ".wav" for o in outs):
        m.soundfont()  # a missing SoundFont stops us before any sampling
    pieces = m.each(count, seed=seed, temperature=temperature, top_k=top_k, top_p=top_p, primer=primer,
                    max_length=max_length, bars=bars, seconds=seconds, candidates=candidates, **controls)
    together = [o for o in outs if o.suffix.lower() == kind.collection_suffix]
    done: list = []
    with contextlib.ExitStack() as stack:
        progress = None
        if count > 1 and not play:
            from rich.console import Console
            from rich.progress import Progress

            progress = stack.enter_context(Progress(console=Console(stderr=True), transient=True))
            task = progress.add_task("generating", total=count)
        for i, piece in enumerate(pieces):
            done.append(piece)
            for o in together:
                write_atomic(o, kind.collection(done))
            if count == 1 or i == count - 1:
                for o in together:
                    typer.echo(f"wrote {o}")
            shown = kind.announce(piece, i + 1, in_file=bool(together) and not play)
            if shown:
                typer.echo(shown)
            for o in outs:
                if o not in together:
                    typer.echo(f"wrote {piece.save(_numbered(o, i, count))}")
            if progress is not None:
                progress.advance(task)
            if play:
                _play(piece, kind, i, count, outs)
    resampled = sum(p.resampled for p in done)
    if resampled:
        typer.echo(f"resampled {resampled} {kind.noun}(s) that could not be used", err=True)


def _play(piece, kind, i: int, count: int, outs: list[Path]) -> None:
    from .playback import NoAudioDevice

    try:
        typer.echo(f"playing {kind.noun} {i + 1} of {count} ({piece.seconds:.0f} s)...", err=True)
        typer.echo(f"played on {piece.play()}", err=True)
    except NoAudioDevice as e:
        if any(o.suffix.lower() == ".wav" for o in outs):
            typer.echo(f"{e}; the {kind.noun} is in the WAV written above", err=True)
            return
        fallback = piece.save(f"tune-{piece.seed}" + (f"-{i + 1}" if count > 1 else "") + ".wav")
        typer.echo(f"{e}; wrote {fallback} instead", err=True)


def pieces(
    ctx: typer.Context,
    model: ModelOpt = "folk", seed: SeedOpt = None, temperature: TempOpt = None, top_k: TopKOpt = None,
    top_p: TopPOpt = None, primer: PrimerOpt = "", count: CountOpt = 1, max_length: MaxLenOpt = None,
    soundfont: SoundFontOpt = None, bpm: BpmOpt = None, program: ProgramOpt = None,
    bars: BarsOpt = None, seconds: SecondsOpt = None, candidates: CandidatesOpt = 1,
    key: KeyOpt = None, meter: MeterOpt = None, rhythm: RhythmOpt = None, parts: PartsOpt = None,
    bars_per_part: BarsPerPartOpt = None,
    out: Annotated[list[str] | None, typer.Option("--out", "-o", metavar="FILE", help="Write the piece: .abc, .mid, .wav, .svg or .musicxml by suffix (repeatable; generate needs one).")] = None,
):
    # `play` and `generate` are this one command: the same options, and play also plays
    play = ctx.info_name == "play"
    if not play and not out:
        fail("generate writes files: give at least one --out FILE (.abc, .mid, .wav, .svg, .musicxml), "
             "or use tunegen play")
    _run(model, seed, temperature, top_k, top_p, primer, count, max_length, soundfont, bpm, program,
         [Path(o) for o in out or []], play=play, bars=bars, seconds=seconds, candidates=candidates, key=key, meter=meter,
         rhythm=rhythm, parts=parts, bars_per_part=bars_per_part)


app.command("play", help="Generate a new piece and play it (writes a WAV when there is no audio device).")(pieces)
app.command("generate", help="Generate new pieces and write them to files (ABC, MIDI, WAV, SVG, MusicXML).")(pieces)


@app.command()
def radio(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model(s) to rotate through (repeatable). Default: folk.")] = None,
    temperature: Annotated[list[float] | None, typer.Option("--temperature", "-t", help="Temperature(s) to rotate through (repeatable). Default: the model's.")] = None,
    pause: Annotated[float, typer.Option(help="Seconds of silence between pieces.")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="Seed of the first piece; the next ones count up. Random if not given.")] = None,
    keep: Annotated[str | None, typer.Option(metavar="DIR", help="Keep every piece played (ABC or MIDI, its seed in the name) in this folder.")] = None,
    out_dir: Annotated[str | None, typer.Option(metavar="DIR", help="Write the pieces (WAV and ABC/MIDI) here instead of playing them: headless radio.")] = None,
    max_pieces: Annotated[int | None, typer.Option(help="Stop after this many pieces (default: never).")] = None,
    soundfont: SoundFontOpt = None,
):
    """Play new pieces without end, for a kiosk: the next is made while the current one plays."""
    import signal

    from .api import load
    from .radio import Station, run

    pause = limits.pause(pause)
    if seed is not None:
        limits.seed(seed)
    if max_pieces is not None:
        limits.integer("max-pieces", max_pieces, low=1)
    for t in temperature or ():
        limits.real("temperature", t, above=0.0, high=limits.MAX_TEMPERATURE)
    keep, out_dir = (None if f is None else Path(f) for f in (keep, out_dir))
    for folder in (keep, out_dir):
        if folder is not None:
            check_folder(folder, create=True)
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
        typer.echo(f"{header_text(name)}{default}: {m.kind}, {len(m.layers)}x LSTM {m.layers[0]}, {m.quantization}, "
                   f"{size:.1f} MB, {_validation(m)} ({m.provenance.get('corpus')})")


def _validation(m, keras: bool = False) -> str:
    p = m.provenance
    unit = kinds.get(m.kind).loss_unit
    key = unit.replace("/", "_per_")
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
        ("model", f"{header_text(m.name) or path.stem} ({path})"),
        ("kind", m.kind),
        ("file", f"{tflite.name}, {tflite.stat().st_size / 1e6:.2f} MB" if tflite.exists() else f"{tflite.name} missing"),
        ("checksum", "ok" if ok else "DOES NOT MATCH the manifest"),
        ("vocabulary", f"{len(m.vocabulary)} tokens"),
        ("layers", f"embedding {m.embedding}, {len(m.layers)} x LSTM {m.layers[0]}"),
        ("quantization", m.quantization),
        ("validation", _validation(m, keras=True)),
        ("trained on", f"{p.get('corpus')} ({p.get('created')})"),
        ("sampling", ", ".join(f"{k} {v}" for k, v in m.sampling.items())),
        *_music_rows(m.music),
        ("min runtime", f"TFLite {m.min_runtime} (read from the graph's op versions)" if m.min_runtime else "not recorded"),
        ("interpreter", package),
        ("format", f"manifest version {m.format_version}"),
    ]
    for key, value in rows:
        typer.echo(f"{key:>12}  {value}")
    if not ok:
        raise typer.Exit(1)


def _music_rows(music: dict) -> list[tuple[str, str]]:
    """What the manifest records the corpus does: the rhythms `--rhythm` takes, the keys pieces
    are drawn in."""
    rows = []
    if isinstance(music.get("rhythms"), list):
        rows.append(("rhythms", ", ".join(map(str, music["rhythms"]))))
    keys = music.get("keys", {}).get("corpus") if isinstance(music.get("keys"), dict) else None
    if isinstance(keys, dict):
        rows.append(("keys", ", ".join(f"{k} ({n})" for k, n in list(keys.items())[:12])))
    return rows


app.command("serve")(serve)  # light to import: the HTTP stack loads when it runs
RUNTIME_COMMANDS = ("play", "generate", "radio", "models", "info", "serve")
_registered = False


def main_app(argv: list[str] | None = None) -> typer.Typer:
    """The whole command line: the runtime's commands, and those the installed layers register
    (entry points in the group `tunegen.commands`, each a function taking the Typer app). With
    `argv` naming a runtime command, the others are not loaded: `play` starts no sooner for them."""
    global _registered
    if argv and argv[0] in RUNTIME_COMMANDS:
        return app
    if not _registered:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group="tunegen.commands"), key=lambda e: e.name):
            ep.load()(app)
        _registered = True
    return app


def main() -> None:
    """Entry point: user mistakes become one line and exit code 1, never a traceback."""
    quiet.setup("--verbose" in sys.argv[1:2] or None)  # before any layer imports TensorFlow
    quiet.filter_native_stderr()
    try:
        main_app(sys.argv[1:])()
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
