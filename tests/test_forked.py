"""Candidates drawn on every core: real forked processes stepping the shipped models, checked
against the same rows drawn in one batch here."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tunegen
from tunegen.runtime import forked
from tunegen.runtime.sampling import draw


@pytest.fixture
def two_cores(monkeypatch):
    """Split over two processes whatever this machine has (the split is what is tested)."""
    monkeypatch.setattr(forked, "usable_cores", lambda: 2)


def _draws(model, parts, monkeypatch, seed):
    monkeypatch.setattr(forked, "parts", lambda rows: min(parts, rows))
    opts = model.options(seed=seed, candidates=8)
    plan = model.kind.prepare(model.step, opts, model.bpm)
    return [(d.tokens, d.sampled, d.mean_logprob, d.ending) for d in draw(model.step, opts, plan.guide, [seed, 0, 0], 8)]


@pytest.mark.parametrize("name", ["folk", "piano"])
def test_split_draws_are_the_batch_draws(name, monkeypatch):
    model = tunegen.load(name)
    for seed in (1, 2):
        together = _draws(model, 1, monkeypatch, seed)
        assert _draws(model, 2, monkeypatch, seed) == together
        assert _draws(model, 3, monkeypatch, seed) == together  # uneven parts keep their order
        assert len({tuple(t) for t, *_ in together}) == 8


def test_pieces_are_contiguous_and_near_one_size():
    assert [list(p) for p in forked.split_up(range(8), 3)] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert [len(p) for p in forked.split_up(range(7), 2)] == [4, 3]
    assert [len(p) for p in forked.split_up(range(3), 8)] == [1, 1, 1]
    assert [list(p) for p in forked.split_up(range(5), 1)] == [[0, 1, 2, 3, 4]]


def test_a_failed_copy_is_drawn_here(two_cores):
    here = os.getpid()

    def run(part):
        if os.getpid() != here:
            os._exit(3)  # a copy that dies without handing anything back
        return [x * 10 for x in part]

    assert forked.split(list(range(7)), run) == [x * 10 for x in range(7)]


def test_an_error_here_stops_the_copies(two_cores, monkeypatch):
    here, started, fork = os.getpid(), [], forked._fork

    def run(part):
        if os.getpid() != here:
            threading.Event().wait(60)  # would outlive the call if it were not stopped
            return part
        raise KeyboardInterrupt

    monkeypatch.setattr(forked, "_fork", lambda piece, run: started.append(fork(piece, run)) or started[-1])
    with pytest.raises(KeyboardInterrupt):
        forked.split([1, 2, 3, 4], run)
    (pid, _), = started
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: nothing is left running


def test_no_fork_beside_other_threads(two_cores, monkeypatch):
    assert forked.parts(8) == 2 and forked.parts(1) == 1
    monkeypatch.setattr(forked, "usable_cores", lambda: 64)
    assert forked.parts(64) == forked.MAX_PARTS
    monkeypatch.setattr(forked, "usable_cores", lambda: 2)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="a-server-worker")
    worker.start()
    try:
        assert forked.parts(8) == 1  # a server's or player's thread could hold what a copy needs
        assert forked.split([1, 2, 3], lambda part: [os.getpid() for _ in part]) == [os.getpid()] * 3
    finally:
        stop.set()
        worker.join()


def test_the_command_splits_with_its_progress_bar_and_writes_what_the_api_draws(tmp_path, monkeypatch):
    # a real `tunegen` process: its native-stderr reader and rich's progress bar are running when
    # it forks; what it writes is what one batch in this process draws
    out = tmp_path / "best.abc"
    res = subprocess.run([str(Path(sys.executable).parent / "tunegen"), "generate", "--seed", "5", "--count", "2",
                          "--candidates", "6", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "" and res.stdout.strip() == f"wrote {out}"
    model = tunegen.load("folk")
    monkeypatch.setattr(forked, "parts", lambda rows: 1)
    pieces = model.generate_many(2, seed=5, candidates=6)
    assert out.read_bytes() == model.kind.collection(pieces)



def _scaled(target, piece):
    return [target * x for x in piece]


def _fails_in_a_copy(target, piece):
    if os.getpid() != target:
        raise ValueError("a part that fails in its copy")
    return [x + 1 for x in piece]


def _stuck_in_a_copy(target, piece):
    if os.getpid() != target:
        threading.Event().wait(60)  # would outlive the split if it were not stopped
        return list(piece)
    raise KeyboardInterrupt


def _pids(helpers):
    return [pid for pid, *_ in helpers._copies]


def test_kept_copies_draw_split_after_split_without_a_fork(two_cores):
    helpers = forked.Helpers(10)
    try:
        assert helpers.split(list(range(7)), _scaled) == [10 * x for x in range(7)]
        kept = _pids(helpers)
        assert len(kept) == 1 and kept[0] != os.getpid()
        assert helpers.split([3, 4, 5], _scaled) == [30, 40, 50]
        assert _pids(helpers) == kept  # the same copy drew the second split's part
    finally:
        helpers.close()
    assert _pids(helpers) == []


def test_a_kept_copy_that_is_gone_or_fails_leaves_its_part_to_be_drawn_here(two_cores):
    here = os.getpid()
    helpers = forked.Helpers(here)
    try:
        assert helpers.split([1, 2, 3, 4], _fails_in_a_copy) == [2, 3, 4, 5]
        (kept,) = _pids(helpers)  # a part that failed in its copy: the copy itself is fine
        os.kill(kept, signal.SIGKILL)
        assert helpers.split(list(range(6)), _scaled) == [here * x for x in range(6)]
        assert _pids(helpers) == []  # the dead copy was let go (and reaped) ...
        with pytest.raises(ChildProcessError):
            os.waitpid(kept, os.WNOHANG)
        assert helpers.split([1, 2], _scaled) == [here, 2 * here]
        assert len(_pids(helpers)) == 1 and _pids(helpers) != [kept]  # ... and a new one forked
    finally:
        helpers.close()


def test_an_error_here_stops_a_kept_copy_that_is_drawing(two_cores):
    helpers = forked.Helpers(os.getpid())
    assert helpers.split([1, 2], _scaled) == [os.getpid(), 2 * os.getpid()]
    (kept,) = _pids(helpers)
    with pytest.raises(KeyboardInterrupt):
        helpers.split([1, 2, 3, 4], _stuck_in_a_copy)
    assert _pids(helpers) == []  # its answer would have been the next split's: it is stopped
    with pytest.raises(ChildProcessError):
        os.waitpid(kept, os.WNOHANG)  # and reaped


def test_work_that_is_no_data_is_drawn_in_copies_forked_for_it(two_cores):
    helpers = forked.Helpers(3)
    here = os.getpid()
    assert helpers.split([1, 2, 3, 4], lambda target, piece: [(target * x, os.getpid() != here) for x in piece]) == [
        (3, False), (6, False), (9, True), (12, True)]
    assert _pids(helpers) == []  # nothing kept for a closure


def test_a_process_forked_from_this_one_keeps_no_copies_of_ours(two_cores):
    # a server that forks its workers after a draw: a worker must not talk to this process's copies
    helpers = forked.Helpers(2)
    try:
        assert helpers.split([1, 2], _scaled) == [2, 4]
        (kept,) = _pids(helpers)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            ok = _pids(helpers) == [] and helpers.split([1, 2, 3], _scaled) == [2, 4, 6]
            ok = ok and len(_pids(helpers)) == 1 and _pids(helpers) != [kept]
            os.write(write_end, b"1" if ok else b"0")
            os._exit(0)
        os.close(write_end)
        answer = os.read(read_end, 1)
        os.close(read_end)
        os.waitpid(pid, 0)
        assert answer == b"1"
        assert _pids(helpers) == [kept] and helpers.split([5, 6], _scaled) == [10, 12]
    finally:
        helpers.close()
