"""The cache folder: entries come back only whole and only for their own key."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assets import cache


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_an_entry_reads_back_as_written(folder: Path) -> None:
    assert cache.read_entry("t", "key one") is None
    assert cache.write_entry("t", "key one", b"payload \x00\xff")
    assert cache.read_entry("t", "key one") == b"payload \x00\xff"
    assert cache.read_entry("t", "key two") is None
    assert [p.name for p in folder.iterdir()] == [cache.entry_path("t", "key one").name]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) - 3],  # cut short
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit of the payload
        lambda data: b"X" + data[1:],  # the magic
        lambda data: b"",
    ],
)
def test_a_damaged_entry_reads_as_missing(folder: Path, damage) -> None:
    cache.write_entry("t", "key", b"some payload")
    path = cache.entry_path("t", "key")
    path.write_bytes(damage(path.read_bytes()))
    assert cache.read_entry("t", "key") is None


def test_an_entry_renamed_to_another_key_reads_as_missing(folder: Path) -> None:
    cache.write_entry("t", "key a", b"payload of a")
    cache.entry_path("t", "key a").rename(cache.entry_path("t", "key b"))
    assert cache.read_entry("t", "key b") is None


def test_off_and_unwritable_folders_cost_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cache.CACHE_DIR_ENV, "off")
    assert cache.cache_dir() is None
    assert not cache.write_entry("t", "key", b"x")
    assert cache.read_entry("t", "key") is None
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(blocker / "cache"))
    assert not cache.write_entry("t", "key", b"x")
    assert cache.read_entry("t", "key") is None


def test_the_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "genius-loci"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == Path.home() / ".cache" / "genius-loci"


def test_no_temporary_file_is_left_behind(folder: Path) -> None:
    for n in range(3):
        cache.write_entry("t", "key", b"version %d" % n)
    assert cache.read_entry("t", "key") == b"version 2"
    assert len(list(folder.iterdir())) == 1


def test_entries_unused_for_a_month_go_when_another_of_their_kind_is_written(
    folder: Path,
) -> None:
    long_ago = time.time() - (cache.UNUSED_DAYS + 1) * 86_400
    for key in ("stale", "read lately", "other kind"):
        cache.write_entry("u" if key == "other kind" else "t", key, key.encode())
    for path in folder.iterdir():
        os.utime(path, (long_ago, long_ago))
    assert cache.read_entry("t", "read lately") == b"read lately"  # marks it used

    cache.write_entry("t", "new", b"new")
    assert cache.read_entry("t", "stale") is None
    assert not cache.entry_path("t", "stale").exists()
    assert cache.read_entry("t", "read lately") == b"read lately"
    assert cache.read_entry("u", "other kind") == b"other kind"  # another kind's own turn


def test_memoised_makes_once_and_reads_back_exactly(folder: Path) -> None:
    calls = []

    def make() -> tuple:
        calls.append(1)
        return (frozenset({"a", "b"}), ("x", ("y", 3)), {"k": [1.5, None]})

    first = cache.memoised("m", "key", make)
    second = cache.memoised("m", "key", make)
    assert first == second and len(calls) == 1
    assert isinstance(second[0], frozenset) and isinstance(second[1][1], tuple)
    # A damaged entry is made again, not trusted.
    path = next(folder.iterdir())
    path.write_bytes(path.read_bytes()[:-2])
    assert cache.memoised("m", "key", make) == first and len(calls) == 2
