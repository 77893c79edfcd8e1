import json
import shutil

import numpy as np
import pytest

import tunegen
from tunegen.runtime.errors import ModelError, PrimerError, TunegenError
from tunegen.runtime.kinds.abc import parse_primer
from tunegen.runtime.manifest import Manifest
from tunegen.runtime.model import load_model, resolve
from tunegen.runtime.piece import Piece
from tunegen.runtime.sampler import Batch, Tally, Uniforms, choose, distribution, pick, prepare
from tunegen.runtime.sampling import sample
from tunegen.runtime.score import parse_abc


def test_distribution_temperature_top_k_top_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    np.testing.assert_allclose(distribution(logits), [0.5, 0.3, 0.15, 0.05])
    cold = distribution(logits, temperature=0.5)
    assert cold[0] > 0.5 and cold[3] < 0.05
    assert np.count_nonzero(distribution(logits, top_k=2)) == 2
    p = distribution(logits, top_p=0.7)  # 0.5 + 0.3 reach 0.7
    assert np.count_nonzero(p) == 2 and p.sum() == pytest.approx(1)


def test_choose_redraws_refused_choices_and_is_seeded():
    p = np.array([0.9, 0.05, 0.05])
    picks = [choose(p, np.random.default_rng(s), lambda i: i != 0) for s in range(20)]
    assert set(picks) <= {1, 2} and len(set(picks)) == 2
    assert choose(p, np.random.default_rng(3), lambda i: True) == choose(p, np.random.default_rng(3), lambda i: True)
    assert choose(p, np.random.default_rng(0), lambda i: False) == -1


def test_uniforms_drawn_many_at_a_time_are_the_generators_own_one_by_one():
    # a draw's random numbers come from a buffer: the same numbers in the same order, or every
    # seed would draw another piece
    for size in (1, 3, 128):
        one, many = np.random.default_rng([7, 0, 2]), Uniforms(np.random.default_rng([7, 0, 2]), size)
        got = [many.random() for _ in range(300)]
        assert got == [one.random() for _ in range(300)]
        assert all(type(u) is float for u in got)


@pytest.mark.parametrize("settings", [(1.0, 0, 0.95), (0.8, 0, 0.95), (1.3, 5, 1.0), (0.5, 40, 0.9)])
def test_one_row_is_prepared_as_the_same_row_in_a_batch(settings):
    # a batch of one takes its own, leaner path: the draws must not depend on which was taken
    rng = np.random.default_rng(4)
    for _ in range(200):
        logits = (rng.normal(size=(3, 370)) * rng.uniform(0.5, 8)).astype(np.float32)
        batch = prepare(logits, *settings)
        for k in range(3):
            alone = prepare(logits[k:k + 1], *settings)[0]
            for name in ("order", "ranked", "cum"):
                assert np.array_equal(getattr(alone, name), getattr(batch[k], name)), name
            assert (alone.kept, alone.peak, alone.total) == (batch[k].kept, batch[k].peak, batch[k].total)


def test_a_ranked_choice_is_the_token_a_stable_sort_puts_there():
    # a prepared row sorts its values only and finds a ranked choice's token when a draw needs it:
    # it must be the token the stable sort of the indices puts there, ties included
    rng = np.random.default_rng(8)
    for trial in range(300):
        logits = (rng.normal(size=(2, 90)) * rng.uniform(0.5, 12)).astype(np.float32)
        if trial % 3 == 0:  # ties: equal logits, at the top and lower down
            logits[:, 20:26] = logits[:, 3:4]
            logits[:, 40:44] = logits[:, :1].max() + np.float32(1.0)
        for row in prepare(logits, 0.9, 0, 0.95) + prepare(logits[:1], 1.0, 0, 1.0):
            order = (-row.e).argsort(kind="stable")
            assert np.array_equal(row.ranked, row.e[order])
            assert [row.choice(j) for j in range(len(order))] == order.tolist()


