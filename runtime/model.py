"""Loading a model (a `.tflite` and its manifest) and stepping it one token at a time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import ModelError
from .interpreter import interpreter_class, package_version, runtime_fits
from .limits import usable_cores
from .manifest import Manifest, sha256_file
from .paths import header_text
from .probe import probe
from .quiet import native_stderr

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "folk"
# native lines passed on without --verbose: none (the interpreter announces its CPU delegate on
# every load, and a refused model's reason is in the ModelError)
_KEEP: tuple[str, ...] = ()


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
    if str(model) in shipped and os.sep not in str(model):
        return shipped[str(model)]
    named = Path(f"{path}.json")  # `tunegen export RUN --out DIR/NAME` writes DIR/NAME.json
    if path.suffix != ".json" and named.is_file():
        return named
    raise ModelError(
        f"unknown model {str(model)!r}; shipped models: {', '.join(shipped) or 'none'} "
        "(or give a path to a .tflite with its .json beside it)"
    )


def default_threads() -> int:
    """Threads for the interpreter when none are asked for: one. A second thread makes a step
    faster only in a loop that does nothing else; between steps of a real draw (sampling, the
    guide) its worker falls asleep, and waking it costs more than it saves (folk 50 µs a step
    with two threads against 35 with one, piano 44-68 against 36; batch 8: 137 against 120)."""
    return 1


class StepModel:
    """A loaded step graph: call `step(tokens, state)` to get logits and the next state."""

    def __init__(self, manifest: Manifest, path: Path, num_threads: int | None = None,
                 probed: bool = False) -> None:
        self.manifest, self.path = manifest, path
        # more threads than cores only contend, and a huge count starves the machine, then crashes
        num_threads = min(num_threads or default_threads(), usable_cores())
        cls, self.package = interpreter_class()
        if not probed and path.resolve().parent != MODELS_DIR:
            probe(path, manifest)
        try:
            with native_stderr(keep=_KEEP):
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
        try:
            self._match_graph()
            self.batch, self._sizes = 0, set()
            self.resize(1)
        except (ValueError, RuntimeError, KeyError, IndexError, TypeError) as e:
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise ModelError(f"{path}: the graph does not work as its manifest says: {reason}") from None

    def _match_graph(self) -> None:
        """Check the graph's own tensors against the manifest: every name it gives, the token's and
        state's shapes, and logits over the whole vocabulary; ModelError naming the first mismatch."""
        manifest, path = self.manifest, self.path
        sigs = self.interpreter._get_full_signature_list()
        if "serving_default" not in sigs:
            raise ModelError(f"{path}: the graph has no serving_default signature")
        sig = sigs["serving_default"]
        try:
            self._in = {k: sig["inputs"][name] for k, name in manifest.inputs.items()}
            self._out = {k: sig["outputs"][name] for k, name in manifest.outputs.items()}
        except KeyError as e:
            raise ModelError(f"{path}: the graph has no tensor {e} named in its manifest") from None
        details = {d["index"]: d for d in (*self.interpreter.get_input_details(),
                                           *self.interpreter.get_output_details())}

        def shape(index: int) -> list[int]:
            if index not in details:
                raise ModelError(f"{path}: the graph's signature names tensor {index}, which is not one of its inputs or outputs")
            return [int(x) for x in details[index]["shape"]]

        if len(shape(self._in["token"])) != 1:
            raise ModelError(f"{path}: the graph's token input is not one token per sequence")
        for i, units in enumerate(manifest.layers):
            for k in "hc":
                for side, tensors in (("input", self._in), ("output", self._out)):
                    got = shape(tensors[f"{k}{i}"])
                    if len(got) != 2 or got[-1] != units:
                        raise ModelError(f"{path}: the graph's {side} {k}{i} has shape {got}; its manifest "
                                         f"says layer {i} has {units} units")
        logits = shape(self._out["logits"])
        if len(logits) != 2 or logits[-1] != len(manifest.vocabulary):
            raise ModelError(f"{path}: the graph's logits have shape {logits}; its manifest's vocabulary "
                             f"has {len(manifest.vocabulary)} tokens")
        self.layers = len(manifest.layers)
        # tensor indices in state order (h0, c0, h1, c1, ...), looked up once: a step is tens of µs
        self._state_in = [self._in[f"{k}{i}"] for i in range(self.layers) for k in "hc"]
        self._state_out = [self._out[f"{k}{i}"] for i in range(self.layers) for k in "hc"]

    def resize(self, batch: int) -> None:
        """Step `batch` sequences at once (each step reads the weights once for all of them)."""
        if batch == self.batch:
            return
        self.interpreter.resize_tensor_input(self._in["token"], [batch])
        for i, units in enumerate(self.manifest.layers):
            for kind in "hc":
                self.interpreter.resize_tensor_input(self._in[f"{kind}{i}"], [batch, units])
        # a size allocated before has nothing to say on native stderr, and hiding it costs 50 µs:
        # a batch resizes whenever one of its draws ends
        if batch in self._sizes:
            self.interpreter.allocate_tensors()
        else:
            with native_stderr(keep=_KEEP):
                self.interpreter.allocate_tensors()
            self._sizes.add(batch)
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
    # a name is shown and written into ABC headers: one plain line (file names sanitise it again)
    manifest.name = header_text(manifest.name) or manifest_path.stem
    return StepModel(manifest, tflite, num_threads)
