"""The HTTP side of `tunegen serve`: the workshop that makes and keeps pieces on the worker pool,
and the request handler. Every answer is JSON or one of tunegen's own files; a URL is never turned
into a path on disk."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import TunegenError
from .serve import (
    CONTENT_TYPES,
    FILE_URL,
    ID,
    MAX_BODY,
    PIECE_URL,
    TEXT_FILES,
    WEB_FILES,
    BadRequest,
    describe_model,
    parse_request,
)
from .workqueue import Busy, Store, WorkQueue


def _trim_memory() -> None:
    """Hand freed memory back to the system after a piece: rendering makes large short-lived arrays,
    and without this the server's RSS creeps up piece by piece."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def _bound_malloc() -> None:
    """Keep glibc's heap from growing under load: every connection is a new thread, and each could
    get a malloc arena of its own; and after a freed multi-MB WAV buffer glibc raises its mmap
    threshold, so later large buffers fragment the heap instead of going back to the system."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc
    M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8
    libc.mallopt(M_ARENA_MAX, 2)
    libc.mallopt(M_MMAP_THRESHOLD, 256 * 1024)


class Workshop:
    """Makes pieces on the worker threads and keeps them. Each worker loads its own copy of each
    model (interpreters are not thread-safe) and a few more for requested tempos and instruments."""

    MODELS_PER_WORKER = 6

    def __init__(self, names: list[str], root: Path, keep: int, workers: int, depth: int,
                 soundfont: Path | None = None, log=None) -> None:
        self.names, self.root, self.soundfont = names, root, soundfont
        _bound_malloc()
        self.log = log or (lambda line: print(line, file=sys.stderr))
        self._local = threading.local()
        first = [self._load(n, {}) for n in names]  # an unknown model or a missing SoundFont stops us here
        first[0].soundfont()
        self.served = {m.name: describe_model(m) for m in first}
        # import and load what the first piece needs (music21, FluidSynth, the SoundFont) now, not
        # on its listener's time: one piece of each model is made and thrown away
        for m in first:
            warm = m.generate(seed=0)
            for ext in ("mid", "wav"):
                warm.data("." + ext)
        self.store = Store(root, keep)
        self.queue = WorkQueue(workers, depth, setup=self._warm)
        self.queue.wait_ready()

    def _load(self, name: str, render: dict):
        import tunegen

        # one interpreter thread each (the default): a second one sleeps between the steps of a
        # draw and costs more to wake than it saves, and the other cores serve other workers
        return tunegen.load(name, soundfont=self.soundfont, **render)

    def _warm(self) -> None:
        self._local.models = {}
        for name in self.names:
            self._model(name, {})

    def _model(self, name: str, render: dict):
        models: dict = self._local.models
        key = (name, render.get("bpm"), render.get("program"))
        if key not in models:
            if len(models) >= self.MODELS_PER_WORKER:  # drop the oldest that is not a plain model
                models.pop(next((k for k in models if k[1:] != (None, None)), next(iter(models))))
            models[key] = self._load(name, render)
        return models[key]

    def make(self, name: str, sample: dict, render: dict) -> dict:
        """Generate and render one piece on a worker; returns its record (kept in the store)."""
        start = time.perf_counter()
        try:
            model = self._model(name, render)
            piece = model.generate(**sample)
        except TunegenError as e:
            raise BadRequest(str(e)) from None
        pid = secrets.token_hex(6)
        folder = self.root / pid
        folder.mkdir()
        stem = f"{name}-seed{piece.seed}"
        record: dict[str, Any] = {"id": pid, "model": name, "kind": model.manifest.kind, "seed": piece.seed,
                                  "settings": {**sample, **render, "seed": piece.seed},
                                  "description": piece.describe(), "files": {}}
        paths, problems = {}, []
        for ext in self.served[name].files:
            try:
                data = piece.data("." + ext)
            except TunegenError as e:  # e.g. no engraver installed: the piece is still worth having
                problems.append(f"no {ext.upper()}: {e}")
                continue
            path = folder / f"{stem}.{ext}"
            path.write_bytes(data)
            paths[ext] = path
            record["files"][ext] = f"/api/pieces/{pid}/{path.name}"
            if ext in TEXT_FILES:
                record[ext] = data.decode()
        if problems:
            record["problems"] = problems
        del piece
        _trim_memory()
        record["seconds_to_make"] = round(time.perf_counter() - start, 3)
        self.store.add(pid, {**record, "_paths": paths})
        self.log(f"made {pid}: {name}, {record['description']} ({record['seconds_to_make']:.2f} s)")
        return record


def public(record: dict) -> dict:
    """A stored record without the server's own fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection. Every answer is JSON or one of tunegen's own files; every refusal is
    a 4xx (5xx only for a fault of the server itself) with `{"error": message}`."""

    protocol_version = "HTTP/1.1"
    server_version = "tunegen"
    sys_version = ""
    timeout = 30  # an idle or stalled connection gives its thread back

    @property
    def shop(self) -> Workshop:
        return self.server.shop  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:
        if getattr(self.server, "verbose", False):
            self.server.log(f"{self.address_string()} {format % args}")  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None,
              head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json",
                   {"Cache-Control": "no-store", **(headers or {})}, head=self.command == "HEAD")

    def _guard(self, fn) -> None:
        try:
            fn()
        except BadRequest as e:
            self._json(e.status, {"error": str(e)}, e.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # a fault of the server: say so in one line, log it, no traceback out
            import traceback

            self.server.log(traceback.format_exc().rstrip())  # type: ignore[attr-defined]
            self._json(500, {"error": f"internal error: {type(e).__name__}: {e}"})

    def do_GET(self) -> None:
        self._guard(self._get)

    def do_HEAD(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def _refuse_method(self) -> None:
        self.close_connection = True  # any body it sent is not read
        self._json(405, {"error": f"{self.command} is not supported here"}, {"Allow": "GET, HEAD, POST"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _get(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path in WEB_FILES:
            return self._asset(WEB_FILES[path])
        if path == "/api/models":
            first = next(iter(self.shop.served))
            return self._json(200, {"models": [s.describe(n == first) for n, s in self.shop.served.items()],
                                    "limits": self.server.limits})  # type: ignore[attr-defined]
        if path == "/api/pieces":
            return self._json(200, {"pieces": [public(r) for r in self.shop.store.recent()]})
        if m := FILE_URL.fullmatch(path):
            return self._file(*m.groups())
        if (m := PIECE_URL.fullmatch(path)) and ID.fullmatch(m.group(1)):
            record = self.shop.store.get(m.group(1))
            if record is None:
                raise BadRequest(f"no piece {m.group(1)}: unknown, or dropped to make room for newer ones", 404)
            return self._json(200, public(record))
        # nothing else exists: the URL is never turned into a path on disk
        raise BadRequest(f"nothing at {path[:200]}", 404)

    def _asset(self, name: str) -> None:
        body = self.server.assets[name]  # type: ignore[attr-defined]
        csp = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; object-src 'none'"
        self._send(200, body, CONTENT_TYPES[name.rsplit(".", 1)[1]],
                   {"Cache-Control": "no-cache", "Content-Security-Policy": csp}, head=self.command == "HEAD")

    def _file(self, pid: str, stem: str, ext: str) -> None:
        record = self.shop.store.get(pid)
        path = record and record["_paths"].get(ext)
        if path is None or path.stem != stem:
            raise BadRequest(f"no file {stem}.{ext} for piece {pid}: unknown, or dropped to make room", 404)
        try:
            f = open(path, "rb")
        except FileNotFoundError:  # dropped between the look-up and now
            raise BadRequest(f"piece {pid} was dropped to make room for newer ones", 404) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            start, end, status = 0, size - 1, 200
            headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600",
                       "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
            if rng := self.headers.get("Range"):
                start, end = _byte_range(rng, size)
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPES[ext])
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("X-Content-Type-Options", "nosniff")
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "HEAD":
                return
            f.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := f.read(min(left, 1 << 16))):
                self.wfile.write(chunk)
                left -= len(chunk)

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != "/api/pieces":
            self.close_connection = True
            raise BadRequest(f"nothing to POST at {path[:200]}; POST settings to /api/pieces", 404)
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise BadRequest("a POST needs a Content-Length", 411)
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is not read
            raise BadRequest(f"the body is {int(length)} bytes; the limit is {MAX_BODY}", 413)
        body = self.rfile.read(int(length))
        name, sample, render = parse_request(body, self.shop.served)
        try:
            future = self.shop.queue.submit(self.shop.make, name, sample, render)
        except Busy as e:
            raise BadRequest(f"all {self.shop.queue.workers} workers are busy and {self.shop.queue.depth} "
                             f"requests wait: try again in {e.retry_after} s", 503,
                             {"Retry-After": str(e.retry_after)}) from None
        record = future.result()  # BadRequest from the model's checks comes out here as a 400
        self._json(201, record, {"Location": f"/api/pieces/{record['id']}"})


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """A single `bytes=a-b` range, clipped to the file; others are refused with 416."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if m and (m.group(1) or m.group(2)):
        a, b = m.groups()
        if a:
            start, end = int(a), min(int(b), size - 1) if b else size - 1
        else:
            start, end = max(0, size - int(b)), size - 1
        if start <= end:
            return start, end
    raise BadRequest(f"range {header[:100]} is not one this {size}-byte file can give", 416,
                     {"Content-Range": f"bytes */{size}"})


def _assets() -> dict[str, bytes]:
    web = resources.files("tunegen.runtime") / "web"
    return {name: (web / name).read_bytes() for name in set(WEB_FILES.values())}


class Server(ThreadingHTTPServer):
    daemon_threads = True  # open connections do not hold up the stop
    block_on_close = False
    allow_reuse_address = True


def start(host: str, port: int, shop: Workshop, verbose: bool = False) -> Server:
    """Bind the HTTP server to a workshop (not yet serving: call `serve_forever`). It logs where
    the workshop does."""
    server = Server((host, port), Handler)
    server.shop, server.verbose, server.assets = shop, verbose, _assets()  # type: ignore[attr-defined]
    server.log = shop.log  # type: ignore[attr-defined]
    server.limits = {"body_bytes": MAX_BODY, "workers": shop.queue.workers,  # type: ignore[attr-defined]
                     "queue": shop.queue.depth, "kept": shop.store.keep}
    return server


