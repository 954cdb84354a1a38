"""StreamRenderer: equal to the offline render when nothing moves, no clicks when it does."""

from __future__ import annotations

import numpy as np
import pytest

from scene.model import BANDS_HZ, SHOEBOX_SURFACES, Material, Pose, Room
from spatial import PlacedSource, render_scene
from spatial.stream import StreamRenderer

FS = 48_000
# RT60 about 0.35 s: the whole tail fits in the 1 s the streaming renderer keeps.
ROOM = Room(
    kind="shoebox",
    size=(6.0, 5.0, 3.0),
    materials=tuple(
        (s, Material(name="alpha=0.3", absorption=(0.3,) * len(BANDS_HZ))) for s in SHOEBOX_SURFACES
    ),
)
LISTENER = Pose(position=(1.0, 1.0, 1.6), yaw_deg=30.0, pitch_deg=5.0)
# The last source is 7.2 m away: its direct sound comes after the transition time, so it
# feeds the shared tail late (the offline render's tail shift).
POSITIONS = [(4.5, 3.5, 1.2), (1.5, 4.0, 2.0), (5.8, 4.8, 2.9)]


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _stream(renderer: StreamRenderer, signals: np.ndarray) -> np.ndarray:
    block = renderer.block_size
    count = signals.shape[1] // block
    return np.concatenate(
        [renderer.process(signals[:, k * block : (k + 1) * block]) for k in range(count)], axis=1
    )


@pytest.mark.parametrize("block", [16, 128, 257, 1000, 1024])
def test_static_stream_equals_the_offline_render(block: int) -> None:
    n = 24_000
    signals = _noise((3, n), 1)
    sources = [PlacedSource(str(i), signals[i], p) for i, p in enumerate(POSITIONS)]
    offline = render_scene(ROOM, LISTENER, sources, n_samples=n, seed=7)
    renderer = StreamRenderer(
        ROOM, sources=3, block_size=block, listener=LISTENER, positions=POSITIONS, seed=7
    )
    streamed = _stream(renderer, signals)
    assert streamed.dtype == np.float32 and streamed.shape[0] == 2
    reference = offline[:, : streamed.shape[1]]
    # float32 spectra against float32 FFT convolution: rounding at 1e-7 of the peak.
    np.testing.assert_allclose(streamed, reference, atol=1e-5 * np.max(np.abs(offline)))


@pytest.mark.parametrize("kind", ["free_field", "outdoor"])
def test_static_stream_equals_the_offline_render_outdoors(kind: str) -> None:
    grass = Material(name="grass", absorption=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6))
    room = Room(kind=kind, materials=(("ground", grass),) if kind == "outdoor" else ())
    positions = [(30.0, 5.0, 1.0), (-2.0, 1.0, 0.5)]
    signals = _noise((2, 9600), 2)
    sources = [PlacedSource(str(i), signals[i], p) for i, p in enumerate(positions)]
    offline = render_scene(room, LISTENER, sources, n_samples=9600)
    renderer = StreamRenderer(
        room, sources=2, block_size=256, listener=LISTENER, positions=positions
    )
    streamed = _stream(renderer, signals)
    np.testing.assert_allclose(
        streamed, offline[:, : streamed.shape[1]], atol=1e-5 * np.max(np.abs(offline))
    )


def _turning(renderer: StreamRenderer, signal: np.ndarray, *, deg_per_s: float) -> np.ndarray:
    block = renderer.block_size
    out = []
    for k in range(signal.size // block):
        yaw = deg_per_s * k * block / FS
        renderer.set_listener(Pose(position=LISTENER.position, yaw_deg=yaw))
        out.append(renderer.process(signal[None, k * block : (k + 1) * block]))
    return np.concatenate(out, axis=1)


def _high_band_fraction(x: np.ndarray, *, above_hz: float) -> float:
    """Share of the energy above ``above_hz`` (Blackman window: its sidelobes, unlike a
    plain cut's, do not smear a tone's own energy up there)."""
    window = np.blackman(x.shape[-1])
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * window, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / FS)
    return float(spectrum[:, freqs > above_hz].sum() / spectrum.sum())


