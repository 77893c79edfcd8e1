"""The export command, `tunegen export`, registered into the runtime's command line through the
`tunegen.commands` entry point. TensorFlow is imported only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunegen.runtime.cli import fail
from tunegen.training.commands import _train_import


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
    from tunegen.runtime.errors import ModelError

    variants = tuple(quantize or ("dynamic-int8", "float32"))
    known_q = ("float32", "float16", "dynamic-int8", "int8")
    known_t = ("tflite-runtime-2.14", "litert")
    bad = [q for q in variants if q not in known_q] + [t for t in target or () if t not in known_t]
    if bad:
        fail(f"unknown --quantize/--target value {', '.join(bad)}; --quantize takes "
              f"{', '.join(known_q)}; --target takes {', '.join(known_t)}")
    if len(set(variants)) != len(variants):
        fail("each --quantize variant may be given once")
    from tunegen.runtime.paths import check_folder

    check_folder(out.parent, create=True)  # a read-only or missing disk, before the slow conversion
    _train_import()
    from tunegen.export.export import export_run

    try:
        export_run(run, out.with_suffix("") if out.suffix in (".tflite", ".json") else out, variants,
                   targets=tuple(target or ()))
    except ModelError as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    """Add `export` to the command line."""
    app.command("export")(export_cmd)
