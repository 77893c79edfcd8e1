"""Keeping native libraries' log lines (TensorFlow, CUDA, XNNPack, FluidSynth) off the terminal, so a
user sees tunegen's own output and its one `error:` line alone.

`tunegen --verbose CMD` or `TUNEGEN_VERBOSE=1` lets them through, for debugging a setup.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

# set before TensorFlow is first imported; a value the user set is left alone
_TF_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ logging: errors too (cuInit on a CPU box)
    "GRPC_VERBOSITY": "ERROR",  # multiworker training's gRPC
    "ABSL_MIN_LOG_LEVEL": "3",
}
_set_by_us: list[str] = []


def verbose() -> bool:
    """Whether native logging should be shown (`--verbose` or `$TUNEGEN_VERBOSE`)."""
    return os.environ.get("TUNEGEN_VERBOSE", "").strip().lower() not in ("", "0", "no", "false")


def setup(loud: bool | None = None) -> None:
    """Silence TensorFlow's and its helpers' logging through their environment variables (they
    read them once, at import), unless `loud` (default: `verbose()`)."""
    loud = verbose() if loud is None else loud
    if loud:
        os.environ["TUNEGEN_VERBOSE"] = "1"
        for name in _set_by_us:
            os.environ.pop(name, None)
        _set_by_us.clear()
        return
    for name, value in _TF_ENV.items():
        if name not in os.environ:
            os.environ[name] = value
            _set_by_us.append(name)


@contextlib.contextmanager
def native_stderr(keep: tuple[str, ...] = ()) -> Iterator[None]:
    """Run a block whose native code writes to the process's stderr (file descriptor 2), and drop
    what it wrote, except lines starting with one of `keep`; everything passes under `verbose()`.
    Python's own writes to sys.stderr are not affected when they happen outside the block."""
    if verbose():
        yield
        return
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
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            if keep:
                tmp.seek(0)
                for line in tmp.read().decode(errors="replace").splitlines(keepends=True):
                    if line.startswith(keep):
                        sys.stderr.write(line)
