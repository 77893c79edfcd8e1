import pytest

from tunegen.runtime.abc import bar_stats, split_header
from tunegen.runtime.errors import CorpusError
from tunegen.training.cache import build_cache, is_valid_split
from tunegen.training.kinds.abc import SkipTune, corpus_files, normalise, split_tunes


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


def test_a_corpus_folder_is_cached_with_kept_and_skipped_counts(small_corpus):
    cache = build_cache(str(small_corpus), "abc")
    assert cache.meta["files"] == 3  # found recursively
    skipped = cache.skipped()
    assert skipped["no K: field"] == 1
    assert skipped["no notes"] == 1
    assert len(cache) > 80
    assert "kept" in cache.summary() and "skipped" in cache.summary()
    # de-duplicated, and the split is by tune and stable
    tunes = [cache.piece(i) for i in range(len(cache))]
    assert len(set(tunes)) == len(cache)
    train, valid = cache.split()
    assert all(is_valid_split(tunes[i], 10) for i in valid)
    assert not any(is_valid_split(tunes[i], 10) for i in train)
    again = build_cache(str(small_corpus), "abc-char")
    assert again.path == cache.path and (again.valid_mask == cache.valid_mask).all()


def test_duplicates_are_dropped(tmp_path, oneills_file):
    (tmp_path / "a.abc").write_text(oneills_file.read_text())
    (tmp_path / "b.abc").write_text(oneills_file.read_text())
    assert build_cache(str(tmp_path), "abc").skipped()["duplicate"] >= 40


def test_too_long_tunes_are_skipped_and_every_corpus_holds_back_one(oneills_file, tmp_path):
    cache = build_cache(str(oneills_file), "abc", valid_percent=0, max_chars=200)
    assert cache.skipped()["too long"] > 0
    assert max(len(cache.piece(i)) for i in range(len(cache))) <= 200
    assert cache.valid_mask.sum() == 1 and cache.valid_mask[-1]  # the one hold-back rule


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
        build_cache(str(tmp_path), "abc")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no .abc files"):
        build_cache(str(empty), "abc")
