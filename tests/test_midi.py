"""The MIDI event model end to end on real music: corpus, training, export, sampling, files."""

import json

import pytest
from conftest import read_midi_notes
from typer.testing import CliRunner

import tunegen
from tunegen.runtime.cli import main_app
from tunegen.runtime.events import GRID, MODES, bar_ticks, decode, event_vocabulary

app = main_app()


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_corpus_reads_midi_and_scores_and_counts_skips(midi_corpus):
    from tunegen.training.cache import build_cache

    corpus = build_cache(str(midi_corpus), "midi", workers=2)
    assert len(corpus) == 14 and corpus.meta["files"] == 16  # the .txt is not a music file
    skipped = corpus.skipped()
    assert sum(v for k, v in skipped.items() if k.startswith("unreadable")) == 1
    assert skipped["no notes"] == 1
    pieces = [corpus.piece(i) for i in range(len(corpus))]
    # every piece is written in C major or A minor and opens with its mode, then its meter
    assert all(isinstance(t, list) and t[0] in MODES and t[1].startswith("ts") for t in pieces)
    assert sum(n for k, n in corpus.meta["facts"].items() if k.startswith("key ")) == len(corpus)
    assert 0 < corpus.valid_mask.sum() < len(corpus)


def test_corpus_with_no_usable_files_is_refused(tmp_path):
    from tunegen.runtime.errors import CorpusError
    from tunegen.training.cache import build_cache

    with pytest.raises(CorpusError, match="holds no MIDI"):
        build_cache(str(tmp_path), "midi")
    (tmp_path / "bad.mid").write_bytes(b"not a midi file at all")
    with pytest.raises(CorpusError, match="no usable pieces.*1 skipped"):
        build_cache(str(tmp_path), "midi")


def test_midi_run_and_export(tiny_midi_run, tiny_midi_model):
    pytest.importorskip("tensorflow")
    from tunegen.runtime.manifest import Manifest

    cfg = json.loads((tiny_midi_run / "config.json").read_text())
    assert cfg["tokenizer"] == "midi-event-2" and cfg["train"]["transpose"] == 3
    assert cfg["vocab"] == list(event_vocabulary().tokens)
    state = json.loads((tiny_midi_run / "state.json").read_text())
    assert state["finished"] and state["steps"] == 20
    m = Manifest.load(tiny_midi_model)
    assert m.kind == "midi-event" and m.render["program"] == 0
    assert m.provenance["valid_nats_per_token"] > 0 and "bars" in m.sampling
    keys = m.music["keys"]  # the corpus's keys, which pieces are drawn in, and the keys they are written in
    assert keys["written_in"] == {"major": "C", "minor": "A"} and sum(keys["corpus"].values()) > 0


@pytest.fixture(scope="module")
def tiny(tiny_midi_model):
    return tunegen.load(tiny_midi_model)


def test_same_seed_same_midi_and_bars_stay_whole(tiny, tmp_path):
    a, b = tiny.generate(seed=5, bars=6), tiny.generate(seed=5, bars=6)
    assert a.data(".mid") == b.data(".mid") and a.tokens == b.tokens
    assert tiny.generate(seed=6, bars=6).tokens != a.tokens
    music = a.music
    size = bar_ticks(music.meters[0][1])
    assert {y - x for x, y in zip(music.barlines, music.barlines[1:], strict=False)} <= {size}
    assert len(music.barlines) <= 6
    if a.ending == "bars":  # stopped by the limit: everything released at the barline
        assert max(n.end for n in music.notes) <= music.barlines[-1] + size


def test_length_in_seconds_ends_at_a_barline(tiny):
    piece = tiny.generate(seed=2, seconds=4, temperature=0.7)
    music = piece.music
    if piece.ending == "seconds":
        cut = decode(piece.tokens).length  # where sampling stopped
        assert max(n.end for n in music.notes) <= cut
        assert piece.seconds <= 4 + 60 / tiny.bpm * bar_ticks(music.meters[0][1]) / GRID
    assert piece.seconds > 0


def test_a_midi_primer_is_read_only_as_far_as_its_opening(midi_corpus):
    """music21 reads the opening bars cut out of a MIDI file as it reads them in the whole file,
    and the key is still the whole piece's."""
    from tunegen.runtime.events import release_at
    from tunegen.runtime.kinds.midi import primer_music
    from tunegen.runtime.midiscan import opening
    from tunegen.runtime.score import read_music

    files = sorted(midi_corpus.glob("bwv*.mid"))
    assert len(files) >= 4
    for path in files:
        whole = read_music(path)
        cut = whole.barlines[4] if len(whole.barlines) > 4 else whole.length
        music, at = primer_music(path)
        assert at == cut and music.notes == release_at(whole.notes, cut), path.name
        assert music.barlines == [b for b in whole.barlines if b < cut] and music.meters[0] == whole.meters[0]
        assert (music.tonic, music.mode) == (whole.tonic, whole.mode), path.name
        assert len(opening(path.read_bytes(), 5)) < len(path.read_bytes())