@pytest.mark.parametrize("settings", [(1.0, 0, 0.95), (0.8, 0, 0.95), (1.3, 5, 1.0), (0.5, 40, 0.9), (1e-7, 0, 0.95)])
def test_a_batch_row_draws_what_its_whole_preparation_draws(settings):
    # a row of a batch may be offered its likeliest choice without being sorted: the choice and
    # the random numbers it uses must be those of the whole preparation, refusals included
    rng = np.random.default_rng(6)
    quick = 0
    for trial in range(300):
        logits = (rng.normal(size=(3, 65)) * rng.uniform(0.5, 12)).astype(np.float32)
        if trial % 5 == 0:
            logits[:, 7:12] = logits[:, :1] + np.float32(1e-7)  # ties and near ties at the top
        refused = set(rng.choice(65, size=int(rng.integers(0, 64)), replace=False).tolist())
        refuse = [lambda i: True, lambda i, r=refused: i not in r, lambda i: i % 2 == 1]
        batch, whole = Batch(logits, settings), prepare(logits, *settings)
        for k in range(3):
            for allowed in refuse:
                seed = int(rng.integers(1 << 30))
                a, b = np.random.default_rng(seed), np.random.default_rng(seed)
                got, prep = pick(logits[k], *settings, a, allowed, (batch, k))
                assert got == pick(logits[k], *settings, b, allowed, whole[k])[0]
                assert a.random() == b.random()  # as many random numbers used
                quick += prep.ranked is None
    assert quick > 500  # the quick way was taken often (at temperature 1 too)


@pytest.mark.parametrize("settings", [(1.0, 0, 0.95), (0.8, 0, 0.95)])
def test_a_tally_sums_what_each_step_would_have_summed_and_backs_off(settings):
    rng = np.random.default_rng(5)
    tally, expect = Tally(undo=True), 0.0
    mark = None
    for step in range(700):
        row = (rng.normal(size=120) * 4).astype(np.float32)
        prep, i = prepare(row[None, :], *settings)[0], int(rng.integers(120))
        tally.add(row, i, prep)
        z = row.astype(np.float64)
        if prep.total is not None:  # the sum the draw made
            lse = float(prep.peak + np.log(prep.total))
        else:
            lse = float(z.max() + np.log(np.add.reduce(np.exp(z - z.max()))))
        expect += float(z[i]) - lse
        if step % 97 == 0:
            mark, at = tally.mark(), expect
        if step % 97 == 40:  # a dead end: back to the mark
            tally.back(mark)
            expect = at
    assert tally.total() == expect


def test_a_tally_sorts_later_the_rows_a_quick_choice_left_unsorted():
    # at temperature 1 a choice taken without sorting its row leaves the sorted sum to the tally,
    # which sorts many rows at once: the same log-probabilities, bit for bit, as rows prepared whole
    rng = np.random.default_rng(9)
    quick, whole = Tally(undo=True), Tally(undo=True)
    for step in range(900):
        row = (rng.normal(size=370) * rng.uniform(0.5, 6)).astype(np.float32)
        i = int(rng.integers(370))
        full = prepare(row[None, :], 1.0, 0, 0.95)[0]
        taken = Batch(row[None, :], (1.0, 0, 0.95)).first(0)[2]
        assert taken.total is None and taken.peak == full.peak
        whole.add(row, i, full)
        quick.add(row, i, taken if step % 3 else full)
        alone, sorted_here = Tally(), Tally()  # one row: a sum one rounding off shows in its log
        alone.add(row, i, taken)
        sorted_here.add(row, i, full)
        assert alone.total() == sorted_here.total()
        if step % 101 == 0:
            marks = whole.mark(), quick.mark()
        if step % 101 == 60:
            whole.back(marks[0])
            quick.back(marks[1])
    assert quick.total() == whole.total()


def test_tiny_model_samples_deterministic_tunes(tiny_model):
    m = tunegen.load(tiny_model)
    a = m.generate(seed=5, max_length=400)
    b = m.generate(seed=5, max_length=400)
    c = m.generate(seed=6, max_length=400)
    assert a.abc == b.abc
    assert a.abc != c.abc
    assert len(a.tokens) <= 400
    assert "K:" in a.abc and "M:" in a.abc and "L:" in a.abc


def test_primer_fields_and_opening_bars_are_kept(tiny_model):
    m = tunegen.load(tiny_model)
    tune = m.generate(seed=1, primer="M:6/8 K:Dmix", max_length=300)
    assert "M:6/8\n" in tune.abc and "K:DMix\n" in tune.abc  # as the corpus writes modes
    tune = m.generate(seed=1, primer="M:6/8\nL:1/8\nK:D\n|:dAF DFA|", max_length=300)
    assert "K:D\n|:dAF DFA|" in tune.abc


def test_primer_with_unknown_characters_is_refused(tiny_model):
    m = load_model(tiny_model)
    with pytest.raises(PrimerError, match="never saw.*'\\$'"):
        parse_primer("K:D $$", m.manifest.vocab)
    with pytest.raises(PrimerError, match="T: is not one the model uses"):
        parse_primer("T:hello", m.manifest.vocab)


def test_bad_sampling_options_are_refused(tiny_model):
    m = tunegen.load(tiny_model)
    for opts, what in (({"temperature": 0}, "temperature"), ({"top_p": 1.5}, "top-p"),
                       ({"count": 0}, "count"), ({"candidates": 0}, "candidates")):
        with pytest.raises(TunegenError, match=what):
            m.generate_many(**opts)


