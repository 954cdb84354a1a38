"""StreamRenderer's ambisonic reflections: the offline ambisonic render's sound, turned
with the head every sample, without remaking a reflection for a turn."""

from __future__ import annotations

import dataclasses
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from test_spatial_stream import (
    FS,
    LISTENER,
    POSITIONS,
    ROOM,
    _high_band_fraction,
    _make,
    _noise,
    _stream,
    _turning,
)

from scene.model import Pose, Room
from spatial.ambisonics import _encoded_early, decoder_filters, sn3d_harmonics
from spatial.brir import head_frame, reflections_brir
from spatial.hrtf import default_hrtf
from spatial.late import FADE_S
from spatial.render import _room_plan
from spatial.stream import StreamRenderer
from spatial.stream_ambisonic import rotation_matrix


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_rotation_turns_every_direction_s_harmonics_to_the_head_frame(order: int) -> None:
    directions = np.random.default_rng(order).standard_normal((40, 3))
    for yaw, pitch in ((0.0, 0.0), (37.0, -20.0), (-170.0, 80.0), (90.0, 45.0)):
        turn = rotation_matrix(order, yaw, pitch)
        head = Pose(position=(0.0, 0.0, 0.0), yaw_deg=yaw, pitch_deg=pitch)
        np.testing.assert_allclose(
            sn3d_harmonics(order, directions) @ turn.T,
            sn3d_harmonics(order, head_frame(head, directions)),
            atol=1e-12,
        )


def _reflections_only(images):
    keep = images.orders > 0
    return dataclasses.replace(
        images,
        positions=images.positions[keep],
        distances=images.distances[keep],
        delays_s=images.delays_s[keep],
        gains=images.gains[keep],
        orders=images.orders[keep],
    )


@pytest.mark.parametrize("order", [1, 2])
def test_a_static_stream_hears_the_offline_ambisonic_reflections(order: int) -> None:
    # The stream with ambisonic reflections differs from the one with HRTF reflections by
    # exactly the difference of the two reflection responses: the offline module's
    # reflections encoded in the head frame and decoded, against the binaural ones. The
    # stream encodes in the world frame and turns the field: yaw and pitch are not zero.
    listener = Pose(position=LISTENER.position, yaw_deg=30.0, pitch_deg=10.0)
    position = POSITIONS[0]
    x = _noise((1, 256 * 120), 5)

    def stream(reflection_order: int | None) -> np.ndarray:
        renderer = StreamRenderer(
            ROOM,
            sources=1,
            block_size=256,
            listener=listener,
            positions=[position],
            seed=7,
            reflection_order=reflection_order,
        )
        return _stream(renderer, x).astype(np.float64)

    difference = stream(order) - stream(None)
    hrtf = default_hrtf()
    plan = _room_plan(ROOM, hrtf, FS, 7, listener).source(ROOM, listener, np.array(position), FS)
    binaural = reflections_brir(
        plan.images, listener, hrtf, sample_rate=FS, cut_s=plan.cut_s, fade_s=FADE_S
    )
    encoded = _encoded_early(_reflections_only(plan.images), listener, order, plan.cut_s, FS)
    decoder = decoder_filters(hrtf, order)
    decoded = np.zeros((2, encoded.shape[1] + decoder.shape[2] - 1))
    for c in range(encoded.shape[0]):
        for e in range(2):
            decoded[e] += np.convolve(encoded[c], decoder[c, e])
    response = np.zeros((2, max(decoded.shape[1], binaural.shape[1])))
    response[:, : decoded.shape[1]] += decoded
    response[:, : binaural.shape[1]] -= binaural
    expected = np.stack([np.convolve(x[0], response[e])[: x.shape[1]] for e in range(2)])
    assert np.sqrt(np.mean(expected**2)) > 0.01  # the two really differ
    np.testing.assert_allclose(difference, expected, atol=2e-5 * np.max(np.abs(expected)))


