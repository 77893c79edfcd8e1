"""The project's own ABC check stands in for music21's parse when a tune is made (music21 parses
only when a score is needed), so it must never pass a tune music21 cannot read: held against
music21 on every tune of the bundled training collections and on 2,000 generated tunes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import tunegen
from tunegen.runtime.abc import tune_problem
from tunegen.runtime.sampling import sampler
from tunegen.runtime.score import parse_abc
from tunegen.runtime.stepping import draw


def _music21_problem(doc: str) -> str | None:
    return parse_abc(doc)[1]


def _music21_agrees(docs: list[str]) -> list[tuple[str, str]]:
    """The tunes our check passes and music21 refuses, with music21's reason."""
    passed = [d for d in docs if tune_problem(d) is None]
    with ProcessPoolExecutor(2) as pool:
        problems = list(pool.map(_music21_problem, passed, chunksize=32))
    return [(p, d) for p, d in zip(problems, passed, strict=True) if p]


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
    assert _music21_agrees(docs) == []
    assert sum(tune_problem(d) is None for d in docs) == len(docs)  # and it refuses none of them


def test_two_thousand_generated_tunes_our_check_passes_music21_reads():
    model = tunegen.load("folk")
    docs = []
    for batch, temperature in enumerate([0.8, 1.0] * 64):
        opts = model.options(seed=batch, temperature=temperature)
        plan = model.kind.prepare(model.step, opts, model.bpm)
        drawn = draw(model.step, lambda rng, o=opts, p=plan: sampler(model.step, o, rng, p.guide()), [batch], 16)
        docs += [f"X:1\nT:t\n{''.join(d.tokens).strip()}\n" for d in drawn if d.ending != "stuck"]
    assert len(docs) >= 2000
    refused = _music21_agrees(docs)
    assert refused == [], refused[:3]
    # the check refuses what the guide could not prevent, and little else
    assert np.mean([tune_problem(d) is None for d in docs]) > 0.95
