"""Hostile input, property-based: whatever a user, a caller or a model file does, the outcome is a
TunegenError (one `error:` line on the command line) or a correct result; never another exception,
a signal, a hang or a file outside the folder asked for.

The shipped models are loaded once; most cases stop at validation, so well over 1,000 cases run in
about a minute. Mutated `.tflite` bytes are loaded the way the runtime loads any model from outside
its install: tried first in a child process, so a native crash cannot take pytest down.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import tunegen  # noqa: E402
from tunegen.runtime import limits  # noqa: E402
from tunegen.runtime.abc import FIELD_VALUES  # noqa: E402
from tunegen.runtime.cli import main_app  # noqa: E402
from tunegen.runtime.errors import TunegenError  # noqa: E402
from tunegen.runtime.manifest import Manifest  # noqa: E402
from tunegen.runtime.model import shipped_models  # noqa: E402
from tunegen.runtime.paths import header_text, safe_filename  # noqa: E402

CASES = settings(deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                        HealthCheck.filter_too_much])


def cases(n: int) -> settings:
    """Hypothesis settings for `n` examples: no deadline (a case may generate), reproducible."""
    return settings(CASES, max_examples=n)


runner = CliRunner()
app = main_app(["generate"])

# values a hostile caller passes where a number, a text or a path is expected
HOSTILE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1, -3, 0, 1e9, 10**12, 2**64, -(2**63), True, False,
                     "x", "", "1", b"K:G", None, [], {}, [1], 1.5, -0.0, 1e-320, object()]),
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
)


@pytest.fixture(scope="module")
def folk():
    return tunegen.load("folk")


@pytest.fixture(scope="module")
def piano():
    return tunegen.load("piano")


def _outcome(call):
    """Run `call`: a TunegenError or a result, within bounded time; any other exception fails."""
    start = time.monotonic()
    try:
        result = call()
    except TunegenError as e:
        assert str(e) and "\n" not in str(e).strip() or len(str(e)) < 2000
        result = e
    assert time.monotonic() - start < 30
    return result


# --- API argument types and numeric options -------------------------------------------------

OPTION_NAMES = ("seed", "temperature", "top_k", "top_p", "max_length", "count", "candidates", "bars",
                "seconds", "primer")


@cases(300)
@given(st.dictionaries(st.sampled_from(OPTION_NAMES), HOSTILE, min_size=1, max_size=4),
       st.sampled_from(["folk", "piano"]))
def test_api_options_are_checked_or_refused(folk, piano, settings_, which):
    model = folk if which == "folk" else piano
    opts = _outcome(lambda: model.options(settings_.pop("count", 1), **settings_))
    if isinstance(opts, TunegenError):
        return
    assert limits.is_int(opts.seed) and opts.seed >= 0
    assert math.isfinite(opts.temperature) and 0 < opts.temperature <= limits.MAX_TEMPERATURE
    assert 0 < opts.top_p <= 1 and opts.top_k >= 0
    assert 16 <= opts.max_length <= limits.MAX_LENGTH
    assert 1 <= opts.count <= limits.MAX_COUNT and 1 <= opts.candidates <= limits.MAX_CANDIDATES
    assert isinstance(opts.primer, str) and not opts.primer.startswith("b'")
    assert opts.seconds is None or (math.isfinite(opts.seconds) and opts.seconds > 0)
    assert opts.bars is None or opts.seconds is None


@cases(50)
@given(st.sampled_from(["model", "bpm", "program", "num_threads", "soundfont"]), HOSTILE)
def test_api_load_arguments_are_checked_or_refused(name, value):
    kwargs = {"model": "folk", name: value}
    model = kwargs.pop("model")
    result = _outcome(lambda: tunegen.load(model, **kwargs))
    if not isinstance(result, TunegenError):
        assert 20 <= result.bpm <= 400 and 0 <= result.program <= 127
        assert result.step.interpreter is not None


def test_api_misuse_named_in_the_issue(folk):
    for call in (lambda: tunegen.load(None), lambda: folk.generate(seed="x"), lambda: folk.generate(seed=-1),
                 lambda: tunegen.load("folk", bpm="fast"), lambda: folk.generate(primer=b"K:G"),
                 lambda: folk.generate(temperature=math.inf), lambda: folk.generate(max_length=16),
                 lambda: folk.generate_many(0), lambda: folk.generate_many(-3),
                 lambda: folk.generate(candidates=10**9), lambda: folk.generate(primer="M:99999999999/4")):
        with pytest.raises(TunegenError):
            call()
    with pytest.raises(TunegenError, match="not both"):
        tunegen.load("piano").generate(bars=4, seconds=10)
    assert tunegen.load("folk", num_threads=100000).step.interpreter is not None  # clamped, no crash


# --- ABC primers ------------------------------------------------------------------------------

FIELD = st.builds(lambda f, v: f"{f}:{v}", st.sampled_from("RMLKXTQ"),
                  st.one_of(st.sampled_from(sorted(FIELD_VALUES["M"] | FIELD_VALUES["K"])), st.text(max_size=12),
                            st.sampled_from(["ppp", "-3/4", "99999999999/4", "0/4", "4/0", "C|", "1/8"])))
ABC_PRIMER = st.one_of(
    st.text(max_size=200),
    st.lists(FIELD, max_size=5).map(" ".join),
    st.builds(lambda h, b, n: h + "\n" + b * n, st.lists(FIELD, max_size=3).map("\n".join),
              st.sampled_from(["GABc dedB|", "|:", "[CEG]2", "(3abc", "z8|", "\x00", "\u00e9"]),
              st.integers(0, 600)),
)


@cases(250)
@given(ABC_PRIMER)
def test_abc_primers_are_parsed_or_refused(folk, primer):
    def prepare():
        opts = folk.options(primer=primer, seed=1)
        return folk.kind.prepare(folk.step, opts, folk.bpm)

    plan = _outcome(prepare)
    if isinstance(plan, TunegenError):
        return
    for name, value in plan.fixed.items():  # what reaches the tune's header is a value it can use
        assert name == "R" or value in FIELD_VALUES[name], (name, value)
    assert len(plan.body) < limits.MAX_PRIMER_CHARS


@cases(12)
@given(st.lists(FIELD, max_size=3).map(" ".join), st.integers(0, 2**31))
def test_abc_primed_tunes_are_tunes(folk, primer, seed):
    piece = _outcome(lambda: folk.generate(primer=primer, seed=seed, max_length=300))
    if not isinstance(piece, TunegenError):
        assert piece.abc.startswith("X:1\nT:") and "|" in piece.abc


# --- MIDI primers -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_midi(piano) -> bytes:
    return piano.generate(seed=2, bars=6).data(".mid")


@cases(80)
@given(st.one_of(st.binary(max_size=2000), st.tuples(st.integers(0, 10**6), st.integers(1, 30))),
       st.sampled_from([".mid", ".midi", ".xml", ".krn", ".musicxml"]))
def test_midi_primers_are_read_or_refused(piano, real_midi, tmp_path_factory, content, suffix):
    if isinstance(content, tuple):  # a real MIDI file with bytes changed
        seed, n = content
        data = bytearray(real_midi)
        for k in range(n):
            data[(seed * (k + 7)) % len(data)] = (seed >> (k % 16)) & 0xFF
        content = bytes(data)
    path = tmp_path_factory.mktemp("primer") / f"p{suffix}"
    path.write_bytes(content)
    tokens = _outcome(lambda: piano.kind.prepare(piano.step, piano.options(primer=path, seed=1), piano.bpm))
    if not isinstance(tokens, TunegenError):
        assert all(isinstance(t, str) for t in tokens.primer)


def test_a_huge_midi_primer_is_refused_fast(piano, tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + b"\0" * (limits.MAX_PRIMER_BYTES[".mid"] + 1))
    start = time.monotonic()
    with pytest.raises(TunegenError, match="KB"):
        piano.generate(primer=big, seed=1)
    assert time.monotonic() - start < 2


def test_a_midi_primer_of_thousands_of_empty_tracks_is_refused_fast(piano, tmp_path):
    many = tmp_path / "tracks.mid"
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (60000).to_bytes(2, "big") + (480).to_bytes(2, "big")
    many.write_bytes(header + b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00" * 60000)
    start = time.monotonic()
    with pytest.raises(TunegenError, match="tracks"):
        piano.generate(primer=many, seed=1)
    assert time.monotonic() - start < 2


# --- manifests --------------------------------------------------------------------------------

FOLK_JSON = json.loads(shipped_models()["folk"].read_text())


@cases(300)
@given(st.lists(st.tuples(st.sampled_from(sorted(FOLK_JSON) + ["nested"]),
                          st.one_of(HOSTILE, st.sampled_from(["delete", "shrink", "grow", "dup"]))),
                min_size=1, max_size=3))
def test_manifests_are_validated(edits):
    d = json.loads(json.dumps(FOLK_JSON))
    for key, value in edits:
        if key == "nested":
            d["sampling"] = {"temperature": value} if not isinstance(value, str) else value
        elif value == "delete":
            d.pop(key, None)
        elif value in ("shrink", "grow", "dup") and isinstance(d.get(key), (list, dict)):
            if isinstance(d[key], list):
                d[key] = d[key][:1] if value == "shrink" else d[key] + d[key][-1:]
            else:
                d[key] = dict(list(d[key].items())[:1]) if value == "shrink" else {**d[key], "x": d[key]}
        else:
            d[key] = value
    result = _outcome(lambda: Manifest.from_dict(d, "m.json"))
    if not isinstance(result, TunegenError):
        assert len(result.layers) * 2 == len(result.state) and result.vocabulary[:3] == ["<pad>", "<start>", "<end>"]
        assert "/" not in result.tflite


def _model_dir(tmp: Path, data: bytes, **changes) -> Path:
    m = dict(FOLK_JSON, tflite="m.tflite", sha256=hashlib.sha256(data).hexdigest(), **changes)
    (tmp / "m.tflite").write_bytes(data)
    (tmp / "m.json").write_text(json.dumps(m))
    return tmp / "m.json"


FOLK_TFLITE = (shipped_models()["folk"].parent / "folk.tflite").read_bytes()


@cases(16)
@given(st.integers(0, 2**32), st.sampled_from(["flip", "truncate", "head", "zero"]))
def test_mutated_model_bytes_are_refused_or_run(tmp_path_factory, seed, how):
    import random

    rng = random.Random(seed)
    data = bytearray(FOLK_TFLITE)
    if how == "truncate":
        data = data[:rng.randrange(len(data))]
    elif how == "zero":
        start = rng.randrange(len(data))
        data[start:start + 4096] = bytes(len(data[start:start + 4096]))
    else:
        span = 4096 if how == "head" else len(data)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(min(span, len(data)))] = rng.randrange(256)
    path = _model_dir(tmp_path_factory.mktemp("mut"), bytes(data))
    result = _outcome(lambda: tunegen.load(path).generate(seed=1, max_length=120))
    if isinstance(result, TunegenError):
        assert str(path.parent) in str(result) or "model" in str(result)


def test_manifest_not_matching_its_graph_is_refused(tmp_path):
    path = _model_dir(tmp_path, FOLK_TFLITE, layers=[384, 384, 384],
                      inputs={**FOLK_JSON["inputs"], "h2": "h2", "c2": "c2"},
                      outputs={**FOLK_JSON["outputs"], "h2": "h2_out", "c2": "c2_out"},
                      state=FOLK_JSON["state"] + FOLK_JSON["state"][:2])
    with pytest.raises(TunegenError):  # the schema or the graph check, never a KeyError
        tunegen.load(path)
    path = _model_dir(tmp_path, FOLK_TFLITE, vocabulary=FOLK_JSON["vocabulary"] + ["~"])
    with pytest.raises(TunegenError, match="logits"):
        tunegen.load(path)


# --- the command line -------------------------------------------------------------------------

NUMBER_TEXT = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "-3", "1e9", "99999999999999999999", "x",
                               "", "0.5", "2", "1e-9", "-0"])


def _cli(args: list[str]):
    start = time.monotonic()
    try:
        res = runner.invoke(app, args, catch_exceptions=False)
    except TunegenError as e:  # main() prints these as one `error:` line, exit 1
        return 1, str(e)
    assert time.monotonic() - start < 60
    assert "Traceback" not in res.output
    return res.exit_code, res.output


@cases(60)
@given(st.lists(st.tuples(st.sampled_from(["--seed", "--temperature", "--top-k", "--top-p", "--count",
                                           "--candidates", "--max-length", "--bpm", "--program"]),
                          NUMBER_TEXT), min_size=1, max_size=3))
def test_cli_numeric_options(tmp_path_factory, options):
    out = tmp_path_factory.mktemp("cli") / "t.abc"
    args = ["generate", "--out", str(out)] + [a for pair in options for a in pair]
    if not any(k == "--max-length" for k, _ in options):
        args += ["--max-length", "200"]
    if not any(k == "--count" for k, _ in options):
        args += ["--count", "1"]
    code, output = _cli(args)
    if code == 0:
        assert out.exists() and out.read_text().startswith("X:1\n")
    else:
        assert not out.exists()


@cases(40)
@given(st.sampled_from(["--seconds", "--bars", "--max-length", "--candidates"]), NUMBER_TEXT)
def test_cli_piano_length_options(tmp_path_factory, option, value):
    out = tmp_path_factory.mktemp("cli") / "p.mid"
    code, output = _cli(["generate", "-m", "piano", "--seed", "1", option, value, "--out", str(out),
                         *([] if option == "--bars" else ["--bars", "2"] if option != "--seconds" else [])])
    assert code == 0 or not out.exists()


@cases(30)
@given(st.sampled_from(["--pause", "--seed", "--max-pieces", "--temperature"]),
       st.sampled_from(["nan", "inf", "-inf", "-1", "1e9", "61", "x", "0", "-0.5"]))
def test_cli_radio_checks_numbers_before_playing(tmp_path_factory, option, value):
    if option == "--max-pieces" and value == "61":
        value = "-61"  # a valid count would run that many pieces
    folder = tmp_path_factory.mktemp("radio") / "out"
    args = ["radio", "--out-dir", str(folder), option, value]
    code, output = _cli(args if option == "--max-pieces" else args + ["--max-pieces", "1"])
    if code == 0:  # a valid value (a seed of 61, no pause): one piece, written whole
        assert sorted(p.suffix for p in folder.iterdir()) == [".abc", ".wav"]
    else:
        assert not folder.exists() or not list(folder.iterdir())


# --- output paths and names from manifests ----------------------------------------------------

@cases(60)
@given(st.sampled_from(["dir", "missing", "proc", "sys", "file-as-folder", "nul", "dotdot"]),
       st.sampled_from([".abc", ".mid", ".wav"]))
def test_outputs_that_cannot_be_written_fail_before_generating(tmp_path_factory, where, suffix):
    tmp = tmp_path_factory.mktemp("outs")
    (tmp / "d.abc").mkdir()
    (tmp / "f").write_text("x")
    out = {"dir": tmp / "d.abc", "missing": tmp / "no" / f"x{suffix}", "proc": Path(f"/proc/tunegen{suffix}"),
           "sys": Path(f"/sys/tunegen{suffix}"), "file-as-folder": tmp / "f" / f"x{suffix}",
           "nul": Path(f"{tmp}/a\0b{suffix}"), "dotdot": tmp / ".."}[where]
    if where == "dir":
        out = out.with_suffix(suffix) if suffix != ".abc" else out
        out.mkdir(exist_ok=True)
    # /proc and /sys refuse files only where the kernel's filesystems are mounted (in a bare
    # chroot they are plain folders a root user may write in)
    assume(where not in ("proc", "sys") or os.path.ismount(f"/{where}"))
    before = sorted(p.name for p in tmp.iterdir())
    start = time.monotonic()
    code, output = _cli(["generate", "--seed", "1", "--out", str(out)])
    assert code != 0 and time.monotonic() - start < 10  # refused before any sampling
    assert sorted(p.name for p in tmp.iterdir()) == before


def test_a_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch):
    import errno

    real = os.fdopen

    def full(fd, *a, **k):
        f = real(fd, *a, **k)

        def write(_):
            raise OSError(errno.ENOSPC, "No space left on device")

        f.write = write
        return f

    monkeypatch.setattr("tunegen.runtime.paths.os.fdopen", full)
    out = tmp_path / "t.abc"
    code, output = _cli(["generate", "--seed", "1", "--out", str(out)])
    assert code == 1 and f"cannot write {out}: the disk is full" in output
    assert list(tmp_path.iterdir()) == []  # no temporary file left


@cases(300)
@given(st.text(max_size=80))
def test_names_never_become_paths_or_header_lines(name):
    safe = safe_filename(name)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*|model", safe) and ".." not in safe
    folder = Path("/tmp/x/y")
    assert (folder / f"00001-{safe}-seed1.wav").resolve().parent == folder
    line = header_text(name)
    assert "\n" not in line and "\r" not in line and len(line) <= 64


def test_radio_keeps_hostile_names_inside_its_folders(tmp_path):
    (tmp_path / "m").mkdir()
    path = _model_dir(tmp_path / "m", FOLK_TFLITE, name="../../escaped\nT:evil")
    out, keep = tmp_path / "a" / "b" / "out", tmp_path / "a" / "b" / "keep"
    out.mkdir(parents=True)
    (out / ".00007-old-seed1.wav.abcdef.tmp").write_bytes(b"half")  # a killed radio's leftover
    code, output = _cli(["radio", "-m", str(path), "--out-dir", str(out), "--keep", str(keep), "--max-pieces", "1"])
    assert code == 0, output
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {path, path.with_suffix(".tflite")}
    assert written and all(p.parent in (out, keep) for p in written), written
    assert not list(out.glob("*.tmp"))
    abc = next(keep.glob("*.abc")).read_text()
    assert abc.count("\nT:") == 1 and "evil" in abc.split("\n")[1]


def test_export_path_names_the_model(tmp_path):
    path = _model_dir(tmp_path, FOLK_TFLITE)
    stem = path.with_suffix("")
    assert tunegen.load(str(stem)).name == "folk"  # the manifest's own name


# --- corpus files -----------------------------------------------------------------------------

TUNE = "X:1\nM:4/4\nL:1/8\nK:G\nGABc dedB|GABc dedB|cBAG FGAB|c2B2 A4|\n"
CORPUS_FILE = st.one_of(st.binary(max_size=3000).map(lambda b: ("bin", b)), st.just(("empty", b"")),
                        st.just(("utf16", TUNE.encode("utf-16"))), st.just(("tune", TUNE.encode())),
                        st.text(max_size=300).map(lambda t: ("text", t.encode("utf-8", "surrogatepass"))),
                        st.just(("loop", b"")))


@cases(40)
@given(st.lists(CORPUS_FILE, min_size=1, max_size=5))
def test_corpus_files_are_used_or_counted(tmp_path_factory, monkeypatch, files):
    from tunegen.training.cache import build_cache

    monkeypatch.setenv("TUNEGEN_CACHE", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path_factory.mktemp("corpus")
    for i, (what, data) in enumerate(files):
        path = root / f"{i}-{what}.abc"
        if what == "loop":  # a symlink to itself, and a folder linking back to the corpus
            path.symlink_to(path)
            (root / f"{i}-dir").mkdir()
            (root / f"{i}-dir" / "back").symlink_to(root)
        else:
            path.write_bytes(data)
    cache = _outcome(lambda: build_cache(str(root), "abc", workers=1))
    if isinstance(cache, TunegenError):
        assert "0 skipped: )" not in str(cache)
        return
    readable = sum(1 for what, _ in files if what != "loop")
    # every readable file gave a tune or a counted reason (a tune seen twice counts as a duplicate)
    assert cache.meta["pieces"] + sum(cache.meta["skipped"].values()) >= readable
