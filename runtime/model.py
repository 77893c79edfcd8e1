"""Loading a model (a `.tflite` and its manifest) and stepping it one token at a time."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from .errors import ModelError
from .interpreter import interpreter_class, package_version, runtime_fits
from .manifest import Manifest, sha256_file

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "folk"


def shipped_models() -> dict[str, Path]:
    """Shipped model names and their manifests."""
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.json"))}


def resolve(model: str | Path) -> Path:
    """The manifest path for a model name (from `models/`), a `.json`, a `.tflite` or a folder."""
    path = Path(model).expanduser()
    if path.suffix == ".tflite":
        path = path.with_suffix(".json")
    elif path.is_dir():
        found = sorted(path.glob("*.json"))
        if len(found) != 1:
            raise ModelError(f"{path}: expected one model manifest (.json) in the folder, found {len(found)}")
        path = found[0]
    if path.suffix == ".json":
        if not path.exists():
            raise ModelError(f"{path}: no such model manifest")
        return path
    shipped = shipped_models()
    if str(model) in shipped:
        return shipped[str(model)]
    raise ModelError(
        f"unknown model {str(model)!r}; shipped models: {', '.join(shipped) or 'none'} "
        "(or give a path to a .tflite with its .json beside it)"
    )


# swapping file descriptor 2 is process-wide: two threads at it at once could leave it closed
_STDERR_SWAP = threading.Lock()


@contextlib.contextmanager
def _native_stderr_filtered(drop: str = "INFO: Created TensorFlow Lite XNNPACK delegate"):
    """Run a block whose native code writes to stderr, passing on all but the `drop` lines
    (the interpreter announces its CPU delegate on every load). One thread at a time."""
    with _STDERR_SWAP:
        yield from _filtered_stderr(drop)


def _filtered_stderr(drop: str):
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. under a test runner)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith(drop):
                    sys.stderr.write(line)


def default_threads() -> int:
    """Threads for the interpreter when none are asked for: the cores this process may use, at most
    4. (The interpreters default to one; a second core makes a batch-1 step 1.3-1.6x faster.)"""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


class StepModel:
    """A loaded step graph: call `step(tokens, state)` to get logits and the next state."""

    def __init__(self, manifest: Manifest, path: Path, num_threads: int | None = None) -> None:
        self.manifest, self.path = manifest, path
        num_threads = num_threads or default_threads()
        cls, self.package = interpreter_class()
        try:
            with _native_stderr_filtered():
                self.interpreter = cls(model_path=str(path), num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            version = package_version(self.package)
            need = manifest.min_runtime
            hint = "" if runtime_fits(need, self.package, version) else (
                f"; the model needs TFLite runtime {need} or newer and {self.package} {version} is "
                "installed: upgrade it, or export the model with --target for this device")
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise ModelError(f"{path}: the interpreter ({self.package} {version}) refused the model: "
                             f"{reason}{hint}") from None
        sig = self.interpreter._get_full_signature_list()["serving_default"]
        want_in, want_out = manifest.inputs, manifest.outputs
        try:
            self._in = {k: sig["inputs"][name] for k, name in want_in.items()}
            self._out = {k: sig["outputs"][name] for k, name in want_out.items()}
        except KeyError as e:
            raise ModelError(f"{path}: the graph has no tensor {e} named in its manifest") from None
        self.layers = len(manifest.layers)
        # tensor indices in state order (h0, c0, h1, c1, ...), looked up once: a step is tens of µs
        self._state_in = [self._in[f"{k}{i}"] for i in range(self.layers) for k in "hc"]
        self._state_out = [self._out[f"{k}{i}"] for i in range(self.layers) for k in "hc"]
        self.batch = 0
        self.resize(1)

    def resize(self, batch: int) -> None:
        """Step `batch` sequences at once (each step reads the weights once for all of them)."""
        if batch == self.batch:
            return
        self.interpreter.resize_tensor_input(self._in["token"], [batch])
        for i, units in enumerate(self.manifest.layers):
            for kind in "hc":
                self.interpreter.resize_tensor_input(self._in[f"{kind}{i}"], [batch, units])
        with _native_stderr_filtered():
            self.interpreter.allocate_tensors()
        self.batch = batch

    def zero_state(self, batch: int = 1) -> list[np.ndarray]:
        """Zeroed (h, c) for every layer, in manifest order h0, c0, h1, c1, ..."""
        return [np.zeros((batch, u), np.float32) for u in self.manifest.layers for _ in "hc"]

    def step(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one token per sequence; returns logits [batch, vocab] and the new state."""
        it = self.interpreter
        tokens = np.asarray(tokens, np.int32).reshape(-1)
        self.resize(len(tokens))
        it.set_tensor(self._in["token"], tokens)
        for index, value in zip(self._state_in, state, strict=True):
            it.set_tensor(index, value)
        it.invoke()
        return it.get_tensor(self._out["logits"]), [it.get_tensor(index) for index in self._state_out]


def load_model(model: str | Path = DEFAULT_MODEL, num_threads: int | None = None,
               verify: bool = True) -> StepModel:
    """Load a model by shipped name or path, verifying the `.tflite` against its manifest's sha256.
    `num_threads` None uses `default_threads()`."""
    manifest_path = resolve(model)
    manifest = Manifest.load(manifest_path)
    tflite = manifest_path.parent / manifest.tflite
    if not tflite.exists():
        raise ModelError(f"{tflite}: model file missing (named by {manifest_path})")
    if verify:
        actual = sha256_file(tflite)
        if actual != manifest.sha256:
            raise ModelError(
                f"{tflite}: checksum does not match its manifest (file {actual[:12]}…, "
                f"manifest {manifest.sha256[:12]}…); the file is damaged or was replaced: "
                "re-export or reinstall it"
            )
    if not manifest.name:
        manifest.name = manifest_path.stem
    return StepModel(manifest, tflite, num_threads)
