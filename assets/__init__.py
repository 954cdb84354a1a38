"""Shipped data (HRTF, example inputs), each file with its source and licence beside it.

The folder is installed as a package so that every layer finds the same files, whether
the project is installed from a clone or from a wheel.
"""

from pathlib import Path

__all__ = ["asset_path"]

_ROOT = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    """Return the path of a shipped asset, e.g. ``asset_path("hrtf", "x.sofa")``."""
    return _ROOT.joinpath(*parts)
