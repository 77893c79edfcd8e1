"""Output paths: checked for writability before any work starts, written whole or not at all, and
file names and header text made safe from names a manifest supplies (whoever supplies a model
supplies its manifest, so its `name` is untrusted)."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from .errors import TunegenError

MAX_NAME = 64  # characters of a manifest's name kept in file names and headers


def safe_filename(name: str, fallback: str = "model") -> str:
    """`name` as one plain file-name component: letters, digits, `.`, `_` and `-` only, no leading
    dot, at most MAX_NAME characters. `../../x` becomes `x`; nothing can name another folder."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text)
    text = re.sub(r"\.{2,}", "_", text).strip("._-")[:MAX_NAME].strip("._-")
    return text or fallback


def header_text(text: str) -> str:
    """`text` fit for one header line (ABC `T:`) or one line of output: control characters and line
    breaks become spaces, runs of space one, at most MAX_NAME characters."""
    clean = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(text))
    return " ".join(clean.split())[:MAX_NAME]


def _reason(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "the disk is full"
    if e.errno == errno.EROFS:
        return "the file system is read-only"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EISDIR:
        return "it is a folder"
    return e.strerror or str(e)


def write_error(path: Path, e: OSError) -> TunegenError:
    """One line naming the path a write failed on, and why."""
    return TunegenError(f"cannot write {path}: {_reason(e)}")


def _no_nul(path: Path) -> None:
    if "\0" in str(path):
        raise TunegenError(f"cannot write {str(path)!r}: a path cannot hold a NUL character")


def check_folder(folder: Path, create: bool = False) -> None:
    """Refuse a folder that cannot be written into, before any work: not a folder, missing (unless
    `create`), read-only, or refusing new files (`/proc`). Tried by making and removing a file."""
    folder = Path(folder)
    _no_nul(folder)
    if folder.exists() and not folder.is_dir():
        raise TunegenError(f"cannot write into {folder}: it is a file, not a folder")
    if not folder.exists():
        if not create:
            raise TunegenError(f"cannot write into {folder}: the folder does not exist")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TunegenError(f"cannot create folder {folder}: {_reason(e)}") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".tunegen-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise TunegenError(f"cannot write into {folder}: {_reason(e)}") from None


def check_output(path: Path) -> None:
    """Refuse an output file that cannot be written, before any work: a folder in the way, a
    missing or unwritable folder."""
    path = Path(path)
    _no_nul(path)
    if path.is_dir():
        raise TunegenError(f"cannot write {path}: it is a folder")
    if not path.name or path.name in (".", ".."):
        raise TunegenError(f"cannot write {path}: give a file name")
    if not path.parent.exists():
        raise TunegenError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        check_folder(path.parent)
    except TunegenError:
        raise TunegenError(f"cannot write {path}: folder {path.parent} is not writable") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise TunegenError(f"cannot write {path}: permission denied")


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to `path` through a temporary file and a rename, so no half file is left; a
    failure (full disk, read-only, a folder in the way) is one TunegenError naming the path."""
    path = Path(path)
    _no_nul(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; outputs should not be
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise write_error(path, e) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def write_all_atomic(files: list[tuple[Path, bytes]]) -> None:
    """Write several files all or none: every one to a temporary file first, then the renames, so
    a full disk half way leaves none of them (an int8 model never lacks its float twin)."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            path = Path(path)
            _no_nul(path)
            try:
                if path.is_dir():  # found now, not at the renames, after others are in place
                    raise IsADirectoryError(21, "Is a directory", str(path))
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                staged.append((tmp, path))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            except OSError as e:
                raise write_error(path, e) from None
        while staged:
            tmp, path = staged[0]
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise write_error(path, e) from None
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def remove_stale_temps(folder: Path, pattern: str = ".*.tmp") -> int:
    """Remove temporary files a killed writer left in `folder` (`write_atomic`'s `.NAME.XXXX.tmp`);
    returns how many. Only files matching `pattern`, never folders."""
    removed = 0
    try:
        for p in Path(folder).glob(pattern):
            if p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)
                removed += 1
    except OSError:
        pass  # a folder we cannot clean is reported when we write into it
    return removed