class _Counting(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs = 0
        self._lock = threading.Lock()

    def submit(self, job):
        with self._lock:
            self.jobs += 1
        return super().submit(job)


def _counted(executor: _Counting, **options: object) -> StreamRenderer:
    """Two sources whose reflections are made on ``executor``."""
    return StreamRenderer(
        ROOM,
        sources=2,
        block_size=256,
        listener=LISTENER,
        positions=POSITIONS[:2],
        reflection_executor=executor,
        **options,
    )


@pytest.mark.parametrize(("reflection_order", "remade"), [(1, False), (None, True)])
def test_a_turning_head_remakes_reflections_only_without_ambisonics(
    reflection_order: int | None, remade: bool
) -> None:
    with _Counting() as executor:
        renderer = _counted(executor, reflection_order=reflection_order)
        for k in range(60):
            renderer.set_listener(Pose(position=LISTENER.position, yaw_deg=3.0 * k))
            renderer.process(_noise((2, 256), k))
        turned = executor.jobs
        # Moving the listener moves every image: both kinds remake them. (The jobs of the
        # turn are waited for, block by block, so that the count does not depend on the
        # machine's speed.)
        renderer.set_listener(Pose(position=(1.5, 1.0, 1.6), yaw_deg=180.0))
        for k in range(200):
            renderer.process(_noise((2, 256), k))
            for future in list(renderer._r_pending.values()):
                future.result()
            if renderer._settled:
                break
        assert renderer._settled
        moved = executor.jobs - turned
    assert (turned > 0) is remade, turned
    assert moved >= 2


@pytest.mark.parametrize("lazy", [True, False])
def test_a_swaying_head_remakes_reflections_only_past_the_tolerance_or_once_it_pauses(
    lazy: bool,
) -> None:
    """A headset wearer's head sways by a centimetre and never quite stops: with
    ``lazy_reflections`` the lag within REFLECTION_TOLERANCE_M waits for the motion to
    pause (then catches up, and the renderer settles), and a step past it remakes them
    while the head still moves. Without, every lag is remade at the full rate."""

    def wait(renderer: StreamRenderer) -> None:  # the machine's speed must not matter
        for future in list(renderer._r_pending.values()):
            future.result()

    x0, y0, z0 = LISTENER.position

    def pose(k: int, *, x: float = x0) -> Pose:
        side = 0.007 + 0.003 * math.sin(2 * math.pi * k / 150)  # 4 to 10 mm aside
        return Pose(position=(x, y0 + side, z0), yaw_deg=LISTENER.yaw_deg + 10 * math.sin(k / 40))

    with _Counting() as executor:
        renderer = _counted(
            executor, reflection_order=1, reflection_updates_per_second=16.0, lazy_reflections=lazy
        )
        for k in range(300):  # 1.6 s, a pose every third block
            if k % 3 == 0:
                renderer.set_listener(pose(k))
            renderer.process(_noise((2, 256), k))
            wait(renderer)
        swayed = executor.jobs
        for k in range(200):  # held still
            renderer.process(_noise((2, 256), k))
            wait(renderer)
            if renderer._settled:
                break
        assert renderer._settled
        caught_up = executor.jobs - swayed
        for k in range(60):  # 0.3 m forward (three tolerances), swaying on
            renderer.set_listener(pose(k, x=x0 + 0.3))
            renderer.process(_noise((2, 256), k))
            wait(renderer)
        stepped = executor.jobs - swayed - caught_up
    if not lazy:  # 16 a second over the 1.6 s
        assert swayed >= 20, swayed
        return
    assert swayed == 0
    assert caught_up == 2  # both sources, once each
    assert stepped == 2


def test_ambisonic_reflections_turn_without_clicks_and_settle() -> None:
    t = np.arange(FS) / FS
    tone = (0.5 * np.sin(2 * np.pi * 200.0 * t)).astype(np.float32)
    position = [(4.0, 2.5, 1.6)]

    def renderer(yaw: float = LISTENER.yaw_deg) -> StreamRenderer:
        listener = Pose(position=LISTENER.position, yaw_deg=yaw)
        return StreamRenderer(
            ROOM,
            sources=1,
            block_size=256,
            listener=listener,
            positions=position,
            reflection_order=2,
        )

    moving = _turning(renderer(), tone, deg_per_s=90.0)[:, FS // 4 :]
    static_steps = []
    for yaw in range(0, 91, 15):
        out = _stream(renderer(float(yaw)), tone[None, :])[:, FS // 4 :]
        static_steps.append(np.max(np.abs(np.diff(out, axis=1))))
    assert np.max(np.abs(np.diff(moving, axis=1))) <= 1.05 * max(static_steps)
    still = _stream(renderer(0.0), tone[None, :])[:, FS // 4 :]
    smooth = _high_band_fraction(moving, above_hz=2000.0)
    assert smooth < max(10 * _high_band_fraction(still, above_hz=2000.0), 1e-11)
    # Without the glide the field jumps to each block's rotation: it clicks.
    hard = renderer()
    hard._ambisonic._glide[:] = 1.0
    switched = _turning(hard, tone, deg_per_s=90.0)[:, FS // 4 :]
    assert _high_band_fraction(switched, above_hz=2000.0) > 1e3 * smooth
    # Once the head stops, the stream is the static one at the final pose.
    turned = renderer(0.0)
    for k in range(30):
        turned.set_listener(Pose(position=LISTENER.position, yaw_deg=3.0 * k))
        turned.process(_noise((1, 256), k))
    for _ in range(10):
        turned.process(np.zeros((1, 256), dtype=np.float32))
    turned.reset()
    x = _noise((1, 256 * 40), 99)
    np.testing.assert_allclose(_stream(turned, x), _stream(renderer(87.0), x), atol=1e-6)


def test_a_free_field_has_no_reflections_to_turn() -> None:
    room = Room(kind="free_field")
    listener = Pose(position=(0.0, 0.0, 1.6), yaw_deg=30.0)
    positions = [(30.0, 5.0, 1.0), (-2.0, 1.0, 0.5)]
    x = _noise((2, 256 * 20), 4)
    ambisonic, plain = (
        StreamRenderer(
            room,
            sources=2,
            block_size=256,
            listener=listener,
            positions=positions,
            reflection_order=order,
        )
        for order in (1, None)
    )
    assert ambisonic._ambisonic is None
    np.testing.assert_array_equal(_stream(ambisonic, x), _stream(plain, x))


@pytest.mark.parametrize("order", [0, 4, True, 1.0, "1"])
def test_a_bad_reflection_order_is_named(order: object) -> None:
    with pytest.raises(ValueError, match=r"reflection_order: got .*; must be None .* 1 to 3"):
        _make(reflection_order=order)


@pytest.mark.parametrize("lazy", [1, "yes", 0.5])
def test_a_lazy_reflections_that_is_not_a_bool_is_named(lazy: object) -> None:
    with pytest.raises(ValueError, match=r"lazy_reflections: got .*; must be True or False"):
        _make(lazy_reflections=lazy)
