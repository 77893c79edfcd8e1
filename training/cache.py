"""A tokenized corpus on disk, made once per corpus content and tokenizer version.

Ingestion reads files in parallel worker processes and streams each kept piece into one flat file
of uint16 symbols (an ABC tune's characters as code points, a MIDI piece's event ids) with an index
of offsets, so memory stays flat however big the corpus is. Runs and epochs read it back through a
memory map. The cache lives under `$TUNEGEN_CACHE` (default `~/.cache/tunegen`) in a folder named by
a hash of the files' contents, the tokenizer version and the options that shape the pieces; a
cache of an older tokenizer is never read, a new one is built beside it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunegen.runtime.errors import CorpusError
from tunegen.runtime.vocab import Vocabulary

CACHE_FORMAT = 1
ABC_TOKENIZER = "abc-char-1"


def cache_root() -> Path:
    return Path(os.environ.get("TUNEGEN_CACHE") or Path.home() / ".cache" / "tunegen") / "corpus"


def tokenizer_version(kind: str) -> str:
    from tunegen.runtime.events import TOKENIZER

    return TOKENIZER if kind == "midi" else ABC_TOKENIZER


def _abc_file(path: Path) -> list[tuple[str | None, str]]:
    """Normalised tunes of one ABC file, or (None, reason) for each one skipped."""
    from .corpus import SkipTune, normalise, read_text, split_tunes

    try:
        text = read_text(path)
    except OSError as e:
        return [(None, f"unreadable file ({e.strerror})")]
    out: list[tuple[str | None, str]] = []
    for raw in split_tunes(text.replace("\r\n", "\n").replace("\r", "\n")):
        try:
            out.append((normalise(raw), ""))
        except SkipTune as e:
            out.append((None, str(e)))
    if not out:  # a file with no tune in it is skipped and counted too, not lost without a word
        reason = ("empty file" if not text.strip() else
                  "not ABC text (binary or UTF-16)" if "\0" in text or "\ufffd" in text else "no tune in the file")
        out.append((None, reason))
    return out


def _midi_file(path: Path) -> list[tuple[list[str] | None, str]]:
    from .midi_corpus import tokenize_file

    return [tokenize_file(path)]


def _digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class TokenCache:
    """A built cache: pieces as uint16 symbols, their offsets, and which are held out."""

    path: Path
    meta: dict

    def __post_init__(self) -> None:
        self.offsets = np.load(self.path / "offsets.npy")
        self.valid_mask = np.load(self.path / "valid.npy")
        size = int(self.offsets[-1])
        self.symbols = (np.memmap(self.path / "symbols.u16", np.uint16, "r", shape=(size,)) if size
                        else np.zeros(0, np.uint16))
        self.vocab = Vocabulary(tuple(self.meta["vocab"]))
        self.table = np.zeros(65536, np.int32)  # symbol -> token id
        if self.meta["kind"] == "abc":
            for i, tok in enumerate(self.vocab.tokens[3:], 3):
                self.table[ord(tok)] = i
        else:
            self.table[:len(self.vocab)] = np.arange(len(self.vocab))

    def __len__(self) -> int:
        return len(self.valid_mask)

    def ids(self, i: int) -> np.ndarray:
        """Piece `i` as token ids, wrapped in start and end."""
        body = self.table[self.symbols[self.offsets[i]:self.offsets[i + 1]]]
        return np.concatenate([[self.vocab.start], body, [self.vocab.end]]).astype(np.int32)

    def piece(self, i: int):
        """Piece `i` as the corpus loaders give it: ABC text or a list of event tokens."""
        tokens = [self.vocab.tokens[j] for j in self.ids(i)[1:-1]]
        return "".join(tokens) if self.meta["kind"] == "abc" else tokens

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training and the validation pieces."""
        return np.flatnonzero(~self.valid_mask), np.flatnonzero(self.valid_mask)

    def summary(self) -> str:
        noun = "pieces" if self.meta["kind"] == "midi" else "tunes"
        train, valid = self.split()
        skipped = Counter(self.meta["skipped"])
        reasons = ", ".join(f"{n} {r}" for r, n in skipped.most_common())
        return (f"{len(self)} {noun} kept ({len(train)} train, {len(valid)} validation) from "
                f"{self.meta['files']} files; {sum(skipped.values())} skipped" + (f" ({reasons})" if reasons else ""))


