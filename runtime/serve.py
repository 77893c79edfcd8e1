"""`tunegen serve`: a web page and a JSON API that make pieces on the device itself, offline.

    GET  /                      the page (`/?kiosk=1`: plays new pieces one after another)
    GET  /api/models            the models, each with its kind, files and the options that apply
    POST /api/pieces            {"model": "folk", "seed": 3, ...} -> 201 and the piece with file URLs
    GET  /api/pieces[/ID]       the kept pieces, newest first, or one of them
    GET  /api/pieces/ID/NAME.EXT  a piece's file (ranges too, for the audio element)

Built on the standard library's ThreadingHTTPServer (`serve_http`): a connection costs a thread that
mostly waits, while generation runs on a bounded pool of worker threads (`workqueue`), each with its
own models. This module holds what is cheap to import (the command line imports it): the options per
model kind, the checks of a request, and the command.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import TunegenError


@dataclass(frozen=True)
class Option:
    """One setting a request may give. `min`/`max` are the server's own bounds (None: the model
    checks it, with the message the command line prints); `stage` says where it goes: `sample` to
    `model.generate`, `render` to `tunegen.load` (tempo and instrument)."""

    name: str
    type: str  # "int", "number", "text" (and "choice" with `choices`, for form and key controls)
    label: str
    help: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    more: bool = False  # shown under "More settings" on the page
    stage: str = "sample"
    choices: tuple[str, ...] = ()


SEED = Option("seed", "int", "Seed", "Same seed and settings, same piece. Empty: a new one.", 0, 2**31 - 1, 1)
COMMON = (
    Option("temperature", "number", "Temperature", "Below 1 is safer, above 1 wilder.", step=0.05),
    SEED,
    Option("bpm", "number", "Tempo (bpm)", "Quarter notes per minute.", step=1, stage="render"),
    Option("top_k", "int", "Top k", "Sample only from the k likeliest symbols (0: off).", step=1, more=True),
    Option("top_p", "number", "Top p", "Sample only from the likeliest symbols holding this much probability.",
           step=0.01, more=True),
    Option("candidates", "int", "Candidates", "Sample this many together and keep the likeliest.", 1, 8, 1,
           more=True),
    Option("max_length", "int", "Max length", "Most tokens the model adds to a piece.", step=1, more=True),
    Option("program", "int", "Instrument", "General MIDI program 0-127.", step=1, more=True, stage="render"),
)
# Everything that depends on a model's kind is here and in `kind_spec`: the options only some kinds
# take, and the files a piece gets (those its kind can save, in the order they are made).
KEY = Option("key", "text", "Key", "G, Em, Dmix, Ador, Bb... Empty: the model's choice.", max=24)
KIND_OPTIONS = {
    "abc-char": (KEY,
                 Option("rhythm", "text", "Rhythm", "reel, jig, hornpipe, slip jig... Empty: the model's choice.",
                        max=24),
                 Option("meter", "text", "Meter", "6/8, 3/4, C... Empty: the model's choice.", max=24, more=True),
                 Option("parts", "int", "Parts", "How many parts. Empty: 2 to 4.", 1, 8, 1, more=True),
                 Option("bars_per_part", "int", "Bars per part", "Empty: as the corpus has them (8 mostly).",
                        2, 32, 1, more=True),
                 Option("primer", "text", "Primer", "Header fields like 'M:6/8 K:Dmix' and/or opening bars.",
                        max=1000, more=True)),
    "midi-event": (KEY,
                   Option("bars", "int", "Bars", "Length in bars.", 1, 64, 1),
                   Option("seconds", "number", "Seconds", "Length in seconds, ended at a barline.",
                          max=300, step=1, more=True)),
}
FILES = ("svg", "wav", "mid", "abc")  # the sheet first: the page shows it as soon as it can
TEXT_FILES = ("abc",)  # also given inline in the piece's JSON
CONTENT_TYPES = {"svg": "image/svg+xml", "wav": "audio/wav", "mid": "audio/midi",
                 "abc": "text/vnd.abc; charset=utf-8", "html": "text/html; charset=utf-8",
                 "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
                 "png": "image/png"}


def kind_spec(kind: str) -> tuple[tuple[Option, ...], tuple[str, ...]]:
    """The options a request may set for a model of this kind, and the files its pieces get."""
    from .kinds import get

    suffixes = get(kind).suffixes
    return COMMON + KIND_OPTIONS.get(kind, ()), tuple(f for f in FILES if "." + f in suffixes)


MAX_BODY = 16 * 1024  # bytes: settings are a few hundred; the longest primer is 1000 characters
ID = re.compile(r"[0-9a-f]{12}")
FILE_URL = re.compile(r"/api/pieces/([0-9a-f]{12})/([a-z0-9-]{1,80})\.([a-z]{3})")
PIECE_URL = re.compile(r"/api/pieces/([^/?#]*)")
WEB_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css"}


class BadRequest(Exception):
    """A request the server refuses; becomes `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers or {}


@dataclass
class Served:
    """A model as the server offers it: what /api/models says about it."""

    name: str
    kind: str
    noun: str
    files: tuple[str, ...]
    options: tuple[Option, ...]
    defaults: dict[str, Any]

    def describe(self, default: bool) -> dict:
        opts = []
        for o in self.options:
            d = {k: v for k, v in asdict(o).items() if k == "more" or (v is not None and v != ())}
            if o.name in self.defaults:
                d["default"] = self.defaults[o.name]
            opts.append(d)
        return {"name": self.name, "kind": self.kind, "noun": self.noun, "default": default,
                "files": list(self.files), "options": opts}


def describe_model(model) -> Served:
    """What the server offers for a loaded model: its kind's options with the model's defaults."""
    from .kinds import get

    kind = model.manifest.kind
    options, files = kind_spec(kind)
    sampling = dict(model.manifest.sampling)
    defaults = {o.name: sampling[o.name] for o in options if o.name in sampling}
    defaults.update(bpm=model.bpm, program=model.program, candidates=1)
    # the model's own length limit is also the server's: a request cannot tie a worker up longer
    options = tuple(Option(**{**asdict(o), "min": 16, "max": sampling["max_length"]})
                    if o.name == "max_length" and "max_length" in sampling else o for o in options)
    return Served(model.name, kind, get(kind).noun, files, options, defaults)


def _number(value: Any, option: Option) -> float | int:
    """A JSON value checked against an option's type."""
    if option.type == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
            raise BadRequest(f"{option.name} must be a whole number (got {json.dumps(value)})")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{option.name} must be a number (got {json.dumps(value)})")
    return float(value)


def _text(x: float) -> str:
    """A bound or value as a person writes it: 2147483647, 0.5."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_request(body: bytes, served: dict[str, Served]) -> tuple[str, dict, dict]:
    """A POST /api/pieces body -> (model name, `generate` keywords, `load` keywords). Types and the
    server's bounds are checked here; the model checks the rest with the command line's messages."""
    def _no_constant(name: str):
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(body or b"{}", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"the body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object such as {\"model\": \"folk\", \"seed\": 3}")
    name = data.pop("model", next(iter(served)))
    if not isinstance(name, str) or name not in served:
        raise BadRequest(f"unknown model {json.dumps(name)}; served models: {', '.join(served)}")
    model = served[name]
    options = {o.name: o for o in model.options}
    unknown = sorted(set(data) - set(options))
    if unknown:
        raise BadRequest(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for model "
                         f"{name} ({model.kind}); its fields: model, {', '.join(options)}")
    sample, render = {}, {}
    for key, value in data.items():
        o = options[key]
        if value is None:  # JSON null: the model's default
            continue
        if o.type == "text":
            if not isinstance(value, str):
                raise BadRequest(f"{key} must be text (got {json.dumps(value)})")
            if o.max is not None and len(value) > o.max:
                raise BadRequest(f"{key} must be at most {_text(o.max)} characters (got {len(value)})")
        elif o.type == "choice":
            if value not in o.choices:
                raise BadRequest(f"{key} must be one of {', '.join(o.choices)} (got {json.dumps(value)})")
        else:
            value = _number(value, o)
            if (o.min is not None and value < o.min) or (o.max is not None and value > o.max):
                low = "" if o.min is None else _text(o.min)
                high = "" if o.max is None else _text(o.max)
                span = f"{low}-{high}" if low and high else (f"at least {low}" if low else f"at most {high}")
                raise BadRequest(f"{key} must be {span} (got {_text(value)})")
        (render if o.stage == "render" else sample)[key] = value
    return name, sample, render


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but 127.0.0.1/localhost opens the page to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model(s) to offer (repeatable). Default: every shipped model.")] = None,
    workers: Annotated[int | None, typer.Option(help="Pieces made at once (default: the cores this process may use, at most 4).")] = None,
    queue: Annotated[int, typer.Option(help="Requests that may wait for a worker; more get 503 and Retry-After.")] = 16,
    keep_pieces: Annotated[int, typer.Option(help="Finished pieces kept for their file URLs; the oldest is dropped.")] = 24,
    soundfont: Annotated[str | None, typer.Option(metavar="FILE", help="General MIDI .sf2 to render with (default: the system's).")] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request.")] = False,
):
    """Serve a web page that makes and plays new pieces, for a kiosk, a touchscreen or a phone."""
    import shutil
    import signal
    import tempfile

    from .model import DEFAULT_MODEL, shipped_models
    from .serve_http import Workshop, start

    # a stream of its own on the terminal: sampling swaps `sys.stderr` (and loading a model fd 2)
    # for a moment in whichever thread does it, and the log lines of other threads must not vanish
    log = os.fdopen(os.dup(2), "w", buffering=1)

    def say(line: str) -> None:
        print(line, file=log, flush=True)

    cores = _cores()
    workers = workers if workers is not None else min(cores, 4)
    if not 1 <= workers <= cores:
        say(f"error: --workers must be 1-{cores}, the cores this process may use (got {workers})")
        raise typer.Exit(1)
    if queue < 0 or keep_pieces < 1:
        say("error: --queue must be 0 or more and --keep-pieces at least 1")
        raise typer.Exit(1)
    names = model or sorted(shipped_models(), key=lambda n: n != DEFAULT_MODEL)
    root = Path(tempfile.mkdtemp(prefix="tunegen-serve-"))

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    stopped = False
    try:
        shop = Workshop(names, root, keep_pieces, workers, queue, soundfont, log=say)
        try:
            server = start(host, port, shop, verbose)
        except OSError as e:
            raise TunegenError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
        shown = f"[{host}]" if ":" in host else host
        say(f"serving {', '.join(names)} on http://{shown}:{port}/ ({workers} workers, queue {queue}, "
            f"keeping {keep_pieces} pieces); Ctrl-C stops")
        if not _is_loopback(host):
            say(f"the page is open to the network: anyone who can reach this machine on port {port} can use it")
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        say("stopped")
        stopped = True
    finally:
        if "shop" in locals():
            shop.queue.stop()
        if "server" in locals():
            server.server_close()
        shutil.rmtree(root, ignore_errors=True)
        log.close()
    if stopped:
        # a worker may be deep in a render that holds the interpreter; everything is saved and
        # cleaned up, so end now rather than let the interpreter's shutdown wait for it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
