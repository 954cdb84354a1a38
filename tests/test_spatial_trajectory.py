"""Trajectories: interpolation, a source passing the listener, scene-file errors, loci render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, correlate, sosfiltfilt

from scene.errors import SceneError
from scene.loader import scene_from_dict
from scene.model import Pose, Room, Trajectory
from spatial import SAMPLE_RATE, Hrtf, PlacedSource, default_hrtf, render_moving, render_scene

FS = SAMPLE_RATE
# An "omni" head: a unit impulse in both ears from everywhere, so that the level of the
# rendered sound is that of the 1/r law alone.
OMNI = Hrtf(
    directions=np.array([[0.0, 0.0], [90.0, 0.0], [180.0, 0.0], [270.0, 0.0], [0, 90], [0, -90]]),
    hrirs=np.tile(np.eye(1, 8, dtype=np.float32), (6, 2, 1)).reshape(6, 2, 8),
)
SPEED = 4.0  # m/s
PASS = Trajectory(
    times_s=(0.0, 4.0),
    poses=(Pose(position=(-8.0, 2.0, 0.0)), Pose(position=(8.0, 2.0, 0.0))),
)
LISTENER = Pose(position=(0.0, 0.0, 0.0))


def test_poses_are_interpolated_linearly_and_yaw_the_short_way() -> None:
    path = Trajectory(
        times_s=(1.0, 3.0),
        poses=(
            Pose(position=(0.0, 0.0, 1.0), yaw_deg=350.0, pitch_deg=-10.0),
            Pose(position=(4.0, 2.0, 1.0), yaw_deg=10.0, pitch_deg=30.0),
        ),
    )
    middle = path.at(2.0)
    assert middle.position == pytest.approx((2.0, 1.0, 1.0))
    assert middle.yaw_deg % 360.0 == pytest.approx(0.0)  # through 0, not through 180
    assert path.at(1.5).yaw_deg == pytest.approx(355.0)
    assert middle.pitch_deg == pytest.approx(10.0)
    assert path.at(0.0) == path.poses[0] and path.at(9.0) == path.poses[1]
    with pytest.raises(ValueError, match=r"times_s\[1\]=1\.0 must come after times_s\[0\]=1\.0"):
        Trajectory(times_s=(1.0, 1.0), poses=path.poses)


def _segments(x: np.ndarray, seconds: float) -> list[tuple[float, np.ndarray]]:
    step = int(seconds * FS)
    return [
        ((k + 0.5) * step / FS, x[..., k * step : (k + 1) * step])
        for k in range(x.shape[-1] // step)
    ]


def test_a_passing_source_follows_the_distance_law_and_doppler() -> None:
    """The direct sound's travel time glides sample by sample (a delay line), so level
    follows 1/r at every moment and pitch follows Doppler's law for a moving source,
    with no comb filtering from crossfading between delays."""
    from scene.acoustics import SPEED_OF_SOUND

    n = 4 * FS
    t = np.arange(n) / FS
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    source = PlacedSource("car", tone, PASS.start.position, trajectory=PASS)
    out = render_moving(Room(kind="free_field"), LISTENER, [source], n_samples=n, hrtf=OMNI)
    assert out.shape == (2, n) and out.dtype == np.float32
    levels, expected, pitches, doppler = [], [], [], []
    for centre, part in _segments(out[0].astype(np.float64), 0.1)[1:-1]:
        x, y, _ = PASS.at(centre).position
        r = float(np.hypot(x, y))
        levels.append(20 * np.log10(np.sqrt(2) * np.std(part) / 0.5))
        expected.append(20 * np.log10(1.0 / r))
        # The tone's frequency from its phase advance over the segment.
        analytic = np.fft.ifft(np.fft.fft(part) * (np.fft.fftfreq(part.size) > 0))
        phase = np.unwrap(np.angle(analytic[200:-200]))
        pitches.append(np.polyfit(np.arange(phase.size) / FS, phase, 1)[0] / (2 * np.pi))
        approach = SPEED * (-x) / r  # speed towards the listener
        doppler.append(1000.0 * SPEED_OF_SOUND / (SPEED_OF_SOUND - approach))
    # Level: the 1/r law at each moment (within 0.1 dB), peaking at the closest approach
    # (2 m at t = 2 s). A 1 kHz tone crossfaded between delays would dip by 0.3 dB.
    np.testing.assert_allclose(levels, expected, atol=0.1)
    assert np.argmax(levels) in (18, 19)
    # Pitch: 11.5 Hz sharp coming, as much flat going, as Doppler's law says.
    np.testing.assert_allclose(pitches, doppler, atol=0.3)
    assert pitches[0] > 1010.0 and pitches[-1] < 990.0


def _itd_us(pair: np.ndarray) -> float:
    sos = butter(4, 1500.0, "lowpass", fs=FS, output="sos")
    left, right = sosfiltfilt(sos, pair.astype(np.float64), axis=-1)
    c = correlate(left, right, mode="full")
    lags = np.arange(-right.size + 1, left.size)
    near = np.abs(lags) <= 0.0015 * FS
    k = int(np.argmax(np.where(near, c, -np.inf)))
    # Parabolic refinement of the peak, for a resolution below one sample.
    y0, y1, y2 = c[k - 1], c[k], c[k + 1]
    return float((lags[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)) / FS * 1e6)


def test_a_passing_source_moves_the_itd_as_the_hrtf_says() -> None:
    n = 4 * FS
    noise = (0.2 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    source = PlacedSource("car", noise, PASS.start.position, trajectory=PASS)
    out = render_moving(Room(kind="free_field"), LISTENER, [source], n_samples=n)
    hrtf = default_hrtf()
    measured, expected = [], []
    for centre, part in _segments(out, 0.1)[1:-1]:
        x, y, _ = PASS.at(centre).position
        # What the same measurement gives on the HRTF's own pair for that moment's
        # direction (the pass sweeps about 11 degrees per segment at its closest).
        expected.append(_itd_us(hrtf.hrir(float(np.degrees(np.arctan2(y, x))), 0.0)))
        measured.append(_itd_us(part))
    # On the left all the way (the left ear leads), most to the side at the closest
    # approach, near zero far ahead and far behind.
    assert all(m < 0 for m in measured)
    np.testing.assert_allclose(measured, expected, atol=40.0)
    assert np.argmin(measured) in range(15, 24)  # at the side, around t = 2 s
    assert min(measured) < -550.0 and max(measured) > -350.0


def test_nothing_moving_renders_as_render_scene() -> None:
    room = Room(kind="outdoor", materials=(("ground", _grass()),))
    signal = (0.1 * np.random.default_rng(1).standard_normal(9600)).astype(np.float32)
    sources = [PlacedSource("a", signal, (4.0, 3.0, 1.0), gain_db=-3.0)]
    a = render_scene(room, Pose(position=(0.0, 0.0, 1.7)), sources, n_samples=9600, seed=3)
    b = render_moving(room, Pose(position=(0.0, 0.0, 1.7)), sources, n_samples=9600, seed=3)
    np.testing.assert_allclose(b, a, atol=1e-5 * np.max(np.abs(a)))


def _grass():
    from scene.model import Material

    return Material(name="grass", absorption=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6))


def test_render_moving_names_bad_trajectory_points() -> None:
    room = Room(kind="outdoor", materials=(("ground", _grass()),))
    below = Trajectory(
        times_s=(0.0, 1.0), poses=(Pose(position=(1.0, 0.0, 1.0)), Pose(position=(2.0, 0.0, -1)))
    )
    source = PlacedSource("a", np.zeros(10, dtype=np.float32), (1.0, 0.0, 1.0), trajectory=below)
    with pytest.raises(
        ValueError, match=r"sources\[0\] \('a'\)\.trajectory\[1\]\.position.*ground"
    ):
        render_moving(room, LISTENER, [source], n_samples=10)
    with pytest.raises(ValueError, match=r"period_s: got 0; must be a positive number"):
        render_moving(room, LISTENER, [], n_samples=10, period_s=0)


BASE = {
    "duration": 2,
    "room": {"kind": "shoebox", "size": [8, 6, 3]},
    "listener": {"position": [4, 3, 1.6]},
}


def _load(**changes: object):
    return scene_from_dict({**BASE, **changes}, base_dir=Path("."), file="walk.yaml")


def test_scene_file_trajectories_are_read() -> None:
    scene = _load(
        listener={
            "trajectory": [
                {"t": 0, "position": [2, 3, 1.6], "yaw": 350},
                {"t": 2, "position": [6, 3, 1.6], "yaw": 20, "pitch": 10},
            ]
        },
        sources=[
            {
                "stem": "melody",
                "trajectory": [{"t": 0, "position": [1, 1, 1]}, {"t": 1, "position": [7, 1, 1]}],
            }
        ],
    )
    assert scene.listener == Pose(position=(2.0, 3.0, 1.6), yaw_deg=350.0)
    assert scene.listener_trajectory.at(1.0).position == pytest.approx((4.0, 3.0, 1.6))
    assert scene.listener_trajectory.at(1.0).yaw_deg == pytest.approx(365.0)
    melody = scene.sources[0]
    assert melody.position == (1.0, 1.0, 1.0)
    assert melody.trajectory.at(0.5).position == pytest.approx((4.0, 1.0, 1.0))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "listener": {
                    "position": [4, 3, 1.6],
                    "trajectory": [{"t": 0, "position": [4, 3, 1]}],
                }
            },
            r"walk\.yaml: listener\.position: got \[4\.0, 3\.0, 1\.6\]; give either `position`",
        ),
        (
            {"listener": {"yaw": 90, "trajectory": [{"t": 0, "position": [4, 3, 1]}]}},
            r"listener\.yaw: got 90\.0; give either `yaw` or a `trajectory`",
        ),
        ({"listener": {}}, r"listener\.position: missing; .* or give a `trajectory`"),
        (
            {"listener": {"trajectory": []}},
            r"listener\.trajectory: got \[\]; must be a list of timed poses",
        ),
        (
            {
                "listener": {
                    "trajectory": [
                        {"t": 1, "position": [4, 3, 1]},
                        {"t": 0.5, "position": [4, 2, 1]},
                    ]
                }
            },
            r"listener\.trajectory\[1\]\.t: got 0\.5; must be later than .*\[0\]\.t = 1 s",
        ),
        (
            {"listener": {"trajectory": [{"t": 0, "position": [4, 3, 1], "speed": 2}]}},
            r"listener\.trajectory\[0\]\.speed: unknown key; allowed keys here: t, position, yaw",
        ),
        (
            {
                "listener": {
                    "trajectory": [{"t": 0, "position": [4, 3, 1]}, {"t": 1, "position": [9, 3, 1]}]
                }
            },
            r"listener\.trajectory\[1\]\.position: got \[9, 3, 1\]; must be inside the room",
        ),
        (
            {"sources": [{"stem": "bass", "trajectory": [{"t": -1, "position": [1, 1, 1]}]}]},
            r"sources\[0\]\.trajectory\[0\]\.t: got -1; must be a number of seconds from 0 to 3600",
        ),
        (
            {
                "sources": [
                    {"stem": "bass", "trajectory": [{"t": 0, "position": [1, 1, 1], "yaw": 3}]}
                ]
            },
            r"sources\[0\]\.trajectory\[0\]\.yaw: unknown key; allowed keys here: t, position",
        ),
        (
            {
                "sources": [
                    {
                        "stem": "bass",
                        "position": [1, 1, 1],
                        "trajectory": [{"t": 0, "position": [1, 1, 1]}],
                    }
                ]
            },
            r"sources\[0\]\.position: got \[1, 1, 1\]; give either `position` or a `trajectory`",
        ),
        (
            # Straight through the listener's head between its two points.
            {
                "sources": [
                    {
                        "stem": "bass",
                        "trajectory": [
                            {"t": 0, "position": [1, 3, 1.6]},
                            {"t": 2, "position": [7, 3, 1.6]},
                        ],
                    }
                ]
            },
            r"sources\[0\]\.trajectory: comes within 0\.00 m of the listener at t = 1 s",
        ),
        (
            # A still source the walking listener walks into.
            {
                "listener": {
                    "trajectory": [
                        {"t": 0, "position": [1, 1, 1.6]},
                        {"t": 2, "position": [7, 5, 1.6]},
                    ]
                },
                "sources": [{"stem": "bass", "position": [4, 3, 1.6]}],
            },
            r"sources\[0\]\.position: comes within 0\.00 m of the listener at t = 1 s",
        ),
    ],
)
def test_scene_file_trajectory_errors_name_the_field(changes: dict, message: str) -> None:
    with pytest.raises(SceneError, match=message):
        _load(**changes)


def test_loci_render_follows_a_source_walking_from_left_to_right(
    tmp_path: Path, write_scene
) -> None:
    from loci.cli import main

    noise = (0.1 * np.random.default_rng(4).standard_normal(2 * FS)).astype(np.float32)
    sf.write(tmp_path / "voice.wav", noise, FS)
    scene = write_scene(
        {
            "duration": 2.0,
            "room": {"kind": "free_field"},
            "listener": {"position": [0, 0, 1.6]},
            "sources": [
                {
                    "audio": "voice.wav",
                    "trajectory": [
                        {"t": 0, "position": [2, 3, 1.6]},
                        {"t": 2, "position": [2, -3, 1.6]},
                    ],
                }
            ],
        }
    )
    assert main(["render", str(scene), "-o", str(tmp_path / "out"), "-q"]) == 0
    mix, rate = sf.read(tmp_path / "out" / "mix.wav", dtype="float32", always_2d=True)
    assert rate == FS and np.all(np.isfinite(mix))
    start, end = mix[: FS // 2].T, mix[-FS // 2 :].T
    assert np.sum(start[0] ** 2) > 4 * np.sum(start[1] ** 2)  # on the left at first
    assert np.sum(end[1] ** 2) > 4 * np.sum(end[0] ** 2)  # on the right at the end