def test_a_listener_turning_at_90_deg_per_s_renders_without_clicks() -> None:
    n = FS
    t = np.arange(n) / FS
    tone = (0.5 * np.sin(2 * np.pi * 200.0 * t)).astype(np.float32)
    position = [(4.0, 2.5, 1.6)]

    def renderer() -> StreamRenderer:
        return StreamRenderer(
            ROOM, sources=1, block_size=256, listener=LISTENER, positions=position
        )

    moving = _turning(renderer(), tone, deg_per_s=90.0)[:, FS // 4 :]
    # The static renders at the yaws the turn passes through (0 to 90 degrees).
    static_steps = []
    for yaw in range(0, 91, 15):
        still = renderer()
        still.set_listener(Pose(position=LISTENER.position, yaw_deg=float(yaw)))
        out = _stream(still, tone[None, :])[:, FS // 4 :]
        static_steps.append(np.max(np.abs(np.diff(out, axis=1))))
    step = np.max(np.abs(np.diff(moving, axis=1)))
    # The turn changes the level smoothly (ILD), never faster than a static render's own
    # sample-to-sample steps allow: within 5% of the largest of them.
    assert step <= 1.05 * max(static_steps), (step, static_steps)
    # A click spreads energy over all frequencies. A 200 Hz tone through a linear room
    # has none above 2 kHz (-126 dB here, the window's floor); turning smoothly keeps it
    # within 10 dB of that.
    still = _stream(renderer(), tone[None, :])[:, FS // 4 :]
    floor = _high_band_fraction(still, above_hz=2000.0)
    smooth = _high_band_fraction(moving, above_hz=2000.0)
    assert smooth < max(10 * floor, 1e-11)

    # Without the crossfade the same turn clicks: filters switched at block edges put
    # over 40 dB more energy up there.
    hard = renderer()
    hard._ramp[:] = 1.0
    switched = _turning(hard, tone, deg_per_s=90.0)[:, FS // 4 :]
    assert _high_band_fraction(switched, above_hz=2000.0) > 1e4 * smooth


def test_a_source_jumping_across_the_head_crossfades() -> None:
    t = np.arange(FS // 2) / FS
    tone = (0.5 * np.sin(2 * np.pi * 300.0 * t)).astype(np.float32)
    left, right = (2.0, 3.0, 1.6), (2.0, 0.2, 1.6)

    def jump(*, crossfade: bool) -> np.ndarray:
        renderer = StreamRenderer(
            ROOM, sources=1, block_size=512, listener=LISTENER, positions=[left]
        )
        if not crossfade:
            renderer._ramp[:] = 1.0
        out = []
        for k in range(tone.size // 512):
            if k == 20:
                renderer.set_source_position(0, right)
            out.append(renderer.process(tone[None, k * 512 : (k + 1) * 512]))
        return np.concatenate(out, axis=1)[:, 4096:]

    out, hard = jump(crossfade=True), jump(crossfade=False)
    # Over one block (10.7 ms) the sound moves from one ear to the other without a click:
    # the energy above 3 kHz stays 40 dB below what a hard switch puts there.
    assert _high_band_fraction(out, above_hz=3000.0) < 1e-4 * _high_band_fraction(
        hard, above_hz=3000.0
    )
    assert np.max(np.abs(np.diff(out, axis=1))) < 0.1 * np.max(np.abs(np.diff(hard, axis=1)))
    # The left ear was the near one before the jump and the far one after it.
    before, after = out[:, 2048:6144], out[:, -4096:]
    assert np.sum(before[0] ** 2) > np.sum(before[1] ** 2)
    assert np.sum(after[0] ** 2) < np.sum(after[1] ** 2)


def test_after_moving_the_stream_settles_on_the_static_render() -> None:
    start, end = np.array(POSITIONS[0]), np.array([2.0, 3.5, 1.0])
    moving = StreamRenderer(
        ROOM, sources=1, block_size=256, listener=LISTENER, positions=[tuple(start)]
    )
    for k in range(40):
        moving.set_source_position(0, tuple(start + (end - start) * min(k / 30, 1.0)))
        moving.process(_noise((1, 256), k))
    moving.reset()
    fresh = StreamRenderer(
        ROOM, sources=1, block_size=256, listener=LISTENER, positions=[tuple(end)]
    )
    x = _noise((1, 256 * 40), 99)
    np.testing.assert_allclose(_stream(moving, x), _stream(fresh, x), atol=1e-7)


def test_reflections_made_on_another_thread_settle_on_the_static_render() -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    threads: set[int] = set()

    class Recording(ThreadPoolExecutor):
        def submit(self, job):
            def traced():
                threads.add(threading.get_ident())
                # Slower than the blocks: the source moves on while its reflections are
                # being made, and they must be made again for where it ends.
                time.sleep(0.02)
                return job()

            return super().submit(traced)

    start, end = np.array(POSITIONS[0]), np.array([2.0, 3.5, 1.0])
    with Recording(max_workers=1) as executor:
        moving = StreamRenderer(
            ROOM,
            sources=1,
            block_size=256,
            listener=LISTENER,
            positions=[tuple(start)],
            reflection_executor=executor,
        )
        for k in range(40):
            moving.set_source_position(0, tuple(start + (end - start) * min(k / 30, 1.0)))
            moving.process(_noise((1, 256), k))
        # The last reflections arrive some blocks later (seconds, the first time the
        # kernels compile); the renderer then settles.
        deadline = time.monotonic() + 60.0
        while not moving._settled and time.monotonic() < deadline:
            time.sleep(0.002)
            moving.process(np.zeros((1, 256), dtype=np.float32))
        assert moving._settled
    assert threads and threading.get_ident() not in threads
    moving.reset()
    fresh = StreamRenderer(
        ROOM, sources=1, block_size=256, listener=LISTENER, positions=[tuple(end)]
    )
    x = _noise((1, 256 * 40), 99)
    np.testing.assert_allclose(_stream(moving, x), _stream(fresh, x), atol=1e-7)


def test_many_moving_sources_stay_finite_and_silence_stays_silent() -> None:
    renderer = StreamRenderer(
        ROOM, sources=8, block_size=128, listener=LISTENER, positions=[POSITIONS[0]] * 8
    )
    rng = np.random.default_rng(3)
    for _ in range(30):
        renderer.set_source_positions(rng.uniform([0.5, 0.5, 0.5], [5.5, 4.5, 2.5], (8, 3)))
        renderer.set_listener(Pose(position=(3.0, 2.5, 1.6), yaw_deg=float(rng.uniform(0, 360))))
        assert np.all(np.isfinite(renderer.process(_noise((8, 128), 5))))
    renderer.reset()
    assert not np.any(renderer.process(np.zeros((8, 128), dtype=np.float32)))
    nobody = StreamRenderer(ROOM, sources=0, block_size=64, listener=LISTENER, positions=[])
    assert not np.any(nobody.process(np.zeros((0, 64), dtype=np.float32)))


def _make(**changes: object) -> StreamRenderer:
    options: dict = {
        "sources": 1,
        "block_size": 256,
        "listener": LISTENER,
        "positions": [POSITIONS[0]],
    }
    options.update(changes)
    return StreamRenderer(ROOM, **options)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"block_size": 8}, r"block_size: got 8; must be an integer >= 16"),
        ({"block_size": 9000}, r"block_size: got 9000; must be an integer from 16 to 8192"),
        ({"block_size": 256.0}, r"block_size: got 256\.0; must be an integer"),
        ({"sources": 2}, r"positions: got '1 positions'; must give one position per source"),
        ({"positions": [(7.0, 1.0, 1.0)]}, r"positions\[0\].*inside the room box"),
        ({"listener": Pose(position=(1.0, 1.0, 4.0))}, r"listener\.position.*inside the room"),
        ({"sample_rate": 44_100}, r"sample_rate: got 44100; must be 48000"),
        ({"brir_length_s": 0.0}, r"brir_length_s: got 0\.0; must be a number of seconds"),
        ({"reflection_updates_per_second": -1}, r"reflection_updates_per_second: got -1"),
        (
            {"reflection_executor": 4},
            r"reflection_executor: got 4; must be None or an executor \(with submit\)",
        ),
    ],
)
def test_bad_options_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _make(**changes)


def test_bad_blocks_and_moves_are_named() -> None:
    renderer = _make()
    with pytest.raises(ValueError, match=r"blocks: got \(1, 128\); must be an array of shape"):
        renderer.process(np.zeros((1, 128), dtype=np.float32))
    with pytest.raises(ValueError, match=r"blocks: got 'NaN/Inf'; must be finite"):
        renderer.process(np.full((1, 256), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"blocks: got 'int16'; must be floating point"):
        renderer.process(np.zeros((1, 256), dtype=np.int16))
    with pytest.raises(ValueError, match=r"index: got 3; must be a source index from 0 to 0"):
        renderer.set_source_position(3, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"positions\[0\]: got \(1\.0, 9\.0, 1\.0\); must lie"):
        renderer.set_source_position(0, (1.0, 9.0, 1.0))
    with pytest.raises(ValueError, match=r"positions\[0\].*inside the room box"):
        renderer.set_source_positions(np.array([[1.0, 1.0, -1.0]]))
    with pytest.raises(ValueError, match=r"listener: got 'tuple'; must be a scene\.model\.Pose"):
        renderer.set_listener((1.0, 1.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"listener\.yaw_deg: got nan"):
        renderer.set_listener(Pose(position=(1.0, 1.0, 1.0), yaw_deg=float("nan")))


def test_static_stream_equals_the_offline_render_in_a_mesh_room(tmp_path) -> None:
    """A mesh room with its file: image sources from the mesh, a ray-traced tail."""
    from mesh_shapes import l_room, write_obj

    path = write_obj(tmp_path / "l.obj", l_room())
    room = Room(kind="mesh", size=(10.0, 8.0, 3.0), mesh_path=path)
    listener = Pose(position=(2.0, 1.5, 1.6), yaw_deg=-20.0)
    positions = [(6.0, 1.5, 1.2), (1.5, 4.5, 2.0)]
    signals = _noise((2, 12_000), 3)
    sources = [PlacedSource(str(i), signals[i], p) for i, p in enumerate(positions)]
    offline = render_scene(room, listener, sources, n_samples=12_000, seed=1)
    renderer = StreamRenderer(
        room,
        sources=2,
        block_size=300,
        listener=listener,
        positions=positions,
        seed=1,
        brir_length_s=5.0,
    )
    streamed = _stream(renderer, signals)
    np.testing.assert_allclose(
        streamed, offline[:, : streamed.shape[1]], atol=1e-5 * np.max(np.abs(offline))
    )


def test_direct_filters_are_remade_by_drift_and_caught_up_when_small(monkeypatch) -> None:
    from spatial.stream import DIRECT_CATCH_UP_BLOCKS, DIRECT_TOLERANCE_DEG

    renderer = StreamRenderer(
        ROOM, sources=3, block_size=256, listener=LISTENER, positions=POSITIONS, seed=7
    )
    remade: list[list[int]] = []
    original = renderer._update_direct

    def spy(which: np.ndarray, *, fade: bool) -> None:
        remade.append(sorted(int(s) for s in which))
        original(which, fade=fade)

    monkeypatch.setattr(renderer, "_update_direct", spy)
    silence = np.zeros((3, 256), dtype=np.float32)

    def blocks(count: int) -> list[list[int]]:
        remade.clear()
        for _ in range(count):
            renderer.process(silence)
        return [which for which in remade if which]

    assert blocks(5) == []  # nothing moves: nothing is remade, or even looked at
    # A turn of twice the tolerance remakes every source's filter in the next block.
    turned = Pose(position=LISTENER.position, yaw_deg=LISTENER.yaw_deg + 2 * DIRECT_TOLERANCE_DEG)
    renderer.set_listener(turned)
    assert blocks(1) == [[0, 1, 2]]
    # A turn of a tenth of it waits, then is caught up, once.
    renderer.set_listener(Pose(position=turned.position, yaw_deg=turned.yaw_deg + 0.1))
    assert blocks(DIRECT_CATCH_UP_BLOCKS - 1) == []
    assert blocks(DIRECT_CATCH_UP_BLOCKS + 3) == [[0, 1, 2]]
    # A slow, steady turn (a tenth of the tolerance a pose, a pose every third block) is
    # remade when its drift reaches the tolerance, not at every pose; caught up once it
    # stops.
    yaw = turned.yaw_deg + 0.1
    remade.clear()
    for _ in range(25):
        yaw += 0.1 * DIRECT_TOLERANCE_DEG
        renderer.set_listener(Pose(position=turned.position, yaw_deg=yaw))
        for _ in range(3):
            renderer.process(silence)
    assert len([which for which in remade if which]) == 2  # at 10 and 20 tenths
    # The last pose's block and the two after it were quiet: the next one catches up.
    assert DIRECT_CATCH_UP_BLOCKS == 4
    assert blocks(1) == [[0, 1, 2]]
    assert blocks(5) == []
