"""Drawing a batch's rows on every core: the rows split into one batch per core, each stepped in a
forked copy of this process but the first, which stays here.

Rows of a batch are computed independently (a row's logits are the same bit for bit in a batch of
one, three or eight), and each draw has its own random stream, so the split draws exactly what one
batch would; a part whose process fails is drawn here instead. Forking copies the loaded model and
the guides as they are, so a part costs no load and no start-up. It is done only on Linux and only
where no other thread of this process could be holding something the copy needs (a server's or a
player's threads): elsewhere the rows stay one batch.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from .limits import usable_cores

T = TypeVar("T")
R = TypeVar("R")
# threads that may be running while this process forks, by name or class: they hold nothing a copy
# uses (the command line's reader of native stderr copies a pipe to the terminal; rich's progress
# bar redraws itself)
HARMLESS_THREADS = ("tunegen-native-stderr", "_RefreshThread")
# copies at most: each costs a fork of this process (1-2 ms) and the pages it writes, which beyond
# this outweighs a share of a draw that takes tens of milliseconds
MAX_PARTS = 8


def parts(rows: int) -> int:
    """How many processes `rows` draws are split over here: one per usable core, at most one per
    row and MAX_PARTS; 1 where forking is not safe."""
    if rows < 2 or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if any(t.name not in HARMLESS_THREADS and type(t).__name__ not in HARMLESS_THREADS for t in others):
        return 1
    return min(usable_cores(), rows, MAX_PARTS)


def split_up(items: Sequence[T], n: int) -> list[Sequence[T]]:
    """`items` in at most `n` contiguous pieces of as near one size as may be, the first the
    largest."""
    size = -(-len(items) // max(n, 1)) or 1
    return [items[i:i + size] for i in range(0, len(items), size)] or [items]


def split(items: Sequence[T], run: Callable[[Sequence[T]], list[R]]) -> list[R]:
    """`run(items)`, computed in `parts(len(items))` contiguous pieces at once (every piece but the
    first in a forked process), in the order of `items`; `run` must give one result per item and
    depend on each item alone."""
    pieces = split_up(items, parts(len(items)))
    if len(pieces) == 1:
        return run(items)
    children: list[tuple[Sequence[T], tuple[int, int] | None]] = []
    try:
        for piece in pieces[1:]:
            children.append((piece, _fork(piece, run)))
        out = run(pieces[0])
        while children:
            piece, child = children.pop(0)
            got = _collect(*child) if child else None
            out.extend(run(piece) if got is None else got)
    finally:
        for _, child in children:  # an interrupted or failed draw here: the copies are not needed
            if child:
                _stop(*child)
    return out


def _fork(piece: Sequence[T], run: Callable[[Sequence[T]], list[R]]) -> tuple[int, int] | None:
    """A forked copy drawing `piece`: its pid and the pipe it hands its draws back through; None
    when no process can be made (the piece is then drawn here)."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the copy: draw, hand the draws back, and leave without running anything at exit
        code = 1
        try:
            os.close(read_end)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the caller's handlers are
                signal.signal(sig, signal.SIG_DFL)  # not the copy's: Ctrl-C or a kill just ends it
            data = pickle.dumps(run(piece), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int) -> list | None:
    """What a copy drew, or None when it failed (its part is then drawn here). The copy is not
    waited for: unmapping a copy of this process takes milliseconds, and what it handed back is
    whole or fails to load; it is reaped by a later call."""
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    except BaseException:
        _stop(pid, None)
        raise
    _EXITING.append(pid)
    _reap()
    try:
        return pickle.loads(data) if data else None
    except Exception:  # a copy that died mid-write: draw its part here
        return None


_EXITING: list[int] = []  # copies that handed their draws back and may not have exited yet


def _reap() -> None:
    for pid in list(_EXITING):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:  # reaped already (SIGCHLD ignored)
            done = True
        if done:
            _EXITING.remove(pid)


def _stop(pid: int, read_end: int | None) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if read_end is not None:
        os.close(read_end)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
