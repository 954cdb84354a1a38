"""jieba's dictionaries from the disk cache tag exactly as jieba's own loading does.

jieba's state is global to a process, so each side runs in a fresh interpreter of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets import cache

pytest.importorskip("jieba")

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["海浪声", "不要", "轻快"]
FREQ = 200_000
SENTENCES = ["在海滩上播放一首轻快的音乐", "海浪声不要太吵", "故宫博物院里的管弦乐很忧伤"]

# Loads the tagger through the cache, then (on request) builds jieba's own state the
# uncached way on a fresh Tokenizer beside it and compares the dictionaries whole.
_PROGRAM = """
import json, sys
from generation.jieba_dictionary import load_tagger
words, freq, sentences, compare = json.loads(sys.argv[1])
posseg, from_cache = load_tagger(words, freq)
out = {"from_cache": from_cache, "tags": [[list(p) for p in posseg.lcut(s)] for s in sentences]}
if compare:
    import jieba
    reference = jieba.Tokenizer()
    reference.initialize()
    for word in words:
        reference.add_word(word, freq=freq)
    tagger = posseg.POSTokenizer(reference)  # parses dict.txt for the tags
    out["same_freq"] = jieba.dt.FREQ == reference.FREQ
    out["same_total"] = jieba.dt.total == reference.total
    out["same_tags_table"] = posseg.dt.word_tag_tab == tagger.word_tag_tab
    out["reference_tags"] = [[list(p) for p in tagger.lcut(s)] for s in sentences]
print(json.dumps(out))
"""


def _run(cache_dir: Path, *, compare: bool) -> dict:
    env = {**os.environ, cache.CACHE_DIR_ENV: str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, json.dumps([WORDS, FREQ, SENTENCES, compare])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _key(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import jieba

    from generation import jieba_dictionary

    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(cache_dir))
    key = jieba_dictionary._key(jieba, WORDS, FREQ)
    assert key is not None
    return key


def test_cached_dictionaries_tag_as_jiebas_own_and_a_corrupt_entry_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    key = _key(folder, monkeypatch)
    entry = cache.entry_path("jieba", key)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"GLCACHE1" + b"\x00" * 80)  # a corrupt entry where it belongs

    built = _run(folder, compare=False)
    assert built["from_cache"] is False
    assert cache.read_entry("jieba", key) is not None  # rebuilt whole

    cached = _run(folder, compare=True)
    assert cached["from_cache"] is True
    assert cached["same_freq"] and cached["same_total"] and cached["same_tags_table"]
    assert cached["tags"] == cached["reference_tags"] == built["tags"]
    assert ["海浪声", "n"] in cached["tags"][1]  # the added word is whole
