"""Broken scene files through ``loci render``: one line, exit status 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loci.cli import main

GOOD = {
    "duration": 1.0,
    "room": {"kind": "shoebox", "size": [6, 5, 3]},
    "listener": {"position": [2, 2, 1.7], "yaw": 0},
}


def _with(**changes: object) -> dict:
    data = {key: value for key, value in GOOD.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


CASES = {
    "missing field": (_with(duration=None), "duration"),
    "wrong type": (_with(duration="long"), "duration"),
    "unknown material": (
        _with(room={"kind": "shoebox", "size": [6, 5, 3], "materials": {"walls": "brikwork"}}),
        "brikwork",
    ),
    "missing audio file": (
        _with(sources=[{"audio": "nowhere.wav", "position": [3, 3, 1.5]}]),
        "nowhere.wav",
    ),
    "missing frames folder": (_with(environment={"frames": "no_such_frames/"}), "no_such_frames"),
    "negative room size": (_with(room={"kind": "shoebox", "size": [6, -5, 3]}), "-5"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_scene_fails_with_one_line_and_no_output(
    case: str, tmp_path: Path, write_scene, capsys: pytest.CaptureFixture[str]
) -> None:
    data, shown_value = CASES[case]
    scene = write_scene(data)
    out = tmp_path / "out"
    assert main(["render", str(scene), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(scene) in err, err
    assert shown_value in err, err
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")]
    assert leftovers == []


def test_failed_render_keeps_the_previous_result(tmp_path: Path, write_scene) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mix.wav").write_bytes(b"previous")
    scene = write_scene(_with(duration=None))
    assert main(["render", str(scene), "-o", str(out), "-q"]) == 2
    assert (out / "mix.wav").read_bytes() == b"previous"


def test_exit_status_through_the_installed_command(tmp_path: Path, write_scene) -> None:
    scene = write_scene(_with(room={"kind": "dome"}))
    done = subprocess.run(
        [sys.executable, "-m", "loci.cli", "render", str(scene), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "room.kind" in done.stderr and "dome" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_scene_file_is_a_user_error(tmp_path: Path, capsys) -> None:
    assert main(["render", str(tmp_path / "absent.yaml"), "-o", str(tmp_path / "o")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "wording"),
    [("--seed", "-1", "--seed: got -1; must be >= 0"), ("--duration", "0", "--duration: got 0")],
)
def test_bad_render_options_are_user_errors(
    option: str, value: str, wording: str, tmp_path: Path, write_scene, capsys
) -> None:
    # Regression: --seed -1 reached numpy's SeedSequence and ended in its traceback.
    scene = write_scene(GOOD)
    assert main(["render", str(scene), "-o", str(tmp_path / "o"), option, value, "-q"]) == 2
    assert wording in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("options", "wording"),
    [
        ({"seed": -1}, "seed: got -1; must be a whole number >= 0"),
        ({"seed": 1.5}, "seed: got 1.5"),
        ({"duration_s": -2.0}, "duration: got -2.0; must be a number of seconds"),
    ],
)
def test_render_options_are_checked_for_library_callers(options: dict, wording: str) -> None:
    from loci.pipeline import RenderOptions
    from scene.errors import SceneError

    with pytest.raises(SceneError, match=wording):
        RenderOptions(**options)
