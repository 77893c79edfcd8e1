"""The command line through typer's CliRunner, with a tiny real model."""

import wave

import music21
import pytest
from typer.testing import CliRunner

from tunegen.runtime.cli import main_app

app = main_app()

runner = CliRunner()


def invoke(*args):
    from tunegen.runtime.errors import TunegenError

    try:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    except TunegenError as e:  # main() turns these into one line and exit 1
        return e


def test_help_and_version():
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("play", "generate", "models", "train", "export"):
        assert cmd in res.output
    assert "--top-p" in invoke("generate", "-h").output
    assert invoke("--version").output.startswith("tunegen ")


def test_generate_writes_abc_midi_and_wav(tiny_model, tmp_path):
    outs = [tmp_path / "t.abc", tmp_path / "t.mid", tmp_path / "t.wav"]
    res = invoke("generate", "--model", tiny_model, "--seed", 3, "--max-length", 300,
                 *[a for o in outs for a in ("--out", o)])
    assert res.exit_code == 0, res.output
    text = outs[0].read_text()
    assert text.startswith("X:1\nT:tunegen tiny seed 3\n")
    score = music21.converter.parse(text, format="abc")
    notes = len(score.stripTies().flatten().notes)  # the MIDI file joins tied notes
    midi = music21.converter.parse(outs[1])
    assert len(midi.flatten().notes) >= notes > 0  # and plays repeats out
    with wave.open(str(outs[2])) as w:
        assert w.getnframes() / w.getframerate() > 1.0
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_same_seed_same_file_and_count(tiny_model, tmp_path):
    a, b = tmp_path / "a.abc", tmp_path / "b.abc"
    for out in (a, b):
        assert invoke("generate", "-m", tiny_model, "-s", 11, "--max-length", 200, "-n", 2, "-o", out).exit_code == 0
    assert a.read_text() == b.read_text()
    assert a.read_text().count("X:") == 2


def test_generate_needs_an_out_and_a_known_suffix(tiny_model, tmp_path):
    assert invoke("generate", "-m", tiny_model).exit_code != 0
    res = invoke("generate", "-m", tiny_model, "-o", tmp_path / "x.mp3")
    assert res.exit_code == 1 and "suffix picks the format" in res.output


@pytest.mark.parametrize("args, message", [
    (["generate", "-m", "nope", "-o", "x.abc"], "unknown model 'nope'"),
    (["generate", "-o", "x.wav", "--soundfont", "/nonexistent.sf2"], "SoundFont /nonexistent.sf2 not found"),
])
def test_user_mistakes_give_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke(*args)
    text = str(res) if isinstance(res, Exception) else res.output
    assert message in text
    assert "Traceback" not in text
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_primer_outside_vocabulary_is_refused(tiny_model, tmp_path):
    res = invoke("generate", "-m", tiny_model, "--primer", "K:D ¤¤", "-o", tmp_path / "x.abc")
    assert "never saw" in str(res)
    assert not (tmp_path / "x.abc").exists()


def test_train_with_a_missing_corpus_fails_cleanly(tmp_path):
    pytest.importorskip("tensorflow")
    res = invoke("train", "abc", tmp_path / "missing", "--out", tmp_path / "run")
    assert "not a file, a folder, or a bundled collection" in str(res)
    assert not (tmp_path / "run").exists()


def test_damaged_model_file_is_refused(tiny_model, tmp_path):
    import shutil

    for f in tiny_model.parent.glob("tiny.*"):
        shutil.copy(f, tmp_path / f.name)
    data = bytearray((tmp_path / "tiny.tflite").read_bytes())
    data[100] ^= 0xFF
    (tmp_path / "tiny.tflite").write_bytes(bytes(data))
    res = invoke("generate", "-m", tmp_path / "tiny.tflite", "-o", tmp_path / "x.abc")
    assert f"{tmp_path / 'tiny.tflite'}: checksum does not match its manifest" in str(res)
    assert not (tmp_path / "x.abc").exists()


def test_models_lists_the_shipped_models():
    res = invoke("models")
    assert res.exit_code == 0
    assert "folk (default)" in res.output and "bits/char" in res.output


def test_export_command_writes_both_variants(tiny_run, tmp_path):
    res = invoke("export", tiny_run, "--out", tmp_path / "mine")
    assert res.exit_code == 0, res.output
    assert "bits/char through the step graph" in res.output
    for name in ("mine.tflite", "mine.json", "mine-float32.tflite", "mine-float32.json"):
        assert (tmp_path / name).exists()


def test_info_describes_a_model_and_its_checksum(tiny_model, tmp_path):
    res = invoke("info", tiny_model)
    assert res.exit_code == 0, res.output
    for text in ("abc-char", "dynamic-int8", "2 x LSTM 48", "checksum  ok", "bits/char", "ai_edge_litert"):
        assert text in res.output
    import shutil

    for f in tiny_model.parent.glob("tiny.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "tiny.tflite").write_bytes((tmp_path / "tiny.tflite").read_bytes()[:-1] + b"x")
    res = invoke("info", tmp_path / "tiny.json")
    assert res.exit_code == 1 and "DOES NOT MATCH" in res.output


def test_eval_scores_a_model_on_any_corpus(tiny_model, tiny_run, small_corpus):
    for model in (tiny_model, tiny_run):
        r = runner.invoke(app, ["eval", str(model), str(small_corpus)])
        assert r.exit_code == 0, r.output
        line = r.stdout.strip().splitlines()[-1]
        value, unit, _, n, noun = line.split()
        assert unit == "bits/char" and noun == "tunes" and int(n) > 10 and 0 < float(value) < 7


def test_eval_skips_and_counts_tunes_with_characters_the_model_never_saw(oneills_file, tmp_path):
    """The shipped folk model never saw the digit 5: a tune holding one is counted, not fatal."""
    import shutil

    shutil.copy(oneills_file, tmp_path / oneills_file.name)
    (tmp_path / "odd.abc").write_text("X:1\nT:five\nM:4/4\nL:1/8\nK:D\nA5 B cd|dcBA ABcd|ABcd dcBA|\n")
    r = runner.invoke(app, ["eval", "folk", str(tmp_path)])
    assert r.exit_code == 0, r.output
    # one of them changes key between its parts, kept since the corpus keeps such tunes
    assert "corpus: 46 tunes from 2 files" in r.stderr and "1 outside the model's vocabulary" in r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith("bits/char over 46 tunes")
