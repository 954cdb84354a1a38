"""Shared fixtures: small audio and scene files written by the tests themselves."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

SAMPLE_RATE = 48_000


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own cache folder (assets.cache), shared with the processes it starts:
    the tests never read a user's cache entries nor leave theirs (a new SOFA file each run)
    in the user's folder."""
    from assets.cache import CACHE_DIR_ENV

    folder = tmp_path_factory.mktemp("cache")
    before = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = before


@pytest.fixture
def write_click(tmp_path: Path) -> Callable[..., Path]:
    """Write a mono WAV with a single full-scale sample (a click) at ``at_s`` seconds."""

    def write(name: str = "click.wav", *, at_s: float = 0.1, duration_s: float = 1.0) -> Path:
        signal = np.zeros(round(duration_s * SAMPLE_RATE), dtype=np.float32)
        signal[round(at_s * SAMPLE_RATE)] = 1.0
        path = tmp_path / name
        sf.write(path, signal, SAMPLE_RATE, subtype="FLOAT")
        return path

    return write


@pytest.fixture
def write_scene(tmp_path: Path) -> Callable[[dict], Path]:
    """Write a scene dictionary as YAML into the test's folder and return its path."""

    def write(data: dict, name: str = "scene.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    return write


def _position_at(
    listener: tuple[float, float, float], *, azimuth_deg: float, distance_m: float
) -> list[float]:
    a = math.radians(azimuth_deg)
    x, y, z = listener
    return [x + distance_m * math.cos(a), y + distance_m * math.sin(a), z]


@pytest.fixture
def position_at() -> Callable[..., list[float]]:
    """A point at an azimuth (counter-clockwise from +x) and distance in the horizontal plane."""
    return _position_at
