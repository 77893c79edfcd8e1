import pytest

from tunegen.runtime.abc import bar_stats, split_header
from tunegen.runtime.errors import CorpusError
from tunegen.training.corpus import (
    SkipTune,
    corpus_files,
    is_valid_split,
    load_corpus,
    normalise,
    split_tunes,
)


def test_split_tunes_at_x_lines(oneills_file):
    tunes = split_tunes(oneills_file.read_text())
    assert len(tunes) == 50
    assert all(t.startswith("X:") for t in tunes)


def test_normalise_real_tune_keeps_music_and_needed_fields(oneills_file):
    raw = split_tunes(oneills_file.read_text())[1]  # "The Castle of Dromore", with slurs and notes
    assert "T:" in raw and "N:" in raw and "(" in raw
    tune = normalise(raw)
    fields, body = split_header(tune)
    assert list(fields) == ["M", "L", "K"]
    assert fields == {"M": "6/8", "L": "1/8", "K": "D"}
    for dropped in ('"', "T:", "N:", "Z:", "\\", "(F", ")"):
        assert dropped not in tune
    assert body.startswith("F/G/ |") or body.startswith("F/G/|")
    assert bar_stats(fields, body).fraction == 1.0


def test_normalise_drops_annotations_decorations_and_lyrics():
    raw = ('X:1\nT:t\nR:Reel\nM:C|\nL:1/8\nK:D Major\n% comment\n'
           'u"4"A|"D"!trill!d2 {g}f2 (3efe .d2|\nw: la la\nTd2f2 ~e4|]\n')
    tune = normalise(raw)
    assert tune == "R:reel\nM:C|\nL:1/8\nK:D\nA|d2 f2 (3efe d2|\nd2f2 e4|]"


@pytest.mark.parametrize("raw, reason", [
    ("X:1\nM:4/4\nL:1/8\nABcd|\n", "no K: field"),
    ("X:1\nM:4/4\nL:1/8\nK:D\n\n", "no notes"),
    ("X:1\nM:2/4\nL:1/8\nK:D\nAB$$cd|dcBA|ABcd|\n", None),
    ("X:1\nM:4/4\nL:1/8\nK:D\nAB[cd|dcBA|ABcd|\n", "unreadable ABC"),
    ("X:1\nM:4/4\nL:1/8\nK:D\nABcd|\nM:3/4\nABc|\n", "key or meter change"),
    ("X:1\nM:4/4\nL:1/8\nK:D\nAB|A|ABcdef|A|A|A|\n", "bars disagree with the meter"),
    ("X:1\nM:none\nL:1/8\nK:D\nABcd|\n", "no meter"),
])
def test_unusable_tunes_are_skipped_with_a_reason(raw, reason):
    if reason is None:
        normalise(raw)  # odd but readable: kept
        return
    with pytest.raises(SkipTune, match=reason):
        normalise(raw)


def test_load_corpus_folder_counts_kept_and_skipped(small_corpus):
    corpus = load_corpus(str(small_corpus))
    assert corpus.files == 3  # found recursively
    assert corpus.skipped["no K: field"] == 1
    assert corpus.skipped["no notes"] == 1
    assert corpus.kept > 80
    assert "kept" in corpus.summary() and "skipped" in corpus.summary()
    # de-duplicated, and the split is by tune and stable
    assert len(set(corpus.train + corpus.valid)) == corpus.kept
    assert all(is_valid_split(t, 10) for t in corpus.valid)
    again = load_corpus(str(small_corpus))
    assert again.valid == corpus.valid and again.train == corpus.train


def test_duplicates_are_dropped(tmp_path, oneills_file):
    (tmp_path / "a.abc").write_text(oneills_file.read_text())
    (tmp_path / "b.abc").write_text(oneills_file.read_text())
    corpus = load_corpus(str(tmp_path))
    assert corpus.skipped["duplicate"] >= 40


def test_bundled_collections_by_name():
    files = corpus_files("oneills1850,airdsAirs")
    assert len(files) > 30
    assert any("essenFolksong" in str(p) for p in corpus_files("essenFolksong"))
    assert corpus_files("ryansMammoth")


def test_bad_corpus_paths_say_what_to_do(tmp_path):
    with pytest.raises(CorpusError, match="not a file, a folder, or a bundled collection"):
        corpus_files(str(tmp_path / "missing"))
    (tmp_path / "junk.abc").write_text("just text, no tunes\n")
    with pytest.raises(CorpusError, match="no usable tunes"):
        load_corpus(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no .abc files"):
        load_corpus(str(empty))
