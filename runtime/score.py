"""ABC text -> music21 score, with the checks that make a tune usable."""

from __future__ import annotations

import contextlib
import io
import warnings


def parse_abc(text: str):
    """Parse one ABC tune with music21; returns (score, problem) where problem is None when usable.

    music21 tolerates much bad ABC: it warns and guesses a C for a token that is no note. Such a
    guess counts as a problem here, as does an exception or a tune without notes.
    """
    import music21

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            score = music21.converter.parse(text, format="abc")
    except Exception as e:  # music21 raises many types for bad ABC
        return None, f"music21 could not parse it ({type(e).__name__}: {e})"
    messages = err.getvalue() + "".join(str(w.message) for w in caught)
    if "Could not get pitch" in messages:
        return score, "music21 guessed a pitch for a token that is no note"
    if not len(score.flatten().notes):
        return score, "no notes"
    return score, None
