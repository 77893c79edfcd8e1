"""A bounded pool of worker threads fed by a bounded queue, and a bounded store of finished work:
what `tunegen serve` runs generations on, so that many clients at once never run more of them than
there are workers, and memory stays flat however long the server runs."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any


class Busy(Exception):
    """The queue is full; `retry_after` is a guess in whole seconds of when a place frees up."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"busy: try again in {retry_after} s")
        self.retry_after = retry_after


class WorkQueue:
    """`workers` threads take jobs from a queue holding at most `depth` waiting jobs. `submit`
    never blocks: a full queue raises Busy at once, so a crowd gets quick refusals, not a pile-up.
    `setup` runs once in each worker thread before its first job (to load its own models: a TFLite
    interpreter must not be shared between threads)."""

    def __init__(self, workers: int, depth: int, setup: Callable[[], None] | None = None) -> None:
        self.workers, self.depth = workers, depth
        self._jobs: queue.Queue = queue.Queue()
        # places for jobs running or waiting (a Queue's maxsize 0 would mean no bound at all)
        self._places = threading.Semaphore(workers + depth)
        self._setup = setup
        self._seconds = 1.0  # running mean of a job's time, for Retry-After
        self._lock = threading.Lock()
        self._ready = threading.Semaphore(0)
        self._setup_error: BaseException | None = None
        # daemon threads: a generation under way must not hold up Ctrl-C or SIGTERM
        self._threads = [threading.Thread(target=self._work, name=f"tunegen-worker-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until every worker has run its setup; raises the first setup's error, if any."""
        for _ in self._threads:
            self._ready.acquire(timeout=timeout)
        if self._setup_error is not None:
            raise self._setup_error

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue `fn(*args)`; its Future holds the result or the exception. Raises Busy when full."""
        if not self._places.acquire(blocking=False):
            with self._lock:
                wait = self._seconds * (self.depth + self.workers) / self.workers
            raise Busy(max(1, round(wait)))
        future: Future = Future()
        self._jobs.put((future, fn, args))
        return future

    def stop(self) -> None:
        """Let the workers end after their current job; does not wait for them."""
        for _ in self._threads:  # daemon threads: the process need not wait for them
            self._jobs.put(None)

    def _work(self) -> None:
        try:
            if self._setup:
                self._setup()
        except BaseException as e:  # reported by wait_ready; this worker takes no jobs
            self._setup_error = e
            return
        finally:
            self._ready.release()
        while (item := self._jobs.get()) is not None:
            future, fn, args = item
            start = time.perf_counter()
            try:
                if future.set_running_or_notify_cancel():
                    future.set_result(fn(*args))
            except BaseException as e:  # handed to the caller, who decides what it means
                future.set_exception(e)
            finally:
                self._places.release()
            with self._lock:
                self._seconds = 0.8 * self._seconds + 0.2 * (time.perf_counter() - start)


class Store:
    """Finished pieces by id, newest last, at most `keep` of them: adding one more drops the
    oldest and deletes its folder. Each piece's files live in `root/<id>/`."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root, self.keep = root, keep
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, pid: str, record: dict) -> None:
        with self._lock:
            self._items[pid] = record
            dropped = []
            while len(self._items) > self.keep:
                dropped.append(self._items.popitem(last=False)[0])
        for old in dropped:
            shutil.rmtree(self.root / old, ignore_errors=True)

    def get(self, pid: str) -> dict | None:
        with self._lock:
            return self._items.get(pid)

    def recent(self) -> list[dict]:
        """Every kept piece, newest first."""
        with self._lock:
            return list(reversed(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)
