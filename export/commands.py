"""The export command, `tunegen export`, registered into the runtime's command line through the
`tunegen.commands` entry point. TensorFlow is imported only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunegen.export.convert import BOUNDS, TARGETS
from tunegen.runtime.cli import fail
from tunegen.training.commands import _train_import


def export_cmd(
    run: Annotated[str, typer.Argument(metavar="RUN", help="A training run folder.")],
    out: Annotated[str, typer.Option("--out", "-o", metavar="PATH", help="Model path without suffix, e.g. models/folk.")],
    quantize: Annotated[list[str] | None, typer.Option(
        "--quantize", "-q", help=f"{', '.join(BOUNDS)} (repeatable; the first is written as OUT, the "
        "others as OUT-VARIANT). Default: dynamic-int8 and float32.")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help=f"Refuse a variant this interpreter cannot load: {', '.join(TARGETS)} "
        "(repeatable).")] = None,
):
    """Export a trained run as single-step TFLite models with manifests, each checked against the
    Keras model's validation loss."""
    from tunegen.runtime.errors import ModelError
    from tunegen.runtime.paths import check_folder

    run, out = Path(run), Path(out)
    check_folder(out.parent, create=True)  # a read-only or missing disk, before the slow conversion
    _train_import()
    from tunegen.export.export import export_run

    try:  # export_run checks the variants and targets against convert's own tables
        export_run(run, out.with_suffix("") if out.suffix in (".tflite", ".json") else out,
                   tuple(quantize or ("dynamic-int8", "float32")), targets=tuple(target or ()))
    except ModelError as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    """Add `export` to the command line."""
    app.command("export")(export_cmd)
