"""The project's own ABC reading stands in for music21's when a tune is made and heard (music21
parses only when a score is needed): its check must never pass a tune music21 cannot read, and the
notes it plays must be the notes music21 reads. Held against music21 on every tune of the bundled
training collections and on 2,000 generated tunes."""

from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from music21_play import note_events

import tunegen
from tunegen.runtime.abc import split_bars, split_header, tune_problem
from tunegen.runtime.abcplay import abc_events
from tunegen.runtime.sampling import draw
from tunegen.runtime.score import parse_abc


def _reads_apart(doc: str) -> bool:
    """Where music21 reads ABC otherwise than the standard and our player: an accidental it does
    not hold to the end of its bar, a repeat it takes back past a double bar, a `::` it does not
    repeat, a key change it ignores, a tie between two different pitches, an invisible rest `x`."""
    body = split_header(doc)[1]
    bars = split_bars(body.replace("\n", " "))
    if "[K:" in body or "::" in body or "x" in body or re.search(r"([A-Ga-g])[\d/]*-\s*(?!\1)[\^_=]*[A-Ga-g]", body):
        return True
    for bar, _ in bars:
        for m in re.finditer(r"[\^_=]+([A-Ga-g])", bar):
            if m.group(1) in bar[m.end():]:
                return True
    double = False
    for _, line in bars:
        double = line in ("||", "|]") or double and line not in ("|:", "::")
        if line in (":|", ":|2") and double:
            return True
    return False


def _events(e) -> tuple:
    return sorted((round(t, 5), on, p) for t, on, p, _ in e[0]), round(e[1], 5)


def _music21_reading(doc: str) -> tuple[str | None, bool | None]:
    """music21's problem with a tune, and whether our player plays the notes music21 reads (None
    where the two read it apart by design)."""
    score, problem = parse_abc(doc)
    if problem or _reads_apart(doc):
        return problem, None
    return None, _events(abc_events(doc)) == _events(note_events(score))


def _music21_agrees(docs: list[str]) -> tuple[list[tuple[str, str]], list[bool]]:
    """The tunes our check passes and music21 refuses, with music21's reason; and for the tunes
    both read alike, whether the notes played agree."""
    passed = [d for d in docs if tune_problem(d) is None]
    with ProcessPoolExecutor(2) as pool:
        readings = list(pool.map(_music21_reading, passed, chunksize=32))
    refused = [(p, d) for (p, _), d in zip(readings, passed, strict=True) if p]
    return refused, [same for _, same in readings if same is not None]


def test_our_player_reads_the_standard_where_music21_does_not():
    played = {p for _, on, p, _ in abc_events("M:4/4\nL:1/8\nK:F\n=B2 B2 B4|B8|]\n")[0] if on}
    assert played == {71, 70}  # B natural held to the barline, then B flat again
    events, length = abc_events("M:4/4\nL:1/8\nK:D\nd8|d8:|\nA8||\nB8|B8:|\n")
    assert length == 9 * 4  # the second repeat goes back to the double bar, not past it to the start
    events, length = abc_events("M:4/4\nL:1/8\nK:D\nd8|1 A8:|2 B8||\n[K:C]c4 F4|]\n")
    pitches = [p for _, on, p, _ in events if on]
    assert pitches == [74, 69, 74, 71, 72, 65] and length == 5 * 4  # endings, and F natural in C
    events, _ = abc_events("M:6/8\nL:1/8\nK:G\n(3ABc d>e f2-|f6|]\n")
    on = [(t, p) for t, o, p, _ in events if o]
    assert len(on) == 6 and on[3][0] == 1.0 and on[4][0] == 1.75  # a triplet, broken rhythm, a tie


def test_every_corpus_tune_our_check_passes_music21_reads():
    pytest.importorskip("tensorflow")  # the corpus reader is training's
    from tunegen.training.kinds.abc import SkipTune, corpus_files, normalise, read_text, split_tunes

    docs = []
    for f in corpus_files("oneills1850,ryansMammoth,airdsAirs"):
        for raw in split_tunes(read_text(f)):
            try:
                docs.append(f"X:1\nT:t\n{normalise(raw)}\n")
            except SkipTune:
                continue
    assert len(docs) > 4000
    refused, same = _music21_agrees(docs)
    assert refused == []
    assert sum(tune_problem(d) is None for d in docs) == len(docs)  # and it refuses none of them
    # the rest read apart in endings (where music21 takes a repeat otherwise), about 3%
    assert len(same) > 3000 and np.mean(same) > 0.95


def test_two_thousand_generated_tunes_our_check_passes_music21_reads():
    model = tunegen.load("folk")
    docs = []
    for batch, temperature in enumerate([0.8, 1.0] * 68):
        opts = model.options(seed=batch, temperature=temperature)
        plan = model.kind.prepare(model.step, opts, model.bpm)
        drawn = draw(model.step, opts, plan.guide, [batch], 16)
        docs += [f"X:1\nT:t\n{''.join(d.tokens).strip()}\n" for d in drawn if d.ending != "stuck"]
    assert len(docs) >= 2000
    refused, same = _music21_agrees(docs)
    assert refused == [], refused[:3]
    assert len(same) > 1200 and np.mean(same) > 0.97
    # the check refuses what the guide could not prevent, and little else
    assert np.mean([tune_problem(d) is None for d in docs]) > 0.95
