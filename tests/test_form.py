"""Tunes in their form and key: the form guide on its own, the shipped models' tunes and pieces, the
form and key controls, and key and meter changes kept in the corpus."""

import re

import numpy as np
import pytest
from typer.testing import CliRunner

import tunegen
from tunegen.runtime.cli import main_app
from tunegen.runtime.form import FormGuide, parts_of, pitches, signature, spellings
from tunegen.runtime.keys import key_fit, parse_key
from tunegen.runtime.score import parse_abc

HEADER = "M:4/4\nL:1/8\nK:D\n"


def feed(guide: FormGuide, text: str) -> list[int]:
    """Push `text` through the guide, returning the positions of characters it refused."""
    refused = []
    for i, ch in enumerate(text):
        if guide.in_body and not guide.allows(ch):
            refused.append(i)
        guide.push(ch)
    return refused


def test_keys_read_as_people_write_them():
    assert parse_key("Ador").pc == 9 and parse_key("Ador").mode == "dorian"
    assert parse_key("Dmix").pc == 2 and parse_key("E minor").mode == "minor"
    assert parse_key("F#m").abc == "F#m" and parse_key("Bb").pc == 10 and parse_key("DMix").abc == "DMix"
    assert parse_key("H") is None and parse_key("Dfoo") is None and parse_key("") is None
    # a key's own signature: F# and C# for D major, F natural for D dorian
    assert signature(parse_key("D"))["F"] == 1 and signature(parse_key("Ddor"))["F"] == 0
    assert key_fit([6, 0, 3, 0, 4, 2, 0, 5, 0, 2, 0, 1], 0, "major") > 0


def test_key_fit_is_the_margin_of_pearson_correlations_with_every_key_profile():
    from tunegen.runtime.keys import _PROFILES

    rng = np.random.default_rng(2)
    for _ in range(100):
        weights = rng.integers(0, 40, 12) * (rng.random(12) < 0.7)
        tonic, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
        r = {(t, m): np.corrcoef(weights, np.roll(p, t))[0, 1] for m, p in _PROFILES.items() for t in range(12)}
        mine = r.pop((tonic, mode))
        assert key_fit(weights, tonic, mode) == pytest.approx(mine - max(r.values()), abs=1e-12)
    assert np.isnan(key_fit([3] * 12, 0, "major"))  # no key at all


def test_pitches_hold_accidentals_to_the_barline():
    sig = signature(parse_key("D"))
    assert pitches("F =F F [DF]2 z", sig) == [66, 65, 65, 65, None]
    assert "^c" in spellings(73, "", signature(parse_key("C"))) and "c" in spellings(73, "", sig)


def test_a_part_closes_only_when_its_bars_are_done_and_on_the_tonic():
    g = FormGuide(parts=2, bars=4)
    g.push(HEADER)
    assert g.in_body and g.per_part == 4
    # a pickup of one unit and three full bars: the fourth, the closing bar, is 8 - 1 units
    assert feed(g, "A|d2 dA d2 dA|B2 Bc d2 dB|A2 AB c2 cB|A2 A2 F2 ") == []
    assert not g.allows("|"), "the closing bar is one unit short"
    assert not g.allows("E") and g.allows("D"), "the note that fills it must be the tonic"
    g.push("D")
    assert g.allows(":") and g.allows("|")
    g.push(":|")
    assert g.part == 1  # the barline is not finished until the next character
    g.push("\n")
    assert g.part == 2 and g.count == 0 and g.pickup is None


def test_closing_bar_refuses_to_end_off_the_tonic():
    g = FormGuide(parts=2, bars=2)
    g.push(HEADER)
    feed(g, "d2 dA d2 dA|B2 Bc d2 c")
    # one unit is left: "c" would fill the closing bar on C#, "d" on D, the tonic
    assert not g.allows("c") and g.allows("d") and not g.allows("[")


def test_inner_barlines_are_plain_and_a_part_may_not_close_early():
    g = FormGuide(parts=2, bars=8)
    g.push(HEADER)
    feed(g, "d2 dA d2 dA|B2 Bc d2 dB")
    g.push("|")
    assert not g.allows("]") and not g.allows(":") and g.allows(" ")


def test_ties_join_the_same_pitch_only():
    g = FormGuide(parts=2, bars=8)
    g.push(HEADER)
    feed(g, "A2 F2-")
    assert not g.allows("G") and not g.allows("=") and g.allows("F") and g.allows("^")
    g.push("F")
    assert not g.allows("'")  # F' is an octave away
    g.push("2 ")
    assert g._tie is None
    g = FormGuide(parts=2, bars=8)
    g.push(HEADER)
    feed(g, "A2 F2 A2 F2-|")
    # across the barline the key signature still holds: F- | F is F# to F#, =F is not
    assert g.allows("F") and not g.allows("=")


def test_parts_of_reads_form_and_cadence():
    text = (HEADER + "A|d2 dA d2 dA|B2 Bc d2 dB|A2 AB c2 cB|A2 A2 F2 D:|\n"
            "fg|a2 af d2 dB|A2 AB c2 cB|A2 AB c2 cB|1 d4 d2:|2 d4 d2 fe||\n")
    parts, whole = parts_of(text)
    assert [p["count"] for p in parts] == [4, 4] and all(p["in_time"] for p in parts)
    # the second part's second ending closes on E, not D
    assert [p["tonic"] for p in parts] == [True, False] and whole["final"] is False
    assert whole["odd_ties"] == 0 and parts_of(HEADER + "A2-B2 c4|d8|]")[1]["odd_ties"] == 1