def test_validation_resamples_and_counts(tiny_model):
    m = tunegen.load(tiny_model)
    opts = m.options(seed=2, max_length=200)
    plan = m.kind.prepare(m.step, opts, m.bpm)
    calls = []

    def problem(tune):  # refuse the first two tunes, as music21 would refuse bad ABC
        calls.append(tune.abc)
        return "refused" if len(calls) <= 2 else None

    def make(draw, index, attempt):
        return Piece(m, draw.tokens, m.kind.content(plan, draw), opts.seed, index, attempt,
                     draw.sampled, draw.mean_logprob, draw.ending)

    tune = sample(m.step, opts, plan.guide, make, problem)[0]
    assert tune.resampled == 2 and len(calls) == 3
    assert len(set(calls)) == 3  # each attempt is a different draw


def test_parse_abc_flags_guessed_pitches_and_errors():
    _, problem = parse_abc("X:1\nM:4/4\nL:1/8\nK:D\nABcd efga|]\n")
    assert problem is None
    _, problem = parse_abc("X:1\nM:4/4\nL:1/8\nK:D\nAB\n")
    assert problem is None
    _, problem = parse_abc("X:1\nM:4/4\nL:1/8\nK:D\n\n")
    assert problem == "no notes"


def test_checksum_mismatch_is_refused_with_path_and_reason(tiny_model, tmp_path):
    for f in tiny_model.parent.glob("tiny.*"):
        shutil.copy(f, tmp_path / f.name)
    broken = tmp_path / "tiny.tflite"
    data = bytearray(broken.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=f"{broken}: checksum does not match"):
        load_model(tmp_path / "tiny.json")


def test_manifest_from_a_newer_exporter_is_refused(tiny_model, tmp_path):
    d = json.loads(tiny_model.read_text())
    d["format_version"] = 99
    (tmp_path / "new.json").write_text(json.dumps(d))
    with pytest.raises(ModelError, match="newer than this tunegen understands"):
        Manifest.load(tmp_path / "new.json")


def test_unknown_model_names_list_the_shipped_ones():
    with pytest.raises(ModelError, match="unknown model 'nope'.*folk"):
        resolve("nope")
    with pytest.raises(ModelError, match="no such model manifest"):
        resolve("/nonexistent/x.tflite")


def test_several_files_are_written_all_or_none(tmp_path):
    from tunegen.runtime.paths import write_all_atomic

    (tmp_path / "b.json").mkdir()  # a folder in the way of the second file
    with pytest.raises(TunegenError, match="b.json"):
        write_all_atomic([(tmp_path / "a.tflite", b"model"), (tmp_path / "b.json", b"{}")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]  # no a.tflite, no temp file
    write_all_atomic([(tmp_path / "a.tflite", b"model"), (tmp_path / "c.json", b"{}")])
    assert (tmp_path / "a.tflite").read_bytes() == b"model" and (tmp_path / "c.json").read_bytes() == b"{}"


def test_candidates_keep_the_likeliest_usable_draw_and_check_only_what_could_be_kept(monkeypatch):
    # the draws are given here, not sampled: what is under test is which one is kept
    from types import SimpleNamespace

    from tunegen.runtime import sampling
    from tunegen.runtime.sampling import MAX_TRIES, Draw

    scores = {0: [-1.0, -0.5, -0.5, -0.7, -0.5], 1: [-0.45, -0.2, -0.9]}
    monkeypatch.setattr(sampling, "draw", lambda model, opts, make_guide, seed, candidates: [
        Draw([f"{seed[2]}.{k}"], 1, s, "end") for k, s in enumerate(scores.get(seed[2], [-2.0]))])
    checked = []

    def problem(piece):
        checked.append(piece.tokens[0])
        return "unusable" if piece.tokens[0] in ("0.1", "1.1") else None

    opts = SimpleNamespace(count=1, seed=3, candidates=5)
    kept = sample(None, opts, lambda i: None, lambda d, i, a: d, problem)
    assert kept[0].tokens == ["0.2"] and checked == ["0.1", "0.2"]  # the first of equals that is usable

    checked.clear()  # none is all it should be: drawn again, the best of every attempt kept
    kept = sample(None, opts, lambda i: None, lambda d, i, a: d, problem, rank=lambda p: (False, p.mean_logprob))
    assert kept[0].tokens == ["1.0"]
    assert checked == ["0.1", "0.2", "1.1", "1.0"]  # later attempts' draws are no better: not checked
    assert MAX_TRIES > 2
