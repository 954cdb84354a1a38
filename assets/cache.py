"""A folder of data derived from files (shipped or the user's), kept between processes.

Work that every fresh process would otherwise repeat (an HRTF's minimum-phase split,
jieba's dictionaries with the lexicon's words) is stored here once and read back. The
folder is ``$GENIUS_LOCI_CACHE_DIR`` when set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/genius-loci``, else ``~/.cache/genius-loci``.

An entry is found by a key: a string naming everything its content depends on (the input
file's digest, the parameters and source of the code that made it, library versions). The
file holds the key's digest and the payload's digest beside the payload, so a file that is
truncated, corrupt, or written for another key reads as missing, and its maker computes
it again and replaces it. Entries are written to a temporary file in the same folder and
renamed into place (``os.replace``): a reader never sees half an entry, and two processes
writing the same entry at once leave one whole one. Reading an entry marks it used (its
modification time); writing one removes the entries of its kind unused for
:data:`UNUSED_DAYS` days (those of inputs or code since changed). The cache is only ever a
shortcut: a folder that cannot be read or written costs the time it would have saved,
never an error.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = [
    "CACHE_DIR_ENV",
    "UNUSED_DAYS",
    "cache_dir",
    "entry_path",
    "memoised",
    "read_entry",
    "write_entry",
]

#: The environment variable that names the cache folder (``off``: no cache).
CACHE_DIR_ENV = "GENIUS_LOCI_CACHE_DIR"

#: An entry not read for this many days is removed when another of its kind is written.
UNUSED_DAYS = 30

_Value = TypeVar("_Value")

# Version 1: magic, sha256 of the key, sha256 of the payload, payload.
_MAGIC = b"GLCACHE1"
_DIGEST = 32
_HEADER = len(_MAGIC) + 2 * _DIGEST


def cache_dir() -> Path | None:
    """The cache folder (not necessarily existing yet); None when the cache is off."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen is not None and chosen.strip():
        return None if chosen.strip().lower() == "off" else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "genius-loci"


def entry_path(kind: str, key: str) -> Path | None:
    """Where the entry of ``kind`` (a short word, e.g. ``"sofa"``) for ``key`` lives."""
    folder = cache_dir()
    if folder is None:
        return None
    return folder / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:40]}.bin"


def read_entry(kind: str, key: str) -> bytes | None:
    """The payload stored for ``key``, or None when it is missing, unreadable or corrupt.

    Parameters
    ----------
    kind
        A short word that groups entries of one maker (part of the file name).
    key
        Everything the payload depends on, as one string.
    """
    path = entry_path(kind, key)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    payload = data[_HEADER:]
    whole = (
        data[: len(_MAGIC)] == _MAGIC
        and data[len(_MAGIC) : len(_MAGIC) + _DIGEST] == hashlib.sha256(key.encode()).digest()
        and data[len(_MAGIC) + _DIGEST : _HEADER] == hashlib.sha256(payload).digest()
    )
    if not whole:
        return None
    try:
        os.utime(path)  # used now: kept by the clean-up in write_entry
    except OSError:
        pass
    return payload


def write_entry(kind: str, key: str, payload: bytes) -> bool:
    """Store ``payload`` for ``key``, atomically; True when it was written.

    A folder that cannot be made or written is passed over (the cache is a shortcut).
    """
    path = entry_path(kind, key)
    if path is None:
        return False
    header = _MAGIC + hashlib.sha256(key.encode()).digest() + hashlib.sha256(payload).digest()
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: an entry cut short by a crash fails its digest and is made again.
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            handle.write(header)
            handle.write(payload)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        return False
    _remove_unused(path.parent, kind)
    return True


def memoised(kind: str, key: str, make: Callable[[], _Value]) -> _Value:
    """``make()``, stored the first time and read back by every later process.

    Parameters
    ----------
    kind
        A short word for the entries of this maker (part of the file name).
    key
        Everything the value depends on, as one string (input digests, the maker's
        source, library versions); Python's and marshal's versions are added here.
    make
        Computes the value: built-in types only (None, bool, int, float, str, bytes, and
        tuples, lists, dicts, sets and frozensets of them), which ``marshal`` writes and
        reads back exactly and fast.

    Returns
    -------
    object
        The value ``make()`` gives (read back, or made now).
    """
    key = f"{key}\npython {sys.version_info[0]}.{sys.version_info[1]} marshal {marshal.version}"
    payload = read_entry(kind, key)
    if payload is not None:
        try:
            return marshal.loads(payload)  # its digest was checked by read_entry
        except (ValueError, EOFError, TypeError):
            pass
    value = make()
    write_entry(kind, key, marshal.dumps(value))
    return value


def _remove_unused(folder: Path, kind: str) -> None:
    # Also the temporary files of writers that died before renaming theirs.
    oldest = time.time() - UNUSED_DAYS * 86_400
    for pattern in (f"{kind}-*.bin", f".{kind}-*.tmp"):
        for entry in folder.glob(pattern):
            try:
                if entry.stat().st_mtime < oldest:
                    entry.unlink()
            except OSError:
                pass
