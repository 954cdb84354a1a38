"""``loci analyze``: E as JSON for meshes, scene files and frames; a top view as PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loci.cli import main

ROOT = Path(__file__).resolve().parents[1]
HALL = ROOT / "assets" / "meshes" / "museum_hall.obj"


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_mesh_prints_volume_and_rt60(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "top.png"
    assert main(["analyze", str(HALL), "--plot", str(plot)]) == 0
    report = _json(capsys)
    assert report["volume_m3"]["value"] == pytest.approx(5662.44)
    assert report["volume_m3"]["unit"] == "m^3"
    assert len(report["rt60_eyring_s"]["value"]) == 7
    assert 1.7 < report["rt60_mid_s"]["value"] < 2.7
    assert report["enclosure"]["value"] == "enclosed"
    assert dict(report["surfaces_m2"]["value"])["marble_floor"] == pytest.approx(540)
    assert "大理石地面" in report["surfaces_m2"]["source"]  # UTF-8, not \u escapes
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000


def test_scene_file_with_a_mesh_room(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "top.png"
    assert main(["analyze", str(ROOT / "examples" / "museum_mesh.yaml"), "--plot", str(plot)]) == 0
    report = _json(capsys)
    assert report["place_tags"]["value"] == ["museum", "hall"]
    assert report["volume_m3"]["value"] == pytest.approx(5662.44)
    assert plot.is_file()


def test_shoebox_scene_and_frames(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        main(["analyze", str(ROOT / "examples" / "museum.yaml"), "--plot", str(tmp_path / "a.png")])
        == 0
    )
    assert _json(capsys)["volume_m3"]["value"] == 5400
    assert main(["analyze", str(ROOT / "examples" / "beach_frames")]) == 0
    assert _json(capsys)["brightness"]["value"] > 0.6


def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\n")
    assert main(["analyze", str(tmp_path / "flat.obj")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "zero area" in error
    assert main(["analyze", str(HALL), "--plot", str(tmp_path / "top.svg")]) == 2
    assert "must be a .png file" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing.glb")]) == 2
    assert "no such file" in capsys.readouterr().err