def process_pool(workers: int):
    """Worker processes for ingestion: forked while that is safe, spawned once TensorFlow or JAX
    threads exist in this process."""
    method = "spawn" if "tensorflow" in sys.modules or "jax" in sys.modules else "fork"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def build_cache(spec: str, kind: str, valid_percent: int = 10, max_chars: int = 3000,
                workers: int | None = None, progress: Callable[[int], Callable[[], None]] | None = None,
                report: Callable[[str], None] | None = None) -> TokenCache:
    """The cache of a corpus: reused when its key matches, else built (in parallel workers).

    `progress(total)` is called once when files are read and returns a callable advanced per file.
    Raises CorpusError when no file or no piece is usable."""
    from .corpus import corpus_files, is_valid_split
    from .midi_corpus import midi_corpus_files

    files = midi_corpus_files(spec) if kind == "midi" else corpus_files(spec)
    if not files:
        what = "MIDI or score files" if kind == "midi" else ".abc files"
        raise CorpusError(f"corpus {spec!r} holds no {what}")
    workers = workers or min(len(files), os.cpu_count() or 1)
    key = hashlib.sha256(json.dumps([CACHE_FORMAT, kind, tokenizer_version(kind), valid_percent,
                                     max_chars if kind == "abc" else None]).encode())
    with (process_pool(workers) if workers > 1 and len(files) > 64 else _Serial()) as pool:
        for digest in pool.map(_digest, files, chunksize=64):
            key.update(digest.encode())
    path = cache_root() / key.hexdigest()[:24]
    if (path / "meta.json").exists():
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") == CACHE_FORMAT and meta.get("tokenizer") == tokenizer_version(kind):
            if report:
                report(f"corpus cache hit: {path}")
            return TokenCache(path, meta)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
    except OSError as e:
        raise CorpusError(f"cannot write the corpus cache in {cache_root()}: {e.strerror or e}; set "
                          "TUNEGEN_CACHE to a writable folder") from None
    worker = _midi_file if kind == "midi" else _abc_file
    advance = progress(len(files)) if progress else None
    offsets, valid, seen, chars = [0], [], set(), set()
    skipped: Counter = Counter()
    try:
        with open(tmp / "symbols.u16", "wb") as out, \
                (process_pool(workers) if workers > 1 else _Serial()) as pool:
            for results in pool.map(worker, files, chunksize=4):
                if advance:
                    advance()
                for piece, reason in results:
                    if piece is None:
                        skipped[reason] += 1
                        continue
                    if kind == "abc":
                        from tunegen.runtime.abc import split_header

                        if len(piece) > max_chars:
                            skipped["too long"] += 1
                            continue
                        if max(map(ord, piece)) > 0xFFFF:
                            skipped["characters beyond the basic plane"] += 1
                            continue
                        body, text = split_header(piece)[1], piece
                        symbols = np.frombuffer(piece.encode("utf-16-le"), np.uint16)
                        chars.update(piece)
                    else:
                        from tunegen.runtime.events import event_vocabulary

                        vocab = event_vocabulary()
                        body = text = " ".join(piece)
                        symbols = np.array([vocab.index(t) for t in piece], np.uint16)
                    digest = hashlib.sha1(body.encode()).digest()
                    if digest in seen:
                        skipped["duplicate"] += 1
                        continue
                    seen.add(digest)
                    out.write(symbols.tobytes())
                    offsets.append(offsets[-1] + len(symbols))
                    valid.append(is_valid_split(text, valid_percent))
        if len(valid) == 0:
            reasons = ", ".join(f"{n} {r}" for r, n in skipped.most_common())
            raise CorpusError(f"corpus {spec!r} has no usable {'pieces' if kind == 'midi' else 'tunes'} "
                              + (f"({sum(skipped.values())} skipped: {reasons})" if reasons else "(nothing in it to read)"))
        mask = np.array(valid, bool)
        if not mask.any():  # a tiny corpus: hold one piece back so validation still means something
            mask[-1] = True
        if mask.all() and len(mask) > 1:
            mask[0] = False
        if kind == "midi":
            from tunegen.runtime.events import event_vocabulary

            vocab_tokens = list(event_vocabulary().tokens)
        else:
            vocab_tokens = list(Vocabulary.from_texts(["".join(sorted(chars))]).tokens)
        np.save(tmp / "offsets.npy", np.array(offsets, np.int64))
        np.save(tmp / "valid.npy", mask)
        meta = {"format": CACHE_FORMAT, "kind": kind, "tokenizer": tokenizer_version(kind), "spec": spec,
                "files": len(files), "pieces": len(mask), "symbols": offsets[-1],
                "skipped": dict(skipped), "vocab": vocab_tokens}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if report:
        report(f"corpus cache built: {path}")
    return TokenCache(path, meta)


class _Serial:
    """A stand-in for a process pool that maps in this process (small corpora)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items, chunksize=1):
        return map(fn, items)
