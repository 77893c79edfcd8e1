"""A tokenized corpus on disk, made once per corpus content and tokenizer version: the one way a
corpus is read (discover, key, read, write), for training, eval and export calibration alike. What
differs between kinds comes from the kind's training module (`training/kinds`).

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

from . import kinds

CACHE_FORMAT = 1


def cache_root() -> Path:
    return Path(os.environ.get("TUNEGEN_CACHE") or Path.home() / ".cache" / "tunegen") / "corpus"


def is_valid_split(text: str, valid_percent: int) -> bool:
    """Deterministic split by the piece's own content: the same piece always lands on the same side."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 100 < valid_percent


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
        self.kind = kinds.get(self.meta["kind"])
        self.offsets = np.load(self.path / "offsets.npy")
        self.valid_mask = np.load(self.path / "valid.npy")
        size = int(self.offsets[-1])
        self.symbols = (np.memmap(self.path / "symbols.u16", np.uint16, "r", shape=(size,)) if size
                        else np.zeros(0, np.uint16))
        self.vocab = Vocabulary(tuple(self.meta["vocab"]))
        self.table = self._table(self.vocab)  # symbol -> token id

    def _table(self, vocab: Vocabulary) -> np.ndarray:
        table = np.zeros(65536, np.int32)
        for i, tok in enumerate(vocab.tokens[3:], 3):
            table[self.kind.symbol(tok)] = i
        return table

    def __len__(self) -> int:
        return len(self.valid_mask)

    def ids(self, i: int) -> np.ndarray:
        """Piece `i` as token ids, wrapped in start and end."""
        body = self.table[self._symbols(i)]
        return np.concatenate([[self.vocab.start], body, [self.vocab.end]]).astype(np.int32)

    def _symbols(self, i: int) -> np.ndarray:
        return self.symbols[self.offsets[i]:self.offsets[i + 1]]

    def piece(self, i: int):
        """Piece `i` as its kind's reader gives it (ABC text, a list of event tokens)."""
        return self.kind.piece([self.vocab.tokens[j] for j in self.ids(i)[1:-1]])

    def known(self, vocab: Vocabulary) -> np.ndarray:
        """Which pieces hold only tokens of `vocab` (another model's, say)."""
        table = self._table(vocab)
        return np.array([bool(table[self._symbols(i)].all()) for i in range(len(self))], bool)

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training and the validation pieces."""
        return np.flatnonzero(~self.valid_mask), np.flatnonzero(self.valid_mask)

    def skipped(self) -> Counter:
        """Pieces not kept, by reason."""
        return Counter(self.meta["skipped"])

    def summary(self) -> str:
        train, valid = self.split()
        skipped = self.skipped()
        return (f"{len(self)} {self.kind.kind.plural} kept ({len(train)} train, {len(valid)} validation) "
                f"from {self.meta['files']} files; {sum(skipped.values())} skipped"
                + (f" ({reasons(skipped)})" if skipped else ""))


def reasons(skipped: Counter) -> str:
    """Skip counts as text, the commonest reason first."""
    return ", ".join(f"{n} {r}" for r, n in skipped.most_common())


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
    kind = kinds.get(kind)
    files = kind.files(spec)
    if not files:
        raise CorpusError(f"corpus {spec!r} holds no {kind.files_text}")
    workers = workers or min(len(files), os.cpu_count() or 1)
    key = hashlib.sha256(json.dumps([CACHE_FORMAT, kind.kind.short, kind.tokenizer, valid_percent,
                                     kind.option(max_chars)]).encode())
    with (process_pool(workers) if workers > 1 and len(files) > 64 else _Serial()) as pool:
        for digest in pool.map(_digest, files, chunksize=64):
            key.update(digest.encode())
    path = cache_root() / key.hexdigest()[:24]
    if (path / "meta.json").exists():
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") == CACHE_FORMAT and meta.get("tokenizer") == kind.tokenizer:
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
    advance = progress(len(files)) if progress else None
    offsets, valid, seen, used = [0], [], set(), set()
    skipped: Counter = Counter()
    facts: Counter = Counter()
    try:
        with open(tmp / "symbols.u16", "wb") as out, \
                (process_pool(workers) if workers > 1 else _Serial()) as pool:
            for results in pool.map(kind.read_file, files, chunksize=4):
                if advance:
                    advance()
                for piece, reason in results:
                    reason = reason if piece is None else kind.reject(piece, max_chars)
                    if reason is None:
                        digest = hashlib.sha1(kind.dedup_key(piece).encode()).digest()
                        reason = "duplicate" if digest in seen else None
                    if reason is not None:
                        skipped[reason] += 1
                        continue
                    seen.add(digest)
                    facts.update(kind.facts(piece))
                    symbols = kind.symbols(piece)
                    used.update(np.unique(symbols).tolist())
                    out.write(symbols.tobytes())
                    offsets.append(offsets[-1] + len(symbols))
                    valid.append(is_valid_split(kind.split_key(piece), valid_percent))
        if len(valid) == 0:
            raise CorpusError(f"corpus {spec!r} has no usable {kind.kind.plural} "
                              + (f"({sum(skipped.values())} skipped: {reasons(skipped)})" if skipped
                                 else "(nothing in it to read)"))
        mask = np.array(valid, bool)
        if not mask.any():  # a tiny corpus: hold one piece back so validation still means something
            mask[-1] = True
        if mask.all() and len(mask) > 1:
            mask[0] = False
        np.save(tmp / "offsets.npy", np.array(offsets, np.int64))
        np.save(tmp / "valid.npy", mask)
        meta = {"format": CACHE_FORMAT, "kind": kind.kind.short, "tokenizer": kind.tokenizer, "spec": spec,
                "files": len(files), "pieces": len(mask), "symbols": offsets[-1],
                "skipped": dict(skipped), "facts": dict(facts), "vocab": list(kind.vocabulary(used).tokens)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if report:
        report(f"corpus cache built: {path}")
    return TokenCache(path, meta)


def calibration_pieces(cache: TokenCache, seed: int, count: int = 32) -> list:
    """A few training pieces of a cache, drawn by `seed`: what full-int8 export calibrates on."""
    train_idx = cache.split()[0]
    picks = np.random.default_rng(seed).choice(len(train_idx), min(count, len(train_idx)), replace=False)
    return [cache.piece(int(train_idx[i])) for i in sorted(picks)]


class _Serial:
    """A stand-in for a process pool that maps in this process (small corpora)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items, chunksize=1):
        return map(fn, items)
