"""The MIDI event tokenizer on real files: round trips, keyboard merging, drums, bad files."""

import pytest
from conftest import bach_files, read_midi_notes, smf

from tunegen.runtime.events import (
    GRID,
    EventGuide,
    Music,
    Note,
    bar_ticks,
    decode,
    encode,
    event_vocabulary,
    keyboard,
    release_at,
    transpose_table,
)
from tunegen.runtime.render import events_midi, music_events
from tunegen.runtime.score import NotMusic, read_music


@pytest.fixture(scope="module")
def chorales() -> list[Music]:
    return [read_music(f) for f in bach_files(6)]


def test_tokens_round_trip_real_scores(chorales):
    vocab = event_vocabulary()
    for music in chorales:
        tokens = encode(music)
        assert vocab.decode(vocab.encode(tokens)) == "".join(tokens)  # every token is in the vocabulary
        back = decode(tokens)
        assert back.notes == music.notes
        assert back.barlines == music.barlines and back.meters == music.meters
    assert len({n.length for m in chorales for n in m.notes}) >= 3  # real durations, not fixed offsets


def test_quantized_music_to_tokens_to_midi_gives_the_same_notes(chorales, tmp_path):
    for i, music in enumerate(chorales):
        path = tmp_path / f"{i}.mid"
        path.write_bytes(events_midi(music_events(decode(encode(music)))[0], 100, meter=music.meters[0][1]))
        notes, hanging, tpq = read_midi_notes(path)
        assert hanging == 0
        assert notes == sorted((n.start * tpq // GRID, n.length * tpq // GRID, n.pitch) for n in music.notes)


def test_a_midi_file_reads_like_the_score_it_was_written_from(tmp_path):
    import music21

    src = bach_files(1)[0]
    music21.converter.parse(src).write("midi", fp=tmp_path / "c.mid")
    from_midi, from_score = read_music(tmp_path / "c.mid"), read_music(src)
    # MIDI carries no fermatas, so the score's phrase-end breaths are the only difference
    assert {(n.start, n.pitch) for n in from_midi.notes} == {(n.start, n.pitch) for n in from_score.notes}
    # MIDI has no pickup measures: its bars are counted from the first beat, a bar apart
    assert {b - a for a, b in zip(from_midi.barlines, from_midi.barlines[1:], strict=False)} == {bar_ticks("4/4")}


def test_fermatas_leave_a_breath_and_chords_are_merged(chorales):
    music = chorales[0]
    onsets = sorted({n.start for n in music.notes})
    assert sum(len([n for n in music.notes if n.start == t]) >= 3 for t in onsets) > len(onsets) // 2
    cover, rests = 0, 0
    for t in onsets:
        rests += bool(cover) and t > cover
        cover = max(cover, max(n.end for n in music.notes if n.start == t))
    assert rests >= 1


def test_keyboard_merges_unisons_and_cuts_a_held_key_struck_again():
    notes = keyboard([Note(0, 60, 24), Note(0, 60, 12), Note(12, 60, 12), Note(0, 64, 500), Note(5, 130, 4)])
    assert notes == [Note(0, 60, 12), Note(0, 64, 384), Note(12, 60, 12)]


def test_every_pitch_is_in_the_vocabulary_and_transposition_folds_by_octaves():
    vocab = event_vocabulary()
    music = Music([Note(0, 0, 12), Note(0, 127, 12), Note(12, 64, 7)], [(0, "3/4")], [0])
    assert decode(encode(music)).notes == music.notes
    up = transpose_table(vocab, 5)
    assert vocab.tokens[up[vocab.index("p127")]] == "p120"
    assert vocab.tokens[up[vocab.index("p60")]] == "p65"
    assert vocab.tokens[transpose_table(vocab, -5)[vocab.index("p2")]] == "p9"
    assert up[vocab.index("d12")] == vocab.index("d12")


def test_long_rests_are_chained_waits():
    music = Music([Note(0, 60, 12), Note(300, 62, 12)], [(0, "4/4")], [])
    tokens = encode(music)
    assert tokens == ["ts4/4", "p60", "d12", "w96", "w96", "w96", "w12", "p62", "d12"]
    assert decode(tokens).notes == music.notes


def test_drum_tracks_are_ignored(tmp_path):
    piano = [(0, b"\x90\x3c\x50"), (480, b"\x80\x3c\x00"), (0, b"\x90\x40\x50"), (480, b"\x80\x40\x00")]
    drums = [(0, b"\x99\x24\x64"), (240, b"\x89\x24\x00"), (0, b"\x99\x26\x64"), (240, b"\x89\x26\x00")]
    path = tmp_path / "band.mid"
    path.write_bytes(smf(piano, drums))
    music = read_music(path)
    assert [(n.start, n.pitch, n.length) for n in music.notes] == [(0, 60, 12), (12, 64, 12)]


def test_bad_files_give_reasons(tmp_path):
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    (tmp_path / "empty.mid").write_bytes(smf([]))
    with pytest.raises(NotMusic, match="unreadable"):
        read_music(tmp_path / "corrupt.mid")
    with pytest.raises(NotMusic, match="no notes"):
        read_music(tmp_path / "empty.mid")
    # a zero-length track chunk beside a real one is passed over; alone it is a file without notes
    one = smf([(0, b"\x90\x3c\x50"), (480, b"\x80\x3c\x00")])
    (tmp_path / "zero.mid").write_bytes(one[:10] + (2).to_bytes(2, "big") + one[12:] + b"MTrk\x00\x00\x00\x00")
    assert [n.pitch for n in read_music(tmp_path / "zero.mid").notes] == [60]
    (tmp_path / "zero-only.mid").write_bytes(one[:14] + b"MTrk\x00\x00\x00\x00")
    with pytest.raises(NotMusic, match="no notes"):
        read_music(tmp_path / "zero-only.mid")


def test_guide_keeps_bars_whole():
    g = EventGuide()
    assert not g.allows("p60") and g.allows("ts3/4")
    g.push("ts3/4")
    assert g.allows("bar") and g.allows("p60") and not g.allows("d12")
    for tok in ("bar", "p60"):
        g.push(tok)
    assert g.allows("d12") and not g.allows("w12") and not g.allows("p62")
    g.push("d12")
    assert not g.allows("p60") and g.allows("p64")  # no pitch twice at one onset
    assert g.allows(f"w{bar_ticks('3/4')}") and not g.allows(f"w{bar_ticks('3/4') + 1}")
    g.push("w36")
    assert g.forced() == ["bar"] and not g.allows("w1")
    assert not g.allows("ts4/4")


def test_release_at_cuts_notes_at_the_barline():
    notes = [Note(0, 60, 48), Note(40, 62, 20), Note(48, 64, 12)]
    assert release_at(notes, 48) == [Note(0, 60, 48), Note(40, 62, 8)]


def test_snap_length_takes_the_nearest_representable_length():
    from tunegen.runtime.events import DURATIONS, snap_length

    for ticks in [x / 4 for x in range(-8, 1700)]:
        nearest = min(DURATIONS, key=lambda d: (abs(d - ticks), d))  # a tie to the shorter
        below = max([d for d in DURATIONS if d <= ticks], default=DURATIONS[0])
        assert snap_length(ticks) == nearest and snap_length(ticks, down=True) == below, ticks
