"""MIDI and score corpus ingestion: MIDI files, any score music21 reads, or music21's bundled
collections, each turned into event tokens (`tunegen.runtime.events`) in parallel workers.

Every pitched part except drums is merged into one keyboard stream (see `score_music`); a file that
fails to parse, is empty or has no notes is skipped and counted with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tunegen.runtime.errors import CorpusError
from tunegen.runtime.events import encode
from tunegen.runtime.score import NotMusic, read_music

from .cache import process_pool
from .corpus import Corpus, is_valid_split

MIDI_SUFFIXES = (".mid", ".midi")
SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn")


def _collections() -> dict[str, Path]:
    import music21.corpus

    root = Path(music21.corpus.__file__).parent
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("_")}


def _wanted(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in MIDI_SUFFIXES + SCORE_SUFFIXES


def midi_corpus_files(spec: str) -> list[Path]:
    """Files for a corpus spec: a file, a folder (MIDI and score files, recursively) or music21
    collection names such as `bach` (comma-separated)."""
    files: list[Path] = []
    for part in [s.strip() for s in spec.split(",") if s.strip()]:
        path = Path(part).expanduser()
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if _wanted(p)))
        else:
            known = _collections()
            if part not in known:
                raise CorpusError(
                    f"corpus {part!r} is not a file, a folder, or a bundled collection; give a path "
                    f"to MIDI or score files or one of: {', '.join(known)}")
            files.extend(sorted(p for p in known[part].rglob("*") if _wanted(p)))
    return files


def tokenize_file(path: Path) -> tuple[list[str] | None, str]:
    """A file's event tokens, or None and the reason it is skipped."""
    try:
        if path.stat().st_size == 0:
            return None, "empty file"
        music = read_music(path)
    except NotMusic as e:
        return None, str(e)
    except OSError as e:
        return None, f"unreadable file ({e.strerror})"
    return encode(music), ""


def load_midi_corpus(spec: str, valid_percent: int = 10, workers: int | None = None,
                     progress: Callable[[int], None] | None = None) -> Corpus:
    """Tokenize, de-duplicate and split a corpus of MIDI/score files; raise CorpusError if nothing is
    usable. `progress(total)` is called once, then returns a callable advanced per file."""
    files = midi_corpus_files(spec)
    if not files:
        raise CorpusError(f"corpus {spec!r} holds no MIDI or score files "
                          f"({', '.join(MIDI_SUFFIXES + SCORE_SUFFIXES)})")
    corpus = Corpus(spec=spec, files=len(files), noun="pieces")
    advance = progress(len(files)) if progress else None
    workers = workers or min(len(files), os.cpu_count() or 1)
    if workers > 1:
        with process_pool(workers) as pool:
            results = list(_tracked(pool.map(tokenize_file, files, chunksize=4), advance))
    else:
        results = list(_tracked(map(tokenize_file, files), advance))
    seen: set[str] = set()
    for tokens, reason in results:
        if tokens is None:
            corpus.skipped[reason] += 1
            continue
        key = " ".join(tokens)
        if key in seen:
            corpus.skipped["duplicate"] += 1
            continue
        seen.add(key)
        (corpus.valid if is_valid_split(key, valid_percent) else corpus.train).append(tokens)
    if not corpus.train and not corpus.valid:
        raise CorpusError(f"corpus {spec!r} has no usable pieces ({corpus.summary()}); "
                          "give MIDI or score files with notes")
    if not corpus.valid:
        corpus.valid.append(corpus.train.pop())
    if not corpus.train:
        corpus.train.append(corpus.valid[0])
    return corpus


def _tracked(results, advance):
    for r in results:
        if advance:
            advance()
        yield r
