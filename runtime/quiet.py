"""Keeping native libraries' log lines (TensorFlow, CUDA, XNNPack, FluidSynth) off the terminal, so a
user sees tunegen's own output and its one `error:` line alone.

`tunegen --verbose CMD` or `TUNEGEN_VERBOSE=1` lets them through, for debugging a setup.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import tempfile
import threading
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


# swapping file descriptor 2 is process-wide: two threads at it at once could leave it closed
_SWAP = threading.RLock()


@contextlib.contextmanager
def native_stderr(keep: tuple[str, ...] = ()) -> Iterator[None]:
    """Run a block whose native code writes to the process's stderr (file descriptor 2), and drop
    what it wrote, except lines starting with one of `keep`; everything passes under `verbose()`.
    Python's own writes to sys.stderr are not affected when they happen outside the block.
    One thread at a time."""
    if verbose():
        yield
        return
    with _SWAP:
        yield from _swapped(keep)


def _swapped(keep: tuple[str, ...]) -> Iterator[None]:
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


# lines native libraries write to file descriptor 2 on their own: absl/glog (`E0000 00:00:...
# file.cc:52] ...`), absl's notice before its init, the interpreter's delegate notice, FluidSynth
# and libinstpatch (GLib) messages, and the blank lines between them
NATIVE_LINE = re.compile(
    rb"^([IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl|"
    rb"INFO: Created TensorFlow Lite|fluidsynth: |\*\* \(process:\d+\)|\s*$)")


def filter_native_stderr() -> None:
    """For the command line: Python's own stderr (tunegen's messages, progress bars, Python
    warnings) keeps the terminal, and file descriptor 2, where native libraries write, goes through
    a thread that drops their log lines (`NATIVE_LINE`) and passes on anything else. Undone at exit."""
    if verbose():
        return
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    # line-buffered text on the saved terminal, in the encoding and error mode Python chose
    sys.stderr = open(terminal, "w", buffering=1, encoding=sys.stderr.encoding,  # noqa: SIM115
                      errors=sys.stderr.errors, closefd=False)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as native:
            for line in native:
                if not NATIVE_LINE.match(line):
                    os.write(terminal, line)

    thread = threading.Thread(target=forward, name="tunegen-native-stderr", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            os.dup2(terminal, 2)  # the pipe's last writer here closes: the thread sees its end
        except OSError:
            return
        thread.join(timeout=1.0)

    atexit.register(restore)