def test_a_long_midi_primer_is_continued(tiny, tmp_path):
    from tunegen.runtime.events import Music, Note
    from tunegen.runtime.kinds.midi import primer_music
    from tunegen.runtime.midiscan import opening, scan
    from tunegen.runtime.render import events_midi, music_events

    chords = [(48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72)]
    notes = [Note(12 * (n // 4), chords[(n // 4) % 4][n % 4], 12) for n in range(5000)]
    path = tmp_path / "long.mid"
    path.write_bytes(events_midi(music_events(Music(notes, [(0, "4/4")], [], 0, "major"))[0], 100, meter="4/4"))
    assert scan(path.read_bytes())[1] == 5000
    assert scan(opening(path.read_bytes(), 5))[1] == 5 * 4 * 4  # five bars of a chord a beat
    music, cut = primer_music(path)
    assert cut == 4 * 4 * GRID and len(music.notes) == 4 * 4 * 4 and (music.tonic, music.mode) == (0, "major")
    assert tiny.generate(seed=2, primer=path, bars=8).primer_notes == 64


def test_primer_opening_is_continued(tiny, midi_corpus):
    primer = sorted((midi_corpus / "xml").iterdir())[0]
    from tunegen.runtime.kinds.midi import primer_music, primer_tokens

    opening = primer_tokens(*primer_music(primer, bars=2), modes=True)
    tokens = primer_tokens(*primer_music(primer), modes=True)
    piece = tiny.generate(seed=1, primer=primer)
    assert piece.tokens[:len(tokens)] == tokens and tokens[0] in MODES
    assert piece.primer_notes > 0
    assert len([t for t in opening if t == "bar"]) <= 2
    # the piece stays in the primer's key: written in the reference key, played in the primer's
    music, _ = primer_music(primer)
    assert (piece.music.tonic, piece.music.mode) == (music.tonic, music.mode)


def test_stream_is_the_first_draw(tiny):
    from tunegen.runtime.sampling import draw

    tokens = list(tiny.stream(seed=9, bars=4))
    opts = tiny.options(seed=9, bars=4)
    plan = tiny.kind.prepare(tiny.step, opts, tiny.bpm)
    first = draw(tiny.step, opts, lambda: plan.guide(0), [9, 0, 0])[0]
    assert tokens == first.tokens
    piece = tiny.generate(seed=9, bars=4)  # keeps the first draw unless it drew again
    assert piece.resampled or piece.tokens == tokens


def test_cli_generate_midi_and_wav(tiny_midi_model, tmp_path):
    r = run_cli("generate", "--model", tiny_midi_model, "--seed", 3, "--bars", 4, "--out", tmp_path / "x.mid",
                "--out", tmp_path / "x.wav")
    assert r.exit_code == 0, r.output
    assert "bars of" in r.output and (tmp_path / "x.wav").stat().st_size > 44
    notes, hanging, _ = read_midi_notes(tmp_path / "x.mid")
    assert notes and hanging == 0


@pytest.mark.parametrize("args, message", [
    (["--out", "x.abc"], "makes no ABC"),
    (["--out", "x.mid", "--primer", "/no/such.mid"], "primer file /no/such.mid not found"),
    (["--out", "x.mid", "--bars", "0"], "bars must be at least 1"),
    (["--out", "x.mid", "--seconds", "-1"], "seconds must be above 0"),
])
def test_cli_bad_midi_options(tiny_midi_model, tmp_path, args, message):
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    r = run_cli("generate", "--model", tiny_midi_model, *args)
    assert r.exit_code != 0 and message in str(r.exception or "") + r.output


def test_primer_without_notes_is_refused(tiny, midi_corpus):
    from tunegen.runtime.errors import PrimerError

    with pytest.raises(PrimerError, match="no notes"):
        tiny.generate(primer=midi_corpus / "empty-track.mid")


def test_midi_options_on_an_abc_model_are_refused(shipped_folk):
    folk = tunegen.load(shipped_folk)
    with pytest.raises(tunegen.TunegenError, match="bars sets a MIDI event piece's length"):
        folk.generate(bars=8)
    with pytest.raises(tunegen.TunegenError, match="MIDI primer needs a MIDI event model"):
        folk.generate(primer="opening.mid")


def test_shipped_piano_plays_durations_rests_and_chords(shipped_piano, tmp_path):
    piano = tunegen.load("piano")
    assert piano.kind.name == "midi-event" and piano.program == 0
    path = piano.generate(seed=11).save(tmp_path / "p.mid")
    notes, hanging, tpq = read_midi_notes(path)
    assert hanging == 0 and len(notes) >= 24
    assert len({d for _, d, _ in notes}) >= 3
    onsets = sorted({s for s, _, _ in notes})
    assert any(sum(1 for n in notes if n[0] == s) >= 2 for s in onsets)
    cover, rests = 0, 0
    for s in onsets:
        rests += bool(cover) and s > cover
        cover = max(cover, max(a + d for a, d, _ in notes if a == s))
    assert rests >= 1


def test_train_midi_on_a_folder_without_music_fails_cleanly(tmp_path):
    (tmp_path / "broken.mid").write_bytes(b"MThd garbage")
    r = run_cli("train", "midi", tmp_path, "--out", tmp_path / "run")
    assert r.exit_code != 0
    assert "no usable pieces" in str(r.exception) and "1 skipped: 1 unreadable" in str(r.exception)
    assert not (tmp_path / "run").exists()