@pytest.fixture(scope="module")
def folk(shipped_folk):
    return tunegen.load(shipped_folk)


def test_shipped_folk_tunes_are_in_form_and_key(folk):
    for seed in range(1, 13):
        piece = folk.generate(seed=seed)
        parts, whole = parts_of(piece.content)
        assert all(p["count"] == 8 for p in parts) and len(parts) >= 2, (seed, piece.content)
        assert all(p["tonic"] for p in parts) and whole["final"], (seed, piece.content)
        assert all(p["in_time"] for p in parts) and whole["odd_ties"] == 0, (seed, piece.content)
        assert parse_abc(piece.abc)[1] is None


def test_form_and_key_controls_are_honoured(folk):
    piece = folk.generate(seed=5, key="Ador", meter="6/8", rhythm="jig")
    assert re.search(r"^R:jig$", piece.content, re.M) and "M:6/8" in piece.content and "K:ADor" in piece.content
    parts, whole = parts_of(piece.content)
    assert whole["final"] and all(p["tonic"] for p in parts)  # on A, the tonic of A dorian
    for parts_asked, bars in ((3, 8), (2, 6), (1, 16)):
        piece = folk.generate(seed=6, parts=parts_asked, bars_per_part=bars)
        assert [p["count"] for p in parts_of(piece.content)[0]] == [bars] * parts_asked, piece.content


@pytest.mark.parametrize("settings, message", [
    ({"key": "Hmix"}, "is not one ABC writes"),
    ({"key": "D foo"}, "is not one ABC writes"),
    ({"meter": "7/5"}, "not one tunegen writes"),
    ({"rhythm": "tango"}, "not one the model's corpus has"),
    ({"parts": 0}, "parts must be at least 1"),
    ({"parts": 10**6}, "parts must be at most"),
    ({"bars_per_part": 1}, "bars per part must be at least 2"),
    ({"meter": "6/8", "primer": "M:4/4"}, "contradicts the primer"),
    ({"key": "G", "primer": "K:D"}, "contradicts the primer"),
    ({"key": ""}, "key must be 1 to"),
])
def test_bad_controls_get_one_clear_error(folk, settings, message):
    with pytest.raises(tunegen.TunegenError, match=message):
        folk.generate(seed=1, **settings)


def test_cli_controls_and_their_errors(shipped_folk, tmp_path):
    app = main_app()
    out = tmp_path / "t.abc"
    r = CliRunner().invoke(app, ["generate", "--seed", "3", "--key", "Em", "--rhythm", "reel", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "K:Em" in out.read_text() and "R:reel" in out.read_text()
    r = CliRunner().invoke(app, ["generate", "--key", "Q", "--out", str(out)])
    assert r.exit_code == 1 and "key 'Q' is not one ABC writes" in str(r.exception or "") + r.output
    r = CliRunner().invoke(app, ["generate", "--model", "piano", "--meter", "6/8", "--out", str(tmp_path / "p.mid")])
    assert r.exit_code == 1 and "has no such setting" in str(r.exception or "") + r.output


def test_piano_plays_in_the_key_asked_and_ends_on_its_tonic_chord(shipped_piano):
    piano = tunegen.load(shipped_piano)
    piece = piano.generate(seed=3, key="D", bars=8)
    music = piece.music
    assert (music.tonic, music.mode) == (2, "major")
    last = max(n.start for n in music.notes)
    sounding = [n.pitch for n in music.notes if n.start == last or n.start < last < n.end]
    assert {p % 12 for p in sounding} <= {2, 6, 9} and min(sounding) % 12 == 2
    assert "<fifths>2</fifths>" in piece.data(".musicxml").decode()  # D major's two sharps
    minor = piano.generate(seed=4, key="F#m", bars=8).music
    assert (minor.tonic, minor.mode) == (6, "minor")
    with pytest.raises(tunegen.TunegenError, match="not a major or minor key"):
        piano.generate(key="Dmix")


def test_corpus_keeps_key_and_meter_changes_between_parts():
    pytest.importorskip("tensorflow")  # the corpus reader is training's
    from tunegen.training.kinds.abc import SkipTune, normalise

    tune = normalise("X:1\nT:x\nM:4/4\nL:1/8\nK:D\n|:ABcd ABcd|ABcd ABcd:|\nK:G\n|:GABc dedB|GABc dedG:|\n")
    assert "[K:G]GABc" in tune
    parts, whole = parts_of(tune)
    assert [p["tonic"] for p in parts] == [True, True] and whole["final"]  # G, the tonic of the key in force
    assert parse_abc("X:1\nT:t\n" + tune)[1] is None
    assert "[M:3/4]" in normalise("X:1\nT:x\nM:4/4\nL:1/8\nK:D\nABcd ABcd|ABcd ABcd||[M:3/4]ABc ABc|ABc ABc|]\n")
    with pytest.raises(SkipTune, match="inside a part"):
        normalise("X:1\nT:x\nM:4/4\nL:1/8\nK:D\nABcd ABcd|[K:G]ABcd ABcd:|\n")
