"""End to end through ``loci render``: what reaches the ears, measured on mix.wav."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pyroomacoustics.experimental import measure_rt60
from scipy.signal import butter, correlate, sosfiltfilt

from loci.cli import main
from scene.acoustics import room_acoustics
from scene.loader import load_scene

SAMPLE_RATE = 48_000
LISTENER = (5.0, 4.0, 1.7)


def _itd_seconds(mix: np.ndarray) -> float:
    """Interaural time difference by cross-correlation of the ears' signals below 1.5 kHz
    (where the ear reads time differences); positive when the left ear leads."""
    sos = butter(4, 1500.0, "lowpass", fs=SAMPLE_RATE, output="sos")
    left, right = sosfiltfilt(sos, np.asarray(mix, dtype=np.float64), axis=-1)
    max_lag = round(0.0015 * SAMPLE_RATE)
    full = correlate(right, left, mode="full", method="fft")
    centre = left.size - 1
    window = full[centre - max_lag : centre + max_lag + 1]
    lag = int(np.argmax(window)) - max_lag
    return lag / SAMPLE_RATE


@pytest.mark.parametrize(("azimuth", "left_leads"), [(60.0, True), (-60.0, False)])
def test_click_in_free_field_reaches_the_near_ear_first(
    tmp_path: Path, write_click, write_scene, position_at, azimuth: float, left_leads: bool
) -> None:
    click = write_click()
    scene = write_scene(
        {
            "duration": 1.0,
            "room": {"kind": "free_field"},
            "listener": {"position": list(LISTENER), "yaw": 0},
            "sources": [
                {
                    "audio": click.name,
                    "position": position_at(LISTENER, azimuth_deg=azimuth, distance_m=2.0),
                }
            ],
        }
    )
    assert main(["render", str(scene), "-o", str(tmp_path / "out"), "-q"]) == 0
    mix, rate = sf.read(tmp_path / "out" / "mix.wav", dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE and mix.shape[1] == 2
    itd = _itd_seconds(mix.T)
    # KEMAR's ITD at 60 degrees is about 0.6 ms (Woodworth's formula gives 0.49 ms for a
    # 8.75 cm sphere); the window is 0.50-0.70 ms.
    assert 0.50e-3 <= abs(itd) <= 0.70e-3, f"ITD {itd * 1e3:.3f} ms"
    assert (itd > 0) == left_leads, f"ITD {itd * 1e3:.3f} ms at azimuth {azimuth}"


def test_impulse_in_a_shoebox_decays_at_the_eyring_rt60(
    tmp_path: Path, write_click, write_scene
) -> None:
    click = write_click(at_s=0.05, duration_s=0.1)
    scene = write_scene(
        {
            "duration": 3.0,
            "room": {
                "kind": "shoebox",
                "size": [10, 8, 4],
                "materials": {
                    "walls": "brickwork",
                    "floor": "concrete_floor",
                    "ceiling": "plasterboard",
                },
            },
            "listener": {"position": [3.0, 3.0, 1.7], "yaw": 0},
            "sources": [{"audio": click.name, "position": [7.0, 5.5, 1.5]}],
        }
    )
    # A quiet target keeps the limiter out of it: the decay is measured on the raw tail.
    assert main(["render", str(scene), "-o", str(tmp_path / "out"), "-q", "--lufs", "-40"]) == 0
    mix, _ = sf.read(tmp_path / "out" / "mix.wav", dtype="float64", always_2d=True)
    predicted = room_acoustics(load_scene(scene).room)
    assert predicted is not None
    expected = predicted.rt60_eyring_s[3]  # the 1 kHz octave band
    octave = butter(
        4, [1000 / np.sqrt(2), 1000 * np.sqrt(2)], btype="band", fs=SAMPLE_RATE, output="sos"
    )
    for ear in (0, 1):
        band = sosfiltfilt(octave, mix[:, ear])
        measured = measure_rt60(band, fs=SAMPLE_RATE, decay_db=30)
        assert abs(measured - expected) / expected < 0.20, (measured, expected)


def test_a_mesh_room_is_planned_for_the_reverberation_the_listener_hears(tmp_path: Path) -> None:
    import json

    import spatial
    from scene.model import Pose

    example = Path(__file__).resolve().parents[1] / "examples" / "museum_mesh.yaml"
    scene = load_scene(example)
    assert main(["render", str(example), "-o", str(tmp_path / "out"), "--duration", "2", "-q"]) == 0
    environment = json.loads((tmp_path / "out" / "environment.json").read_text("utf-8"))
    plan = json.loads((tmp_path / "out" / "plan.json").read_text("utf-8"))
    heard = environment["rt60_mid_s"]["value"]
    assert "ray-traced" in environment["rt60_mid_s"]["source"]
    # What the rendered room measures (pyroomacoustics' T30 on the BRIR at 1 kHz)...
    brir = spatial.binaural_room_impulse_response(
        scene.room, Pose(position=scene.listener.position), (20.0, 12.0, 1.5), seed=scene.seed
    ).astype(np.float64)
    sos = butter(4, [707.0, 1414.0], "bandpass", fs=SAMPLE_RATE, output="sos")
    measured = np.mean(
        [measure_rt60(sosfiltfilt(sos, ear), fs=SAMPLE_RATE, decay_db=30) for ear in brir]
    )
    # ...is what E reports and the plan was made for; Eyring's formula is well short of it.
    eyring = float(np.mean(environment["rt60_eyring_s"]["value"][2:4]))
    assert heard == pytest.approx(measured, rel=0.15)
    assert abs(eyring - measured) > 0.2 * measured
    assert any(f"RT60 of {heard:.1f} s" in d["because"] for d in plan["explanation"])
