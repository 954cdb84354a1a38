"""Project-wide rules: the layering of the packages, style, and the README's quick start."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> project packages it must never import (../shared/DESIGN.md).
FORBIDDEN = {
    "scene": {"generation", "spatial", "loci"},
    "generation": {"spatial", "loci"},
    "spatial": {"generation", "loci"},
}


def _imported_top_level(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_top_level(path) & FORBIDDEN[package]
        if bad:
            offences.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offences == [], offences


def test_spatial_sees_only_scene_geometry() -> None:
    allowed = {"scene.model", "scene.acoustics", "scene.errors"}
    offences = []
    for path in sorted((ROOT / "spatial").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scene"):
                if node.module not in allowed:
                    offences.append(f"{path.name}: from {node.module}")
    assert offences == []


def _quick_start_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    assert block is not None, "README's quick start has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_is_two_lines_and_ci_runs_the_second() -> None:
    lines = _quick_start_lines()
    assert len(lines) == 2, lines
    assert "loci render examples/" in lines[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert lines[1] in ci, f"the README's test line {lines[1]!r} is not run by .ci/run"


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, loci.cli\n"
        "try:\n    loci.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'numba', 'torch', 'open3d', 'cv2') "
        "if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "HEAVY=\n" in done.stdout, done.stdout


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is a test extra")
def test_ruff_clean() -> None:
    done = subprocess.run(
        ["ruff", "check", "--quiet", "."], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_scene_files_may_ask_for_exactly_the_modes_generation_knows() -> None:
    from generation.harmony import MODES
    from scene.model import MUSIC_MODES

    assert set(MUSIC_MODES) == set(MODES)
