"""Ambisonics: SN3D gains, ACN order, the diffuse tail, the binaural decode, loci render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, decode_binaural, render_ambisonics, sn3d_harmonics
from spatial.ambisonics import virtual_loudspeakers

FS = 48_000
LISTENER = Pose(position=(3.0, 2.5, 1.5))


def _ambix_table(az: np.ndarray, el: np.ndarray) -> np.ndarray:
    """The AmbiX (ACN, SN3D) harmonics to third order as Nachbar et al. (2011) list them."""
    s, c = np.sin(el), np.cos(el)
    return np.stack(
        [
            np.ones_like(az),
            c * np.sin(az),
            s,
            c * np.cos(az),
            np.sqrt(3) / 2 * c**2 * np.sin(2 * az),
            np.sqrt(3) / 2 * np.sin(2 * el) * np.sin(az),
            (3 * s**2 - 1) / 2,
            np.sqrt(3) / 2 * np.sin(2 * el) * np.cos(az),
            np.sqrt(3) / 2 * c**2 * np.cos(2 * az),
            np.sqrt(5 / 8) * c**3 * np.sin(3 * az),
            np.sqrt(15) / 2 * s * c**2 * np.sin(2 * az),
            np.sqrt(3 / 8) * c * (5 * s**2 - 1) * np.sin(az),
            s * (5 * s**2 - 3) / 2,
            np.sqrt(3 / 8) * c * (5 * s**2 - 1) * np.cos(az),
            np.sqrt(15) / 2 * s * c**2 * np.cos(2 * az),
            np.sqrt(5 / 8) * c**3 * np.cos(3 * az),
        ],
        axis=1,
    )


def test_encoding_gains_are_the_sn3d_formulas_in_acn_order() -> None:
    rng = np.random.default_rng(0)
    az, el = rng.uniform(-np.pi, np.pi, 200), rng.uniform(-np.pi / 2, np.pi / 2, 200)
    vectors = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
    table = _ambix_table(az, el)
    for order in (1, 2, 3):
        np.testing.assert_allclose(
            sn3d_harmonics(order, 3.0 * vectors), table[:, : (order + 1) ** 2], atol=1e-12
        )


def _room() -> Room:
    material = Material(name="alpha=0.3", absorption=(0.3,) * len(BANDS_HZ))
    return Room(
        kind="shoebox",
        size=(6.0, 5.0, 3.0),
        materials=tuple((s, material) for s in SHOEBOX_SURFACES),
    )


def _click(n: int = 9600) -> np.ndarray:
    x = np.zeros(n, dtype=np.float32)
    x[100] = 1.0
    return x


@pytest.mark.parametrize(
    ("offset", "loudest"),
    # Left (+y) is ACN 1 (Y), up ACN 2 (Z), front ACN 3 (X): the channel order is ACN.
    [((0.0, 2.0, 0.0), 1), ((0.0, 0.0, 1.2), 2), ((2.0, 0.0, 0.0), 3)],
)
def test_a_source_lands_in_its_acn_channel(offset: tuple, loudest: int) -> None:
    position = tuple(np.add(LISTENER.position, offset))
    mix = render_ambisonics(
        Room(kind="free_field"),
        LISTENER,
        [PlacedSource("c", _click(), position)],
        n_samples=9600,
        order=1,
    ).astype(np.float64)
    assert mix.shape == (4, 9600) and mix.dtype == np.float64
    energy = np.sum(mix**2, axis=1)
    # A plane wave along one axis: that channel equals W (same sign), the others vanish.
    np.testing.assert_allclose(mix[loudest], mix[0], atol=1e-6)
    assert all(energy[c] < 1e-9 * energy[0] for c in (1, 2, 3) if c != loudest)
    # W follows the 1/r law (distance 2 m or 1.2 m), gain 1 in every direction.
    distance = float(np.linalg.norm(offset))
    assert np.sum(mix[0]) == pytest.approx(1.0 / distance, rel=0.02)


def test_the_listeners_yaw_is_the_mix_front() -> None:
    turned = Pose(position=LISTENER.position, yaw_deg=90.0)
    left = tuple(np.add(LISTENER.position, (0.0, 2.0, 0.0)))
    mix = render_ambisonics(
        Room(kind="free_field"),
        turned,
        [PlacedSource("c", _click(), left)],
        n_samples=9600,
        order=1,
    )
    np.testing.assert_allclose(mix[3], mix[0], atol=1e-6)  # now straight ahead: X


def test_diffuse_tail_has_the_sn3d_channel_powers() -> None:
    mix = render_ambisonics(
        _room(),
        LISTENER,
        [PlacedSource("c", _click(48_000), (5.0, 4.0, 2.0))],
        n_samples=48_000,
        order=3,
    ).astype(np.float64)
    late = mix[:, int(0.1 * FS) : int(0.4 * FS)]
    power = np.mean(late**2, axis=1)
    degree = np.floor(np.sqrt(np.arange(16)))
    # A diffuse field in SN3D: each channel of degree n has 1 / (2n + 1) of W's power.
    np.testing.assert_allclose(power[1:] / power[0], 1.0 / (2 * degree[1:] + 1), rtol=0.15)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_decoded_source_at_90_degrees_is_louder_in_the_left_ear(order: int) -> None:
    def ild_db(offset: tuple) -> float:
        position = tuple(np.add(LISTENER.position, offset))
        mix = render_ambisonics(
            _room(), LISTENER, [PlacedSource("c", _click(), position)], n_samples=9600, order=order
        )
        left, right = decode_binaural(mix, order=order).astype(np.float64)[:, :2400]
        return float(10 * np.log10(np.sum(left**2) / np.sum(right**2)))

    side = ild_db((0.0, 2.0, 0.0))
    assert side > 2.0
    assert ild_db((0.0, -2.0, 0.0)) == pytest.approx(-side, abs=1.0)
    assert abs(ild_db((2.0, 0.0, 0.0))) < 1.0


def test_the_decoder_re_encodes_every_direction_exactly() -> None:
    from spatial.ambisonics import decoder_filters  # noqa: F401  (uses the same pinv)

    speakers = virtual_loudspeakers()
    assert speakers.shape == (32, 3)
    np.testing.assert_allclose(np.linalg.norm(speakers, axis=1), 1.0)
    for order in (1, 2, 3):
        y = sn3d_harmonics(order, speakers)
        decoder = np.linalg.pinv(y.T)
        wanted = sn3d_harmonics(order, np.array([[0.3, -0.5, 0.8]]))[0]
        np.testing.assert_allclose(y.T @ (decoder @ wanted), wanted, atol=1e-10)


def test_bad_order_and_channel_count_are_named() -> None:
    with pytest.raises(ValueError, match=r"order: got 4; must be an ambisonic order 1, 2 or 3"):
        render_ambisonics(Room(kind="free_field"), LISTENER, [], n_samples=10, order=4)
    with pytest.raises(ValueError, match=r"mix: got \(4, 10\); must have 9 channels for order 2"):
        decode_binaural(np.zeros((4, 10), dtype=np.float32), order=2)


def _click_scene(tmp_path: Path, write_scene, source: dict) -> Path:
    sf.write(tmp_path / "click.wav", _click(FS), FS)
    return write_scene(
        {
            "duration": 1.0,
            "room": {"kind": "shoebox", "size": [6, 5, 3]},
            "listener": {"position": [3, 2.5, 1.5]},
            "sources": [{"audio": "click.wav", **source}],
        }
    )


@pytest.mark.parametrize(("order", "channels"), [(1, 4), (3, 16)])
def test_loci_render_format_ambix_writes_the_ambisonic_mix(
    tmp_path: Path, write_scene, order: int, channels: int
) -> None:
    from loci.cli import main

    scene = _click_scene(tmp_path, write_scene, {"position": [3, 4.5, 1.5]})  # on the left
    out = tmp_path / "out"
    args = ["render", str(scene), "-o", str(out), "-q", "--format", "ambix"]
    assert main([*args, "--ambisonic-order", str(order)]) == 0
    ambix, rate = sf.read(out / "ambix.wav", dtype="float32", always_2d=True)
    assert rate == FS and ambix.shape[1] == channels
    assert np.all(np.isfinite(ambix)) and np.max(np.abs(ambix)) <= 10 ** (-1 / 20) + 1e-6
    # The direct sound and first reflections (the first 10 ms): the left is +Y.
    # The direct sound (at sample 380) and first reflections: the left is +Y, and the
    # binaural decode is louder in the left ear.
    w, y = (ambix[300:780, c].astype(np.float64) for c in (0, 1))
    assert np.sum(w * y) > 0.5 * np.sqrt(np.sum(w**2) * np.sum(y**2))
    mix, _ = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
    early = mix[300:780].astype(np.float64)
    assert np.sum(early[:, 0] ** 2) > 2 * np.sum(early[:, 1] ** 2)


def test_loci_render_ambix_refuses_a_moving_source(tmp_path: Path, write_scene, capsys) -> None:
    from loci.cli import main

    path = [{"t": 0, "position": [1, 1, 1.5]}, {"t": 1, "position": [5, 1, 1.5]}]
    scene = _click_scene(tmp_path, write_scene, {"trajectory": path})
    assert main(["render", str(scene), "-o", str(tmp_path / "o"), "-q", "--format", "ambix"]) == 2
    assert "sources[0].trajectory: an ambisonic mix (--format ambix)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
