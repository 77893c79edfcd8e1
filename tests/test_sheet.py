"""Sheet music: SVG engraved by abcm2ps (ABC) and Verovio (MIDI event pieces), and MusicXML."""

import os
import subprocess
import sys
from pathlib import Path

import music21

import tunegen


def test_abc_tune_as_svg_and_musicxml(shipped_folk, tmp_path):
    piece = tunegen.load("folk").generate(seed=7)
    svg = piece.save(tmp_path / "t.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "tunegen folk seed 7" in svg
    xml = music21.converter.parse(piece.save(tmp_path / "t.musicxml"))
    pitches = [p.midi for n in xml.flatten().notes for p in n.pitches]
    assert pitches == [p.midi for n in piece.score.flatten().notes for p in n.pitches]


def test_midi_piece_as_svg_and_musicxml(tiny_midi_model, tmp_path):
    piece = tunegen.load(tiny_midi_model).generate(seed=4, bars=4)
    svg = piece.save(tmp_path / "p.svg").read_text()
    assert "<svg" in svg and "Verovio" in svg
    xml = music21.converter.parse(piece.save(tmp_path / "p.musicxml"))
    assert len(xml.parts) == 2  # a piano score: right hand and left hand
    assert {p.midi for n in xml.flatten().notes for p in n.pitches} == {n.pitch for n in piece.music.notes}


def test_svg_without_abcm2ps_names_the_package(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = dict(os.environ, PATH=str(bin_dir))  # an engraver-free PATH
    exe = str(Path(sys.executable).parent / "tunegen")
    res = subprocess.run([exe, "generate", "--seed", "1", "--out", str(tmp_path / "x.svg")], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == ("error: abcm2ps is not installed, so no SVG can be "
                                                   "engraved; install it (Debian: apt-get install abcm2ps)")
    assert not (tmp_path / "x.svg").exists()
