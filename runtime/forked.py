"""Drawing a batch's rows on every core: the rows split into one batch per core, each stepped in
another process but the first, which stays here.

Rows of a batch are computed independently (a row's logits are the same bit for bit in a batch of
one, three or eight), and each draw has its own random stream, so the split draws exactly what one
batch would; a part whose process fails is drawn here instead. The other processes are forked
copies of this one, so a part costs no load and no start-up: `Helpers` keeps such copies waiting
for the next split (a fork and the pages it then copies cost a split about a tenth of its time),
and a split whose work cannot be handed over as data forks a copy for itself. Forking is done only
on Linux and only where no other thread of this process could be holding something the copy needs
(a server's or a player's threads): elsewhere the rows stay one batch.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import struct
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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


class Helpers:
    """Copies of this process kept waiting to draw parts of splits for `target` (each holds
    `target` as it was when it was forked, and has made the pages it writes its own): a split then
    hands each copy its part as data, without a fork. A copy leaves when this process closes its
    pipe: at `close`, when the Helpers are collected, or when this process ends."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self._copies: list[tuple[int, int, int]] = []  # (pid, pipe to it, pipe from it)
        weakref.finalize(self, Helpers._shut, self._copies)
        # let them go before anything registered earlier runs at exit: the command line's reader of
        # native stderr waits for every writer of its pipe, and the copies hold it
        atexit.register(Helpers._shut, self._copies)
        _ALL.add(self)

    def split(self, items: Sequence[T], run: Callable[[Any, Sequence[T]], list[R]]) -> list[R]:
        """`split(items, lambda piece: run(target, piece))`, the pieces but the first drawn by the
        kept copies (forked when there are too few); `run` and each piece are handed over pickled,
        and where they cannot be the pieces are drawn in copies forked for this split."""
        pieces = split_up(items, parts(len(items)))
        if len(pieces) == 1:
            return run(self.target, items)
        try:
            jobs = [pickle.dumps((run, piece), protocol=pickle.HIGHEST_PROTOCOL) for piece in pieces[1:]]
        except Exception:  # not data (a closure): a copy forked now holds it as it is
            return split(items, lambda piece: run(self.target, piece))
        while len(self._copies) < len(jobs):
            copy = self._fork()
            if copy is None:
                break
            self._copies.append(copy)
        copies = self._copies[:len(jobs)]
        waiting: list[tuple[int, int, int]] = []  # copies drawing a part, their answer still unread
        try:
            handed: list[tuple[int, int, int] | None] = []
            for job, copy in zip(jobs, copies, strict=False):
                if _send(copy[1], job):
                    waiting.append(copy)
                    handed.append(copy)
                else:  # gone: its part is drawn here
                    self._drop(copy)
                    handed.append(None)
            handed += [None] * (len(jobs) - len(handed))  # too few copies could be forked
            out = run(self.target, pieces[0])
            for piece, copy in zip(pieces[1:], handed, strict=True):
                got = None
                if copy is not None:
                    data = _receive(copy[2])
                    waiting.remove(copy)
                    try:
                        got = pickle.loads(data) if data else None
                    except Exception:
                        data = None
                    if data is None:  # it died, or its answer is cut off: let it go
                        self._drop(copy)
                out.extend(run(self.target, piece) if got is None else got)
        finally:
            for copy in waiting:  # interrupted here: an answer left unread would be the next split's
                self._drop(copy)
        return out

    def close(self) -> None:
        """Let every kept copy go (a later split forks new ones)."""
        Helpers._shut(self._copies)

    def _drop(self, copy: tuple[int, int, int]) -> None:
        """Stop and reap one copy (it may be drawing, or broken)."""
        self._copies.remove(copy)
        pid, to_it, from_it = copy
        os.close(to_it)
        _stop(pid, from_it)

    @staticmethod
    def _shut(copies: list[tuple[int, int, int]]) -> None:
        """Close the pipes to `copies`, which then leave; they are reaped later (`_reap`)."""
        for pid, to_it, from_it in copies:
            for fd in (to_it, from_it):
                with contextlib.suppress(OSError):
                    os.close(fd)
            _EXITING.append(pid)
        copies.clear()
        _reap()

    def _fork(self) -> tuple[int, int, int] | None:
        jobs_r, jobs_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (jobs_r, jobs_w, out_r, out_w):
                os.close(fd)
            return None
        if pid == 0:  # the copy: draw each part it is handed until its pipe ends
            try:
                os.close(jobs_w)
                os.close(out_r)
                # the caller's handlers are not the copy's: a kill ends it, and Ctrl-C is the caller's
                # to act on (it stops a copy that is drawing, and one that waits is of no harm)
                for sig in (signal.SIGTERM, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                while (job := _receive(jobs_r)) is not None:
                    try:
                        run, piece = pickle.loads(job)
                        answer = pickle.dumps(run(self.target, piece), protocol=pickle.HIGHEST_PROTOCOL)
                    except Exception:
                        answer = b""  # the caller draws this part itself
                    if not _send(out_w, answer):
                        break
            finally:
                os._exit(0)
        os.close(jobs_r)
        os.close(out_w)
        return pid, jobs_w, out_r


_ALL: weakref.WeakSet = weakref.WeakSet()  # every Helpers of this process


def _forget_copies() -> None:
    """In a process forked from this one (a copy, or a fork of a user's own): the kept copies are
    this process's, not its own to talk to; it closes their pipes and forks its own when it needs."""
    for helpers in list(_ALL):
        for _, to_it, from_it in helpers._copies:
            for fd in (to_it, from_it):
                with contextlib.suppress(OSError):
                    os.close(fd)
        helpers._copies.clear()
    _EXITING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_copies)
_LENGTH = struct.Struct("<Q")


def _send(fd: int, data: bytes) -> bool:
    """Write `data` whole, after its length; False when the reader is gone."""
    try:
        view = memoryview(_LENGTH.pack(len(data)) + data)
        while view:
            view = view[os.write(fd, view):]
        return True
    except OSError:  # BrokenPipeError: the copy has gone
        return False


def _receive(fd: int) -> bytes | None:
    """What `_send` wrote, or None at the pipe's end (or when it ends part way)."""
    head = _read(fd, _LENGTH.size)
    return None if head is None else _read(fd, _LENGTH.unpack(head)[0])


def _read(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


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
