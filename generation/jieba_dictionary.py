"""jieba's part-of-speech tagger on a dictionary that knows the lexicon's words, kept on disk.

A fresh process paid about 2 s for jieba before its first Chinese word: its prefix
dictionary (about 500,000 entries) comes from jieba's own cache through ``marshal.load``
on a file object, which reads in small pieces (about 1 s), and importing ``jieba.posseg``
parses all 349,000 lines of ``dict.txt`` for the word tags (0.5-0.9 s). Here the state
that both leave behind, with the lexicon's words added, is stored once in the project's
cache folder (:mod:`assets.cache`) and read back whole with ``marshal.loads`` (about
0.4 s). The key names jieba's version, the digest of its ``dict.txt``, the words and
their frequency, this module's source and the Python version; the restored dictionaries
are the very ones that jieba built, so the tags are the same as without the cache.

The cache is used only when this process has not touched jieba yet (not initialised, no
other dictionary, ``jieba.posseg`` not imported): otherwise the words are added to
jieba's state as it stands, as before.
"""

from __future__ import annotations

import hashlib
import io
import logging
import marshal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from assets.cache import read_entry, write_entry

__all__ = ["load_tagger"]

_KIND = "jieba"
_LOCK = threading.Lock()


def load_tagger(words: Sequence[str], freq: int) -> tuple[ModuleType, bool]:
    """``jieba.posseg`` on jieba's default dictionary with ``words`` added.

    Parameters
    ----------
    words
        Words to add (``jieba.add_word``). Their order makes no difference to the
        dictionary (a word's entry is its frequency, each prefix's entry 0 unless it is a
        word), so the cache's key takes them sorted.
    freq
        The frequency each is added with.

    Returns
    -------
    posseg, from_cache
        The ``jieba.posseg`` module, ready to tag, and whether its dictionaries came from
        the disk cache.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _LOCK:
        untouched = (
            not jieba.dt.initialized
            and jieba.dt.dictionary == jieba.DEFAULT_DICT
            and "jieba.posseg" not in sys.modules
        )
        key = _key(jieba, words, freq) if untouched else None
        state = _read(key) if key is not None else None
        if state is not None:
            return _restore(jieba, *state), True
        jieba.initialize()
        for word in words:
            jieba.add_word(word, freq=freq)
        import jieba.posseg

        if key is not None:
            state = (jieba.dt.FREQ, jieba.dt.total, jieba.posseg.dt.word_tag_tab)
            write_entry(_KIND, key, marshal.dumps(state))
        return jieba.posseg, False


def _key(jieba: ModuleType, words: Sequence[str], freq: int) -> str | None:
    try:
        dictionary = (Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME).read_bytes()
        source = Path(__file__).read_bytes()
    except OSError:
        return None
    return "|".join(
        [
            "jieba 1",
            f"jieba {jieba.__version__}",
            f"dict {hashlib.sha256(dictionary).hexdigest()}",
            f"freq {freq}",
            f"words {hashlib.sha256(chr(10).join(sorted(set(words))).encode()).hexdigest()}",
            f"source {hashlib.sha256(source).hexdigest()}",
            f"python {sys.version_info[0]}.{sys.version_info[1]} marshal {marshal.version}",
        ]
    )


def _read(key: str) -> tuple[dict, int, dict] | None:
    payload = read_entry(_KIND, key)
    if payload is None:
        return None
    try:
        state = marshal.loads(payload)  # the payload's digest was checked by read_entry
    except (ValueError, EOFError, TypeError):
        return None
    if not (
        isinstance(state, tuple)
        and len(state) == 3
        and isinstance(state[0], dict)
        and isinstance(state[1], int)
        and isinstance(state[2], dict)
        and state[0]
        and state[2]
    ):
        return None
    return state


def _restore(jieba: ModuleType, freq: dict, total: int, tags: dict) -> ModuleType:
    tokenizer = jieba.dt
    with tokenizer.lock:  # what Tokenizer.initialize sets, under the lock it holds
        tokenizer.FREQ, tokenizer.total = freq, total
        tokenizer.initialized = True
    # Importing jieba.posseg builds its tagger with POSTokenizer(jieba.dt), whose
    # constructor parses dict.txt for the tags; while it is imported the dictionary reads
    # as empty, and the tag table parsed before is put in its place.
    tokenizer.get_dict_file = lambda: io.BytesIO(b"")
    try:
        import jieba.posseg
    finally:
        del tokenizer.get_dict_file
    jieba.posseg.dt.word_tag_tab = tags
    return jieba.posseg
