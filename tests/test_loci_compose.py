"""``loci compose``: stems, score and plan without a room."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from loci.cli import main


def test_compose_writes_stems_score_and_plan(tmp_path: Path) -> None:
    out = tmp_path / "beach"
    args = ["compose", "在海滩上播放一首轻快的音乐", "-o", str(out), "--duration", "8"]
    assert main([*args, "--seed", "7", "--place", "beach"]) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["style"]["place_tags"] == ["beach"]
    names = {stem["name"] for stem in plan["stems"]}
    assert {"melody", "harmony", "bass", "sea"} <= names
    for name in names:
        info = sf.info(out / "stems" / f"{name}.wav")
        assert (info.channels, info.samplerate, info.frames) == (1, 48_000, 8 * 48_000)
    assert (out / "score.mid").stat().st_size > 100
    assert not (out / "mix.wav").exists()


def test_compose_is_reproducible(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            main(
                [
                    "compose",
                    "a calm folk tune",
                    "-o",
                    str(tmp_path / name),
                    "--duration",
                    "5",
                    "--seed",
                    "3",
                ]
            )
            == 0
        )
    a = (tmp_path / "a" / "stems" / "melody.wav").read_bytes()
    assert a == (tmp_path / "b" / "stems" / "melody.wav").read_bytes()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--duration", "0"], "--duration: got 0.0"),
        (["--seed", "-1"], "--seed: got -1"),
        (["--soundfont", "missing.sf2"], "--soundfont: got 'missing.sf2'"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    assert main(["compose", "music", "-o", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_rendered_loop_has_no_click_at_the_loop_point(tmp_path: Path) -> None:
    scene = Path(__file__).resolve().parents[1] / "examples" / "museum.yaml"
    out = tmp_path / "loop"
    assert main(["render", str(scene), "-o", str(out), "-q", "--loop", "--duration", "12"]) == 0
    mix, rate = sf.read(out / "mix.wav", dtype="float64")
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["loop"] is True
    assert mix.shape[0] == round(plan["duration_s"] * rate)
    for ear in (0, 1):
        inside = abs(mix[1:, ear] - mix[:-1, ear]).max()
        assert abs(mix[0, ear] - mix[-1, ear]) <= inside
    # The hall's reverberation of the end carries over the start: no silent first beat.
    assert abs(mix[: rate // 10]).max() > 1e-3


def test_scene_music_section_wins_over_words_and_room(tmp_path: Path, write_scene) -> None:
    scene = write_scene(
        {
            "instruction": "a fast, happy pop song in C major",
            "duration": 8,
            "room": {"kind": "shoebox", "size": [30, 18, 10], "materials": {"walls": "marble"}},
            "listener": {"position": [5, 5, 1.7]},
            "music": {"tempo_bpm": 72, "key": "E minor", "meter": "3/4"},
        }
    )
    assert main(["render", str(scene), "-o", str(tmp_path / "out"), "-q"]) == 0
    plan = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    assert (plan["key"], plan["tempo_bpm"], plan["meter"]) == ("E minor", 72.0, "3/4")
    assert {"word": "scene file", "attribute": "tempo_bpm", "value": 72.0} in plan["style"][
        "evidence"
    ]
