"""``loci serve`` over a real WebSocket on 127.0.0.1: protocol, token, limits, latency.

Every server here binds 127.0.0.1 on a free port, in a thread, and every loop is bounded
in count and time.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
import urllib.request

import numpy as np
import pytest
import websockets
from serve_support import running_server, server_process

from loci.cli import _parser
from loci.client import ServerError, connect
from loci.serve.app import ServeConfig
from loci.serve.limits import Limits, TokenBucket
from loci.serve.protocol import (
    ProtocolError,
    WebXRPose,
    decode_audio,
    decode_frame,
    encode_audio,
    encode_frame,
    parse_text,
    pose_from_webxr,
)
from loci.serve.server import DEFAULT_HOST
from scene.model import Pose

BLOCK_S = 256 / 48_000


# --- the protocol, without a network -------------------------------------------------------


def _turn(yaw_deg: float) -> tuple[float, float, float, float]:
    """A WebXR orientation turned by yaw about +y (counter-clockwise seen from above)."""
    half = math.radians(yaw_deg) / 2
    return (0.0, math.sin(half), 0.0, math.cos(half))


@pytest.mark.parametrize("anchor_yaw", [0.0, 90.0, -135.0])
def test_webxr_pose_becomes_the_z_up_frame(anchor_yaw):
    anchor = Pose((2.0, 3.0, 1.6), yaw_deg=anchor_yaw)
    ahead = pose_from_webxr(WebXRPose(position=(0.0, 0.0, -1.0)), anchor=anchor)
    heading = math.radians(anchor_yaw)
    # One metre along WebXR's -z is one metre straight ahead of the scene's listener.
    assert ahead.position == pytest.approx((2 + math.cos(heading), 3 + math.sin(heading), 1.6))
    assert ahead.yaw_deg == pytest.approx(anchor_yaw)
    # WebXR +x is the listener's right (-y at yaw 0), WebXR +y is up (+z).
    right_up = pose_from_webxr(WebXRPose(position=(1.0, 0.5, 0.0)), anchor=Pose((0, 0, 1.6)))
    assert right_up.position == pytest.approx((0.0, -1.0, 2.1))
    # Turning left in WebXR (about +y) turns left in the scene (yaw grows).
    left = pose_from_webxr(WebXRPose(position=(0, 0, 0), orientation=_turn(30.0)), anchor=anchor)
    assert (left.yaw_deg - anchor_yaw + 180) % 360 - 180 == pytest.approx(30.0)
    # Looking up: a rotation about +x lifts -z toward +y.
    half = math.radians(20.0) / 2
    up = pose_from_webxr(
        WebXRPose(position=(0, 0, 0), orientation=(math.sin(half), 0, 0, math.cos(half))),
        anchor=anchor,
    )
    assert up.pitch_deg == pytest.approx(20.0)
    floor = pose_from_webxr(
        WebXRPose(position=(0, 1.5, 0)), anchor=anchor, reference_space="local-floor"
    )
    assert floor.position[2] == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", r"not JSON"),
        ("[1, 2]", r"a message is a JSON object; got list"),
        ('{"type": "dance"}', r"type: got 'dance'; must be hello, pose, control or bye"),
        ('{"type": "hello", "protocol": 1, "block_size": 300}', r"block_size: got 300"),
        ('{"type": "hello", "protocol": 1, "sample_rate": 44100}', r"48000 Hz only"),
        (
            '{"type": "pose", "t": 1, "position": [0, 0, 0], "orientation": [0, 0, 0, 0]}',
            r"orientation: got \[0, 0, 0, 0\]; must be a unit quaternion",
        ),
        ('{"type": "pose", "t": 1, "position": [0, 1e9, 0]}', r"position: .*within ±10000"),
        ('{"type": "control", "action": "fly"}', r"action: got 'fly'; must be one of volume"),
        ('{"type": "control", "action": "volume", "value": 3}', r"value: got 3"),
        ('{"type": "control", "action": "tempo"}', r"exactly one of change \(up/down\) and bpm"),
        ('{"type": "control", "action": "mute"}', r"stem: .*Field required"),
        ('{"type": "bye", "extra": 1}', r"extra: got 1; Extra inputs are not permitted"),
    ],
)
def test_bad_messages_name_the_field(text, match):
    with pytest.raises(ProtocolError, match=match) as caught:
        parse_text(text)
    assert caught.value.code == "bad_message"


@pytest.mark.parametrize("audio_format", ["int16", "float32"])
def test_audio_blocks_round_trip(audio_format):
    rng = np.random.default_rng(0)
    block = rng.uniform(-0.9, 0.9, (2, 256)).astype(np.float32)
    data = encode_audio(
        block,
        sequence=7,
        sample_index=1792,
        server_time=12.5,
        pose_t=3.25,
        audio_format=audio_format,
    )
    decoded = decode_audio(data)
    assert (decoded.sequence, decoded.sample_index, decoded.pose_t) == (7, 1792, 3.25)
    tolerance = 1 / 32768 if audio_format == "int16" else 0
    assert np.max(np.abs(decoded.audio - block)) <= tolerance
    # Interleaved L R L R on the wire: the second value is the right ear's first sample.
    second = np.frombuffer(
        data, dtype="<i2" if audio_format == "int16" else "<f4", count=2, offset=40
    )[1]
    scale = 32768 if audio_format == "int16" else 1
    assert second / scale == pytest.approx(block[1, 0], abs=1 / 32768)
    with pytest.raises(ValueError, match="not an audio block"):
        decode_audio(b"NOPE" + data[4:])


def test_frames_round_trip_and_byte_counts_are_checked():
    depth = np.arange(12, dtype=np.uint16).reshape(3, 4) * 100
    data = encode_frame(
        b"\xff\xd8fakejpeg",
        t=1.5,
        image_format="jpeg",
        intrinsics={"fx": 200, "fy": 200, "cx": 2, "cy": 1.5},
        depth=depth,
    )
    frame = decode_frame(data)
    assert frame.image == b"\xff\xd8fakejpeg"
    assert frame.depth_m[2, 3] == pytest.approx(1.1)
    with pytest.raises(ProtocolError, match=r"announces 34 bytes of image and depth; 33 follow"):
        decode_frame(data[:-1])
    with pytest.raises(ProtocolError, match=r"must start with b'LOCF'"):
        decode_frame(b"garbage")


def test_limits_and_rates_are_validated():
    bucket = TokenBucket(10.0, 2, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.1)  # one token back after 0.1 s at 10 a second
    with pytest.raises(ValueError, match="websocket_max_bytes: got 10"):
        Limits(websocket_max_bytes=10)
    with pytest.raises(ValueError, match="max_sessions: got 0; must be >= 1"):
        Limits(max_sessions=0)
    with pytest.raises(ValueError, match=r"max_audio_load: got 0; must be None \(no limit\)"):
        Limits(max_audio_load=0)


def test_the_server_binds_loopback_by_default():
    args = _parser().parse_args(["serve"])
    assert args.host == DEFAULT_HOST == "127.0.0.1"
    assert args.port == 8765 and args.token is None


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--processes", "0"], "--processes: got 0; must be in 1..64"),
        (["--processes", "65"], "--processes: got 65; must be in 1..64"),
        (["--max-sessions", "0"], "--max-sessions: got 0; must be >= 1"),
        (["--port", "0"], "--port: got 0; must be in 1..65535"),
        (
            ["--max-audio-load", "1.5"],
            "--max-audio-load: got '1.5'; must be 'none' or a share of real time, > 0 and <= 1",
        ),
        (["--max-audio-load", "lots"], "--max-audio-load: got 'lots'; must be 'none'"),
    ],
)
def test_bad_serve_options_are_refused_before_anything_starts(option, message, capsys):
    from loci.cli import EXIT_BAD_INPUT, main

    assert main(["serve", *option]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


# --- a live server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    """The server in a process of its own, as a user runs it, with one generation worker."""
    # The count limit, not the load: this machine's audio clock may be past 70% at three.
    with server_process(
        "--token", "s3cret-token", "--max-sessions", "3", "--max-audio-load", "none"
    ) as (base, _pid):
        yield base


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_health_page_and_metrics(server):
    status, body = _get(f"http://{server}/healthz")
    assert status == 200 and json.loads(body)["protocol"] == 1
    status, body = _get(f"http://{server}/")
    assert status == 200 and "AudioWorklet" in body
    assert _get(f"http://{server}/metrics")[0] == 401  # a token is set
    status, body = _get(f"http://{server}/metrics", {"Authorization": "Bearer s3cret-token"})
    assert status == 200
    for name in (
        "loci_sessions ",
        "loci_blocks_rendered_total",
        "loci_deadline_misses_total",
        "loci_render_seconds_bucket",
    ):
        assert name in body


def test_wrong_token_is_refused(server):
    async def run():
        with pytest.raises(ServerError, match="unauthorized") as caught:
            async with connect(f"ws://{server}/v1/session", token="wrong", instruction="x"):
                pass
        assert caught.value.code == "unauthorized"
        with pytest.raises(ServerError, match="unauthorized"):
            async with connect(f"ws://{server}/v1/session", instruction="x"):
                pass
        # A wrong token in the URL is refused at the handshake itself (HTTP 403).
        with pytest.raises(websockets.exceptions.InvalidStatus, match="403"):
            async with websockets.connect(f"ws://{server}/v1/session?token=wrong"):
                pass

    asyncio.run(run())


def test_a_session_streams_and_follows_the_head_within_two_blocks(server):
    async def run():
        async with connect(
            f"ws://{server}/v1/session",
            token="s3cret-token",
            instruction="a light cheerful piece",
            place="beach",
            audio_format="int16",
        ) as client:
            assert client.state["plan"]["tempo_bpm"] > 0
            assert client.state["environment"]["place_tags"]["value"] == ["beach"]
            blocks = [b async for b in client.audio(seconds=1.0)]
            for i in range(40):
                await client.pose((0.0, 0.0, 0.0), _turn(i * 9.0))
                await asyncio.sleep(0.023)  # not a multiple of the block period
            blocks += [b async for b in client.audio(seconds=0.3)]
            return client.pose_latencies(), blocks

    latencies, blocks = asyncio.run(run())
    sequences = [b.sequence for b in blocks]
    # In order; on a machine too busy to send them all, the oldest are dropped, never
    # reordered (docs/protocol.md, the send queue).
    assert sequences == sorted(set(sequences))
    samples = [b.sample_index for b in blocks]
    assert all(b.sample_index == b.sequence * 256 for b in blocks) and samples == sorted(samples)
    assert all(b.audio.shape == (2, 256) for b in blocks)
    audio = np.concatenate([b.audio for b in blocks], axis=1)
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 0.98 + 1 / 32768
    assert np.sqrt(np.mean(audio**2)) > 1e-3
    assert len(latencies) >= 35
    # Motion to sound: at most two blocks plus the time on the wire. The block's time from
    # being rendered to being read is the wire's (on a shared machine it holds the stalls).
    render = [latency.render_s for latency in latencies]
    # 3 ms for the pose's own trip and the operating system's scheduling on two cores
    # shared with other work; benchmarks/bench_serve.py reports the exact figures.
    assert statistics.median(render) <= 2 * BLOCK_S + 0.003, render
    assert sorted(render)[int(0.9 * len(render))] <= 2 * BLOCK_S + 0.005, render


def test_bad_and_oversize_messages_get_error_codes_and_floods_are_throttled(server):
    async def run():
        async with connect(
            f"ws://{server}/v1/session", token="s3cret-token", instruction="calm"
        ) as client:
            await client.send_raw("{not json")
            await client.send_raw(json.dumps({"type": "control", "action": "mute", "stem": "x"}))
            await client.send_raw("x" * (300 * 1024))
            await client.send_raw(b"LOCF" + bytes(3 * 1024 * 1024))
            for i in range(400):  # far past 250 poses a second
                await client.pose((0, 0, 0), t=float(i))
            await client.send_raw(b"garbage")
            async for _ in client.audio(seconds=0.5):
                pass
            codes = [e["code"] for e in client.errors]
            messages = [e["message"] for e in client.errors]
            still = [b async for b in client.audio(seconds=0.3)]
            return codes, messages, still

    codes, messages, still = asyncio.run(run())
    assert codes.count("bad_message") >= 3
    assert "message_too_large" in codes and "rate_limited" in codes
    assert any("stem: got 'x'" in m for m in messages)
    assert any("the limit is 262144" in m for m in messages)
    assert still, "a throttled session keeps its audio"


def test_session_count_is_limited(server):
    async def run():
        opened = []
        try:
            for _ in range(3):
                manager = connect(f"ws://{server}/v1/session", token="s3cret-token")
                opened.append((manager, await manager.__aenter__()))
            with pytest.raises(ServerError, match="server_full: this server serves at most 3"):
                async with connect(f"ws://{server}/v1/session", token="s3cret-token"):
                    pass
        finally:
            for manager, _ in reversed(opened):
                await manager.__aexit__(None, None, None)

    asyncio.run(run())


def test_clients_that_vanish_mid_stream_leave_nothing_behind(server):
    async def run():
        for count in range(3):
            ws = await websockets.connect(f"ws://{server}/v1/session", max_size=None)
            await ws.send(
                json.dumps({"type": "hello", "protocol": 1, "token": "s3cret-token", "seed": count})
            )
            for _ in range(20 + 40 * count):
                await ws.recv()
            ws.transport.abort()  # no close frame, in the middle of the stream
        body = ""
        for _ in range(100):  # bounded: 10 s
            # A session leaves the count first; its connection finishes (its tasks, its
            # socket, and with the last one the shared bars) a moment later.
            _, body = _get(f"http://{server}/metrics", {"Authorization": "Bearer s3cret-token"})
            if "loci_sessions 0" in body and "loci_cached_bars 0" in body:
                break
            await asyncio.sleep(0.1)
        return body

    body = asyncio.run(run())
    assert "loci_sessions 0" in body, "sessions of vanished clients were not closed"
    assert "loci_cached_bars 0" in body  # their music is let go with the last of them


def test_the_audio_clocks_load_is_its_working_share_however_often_it_is_measured(monkeypatch):
    """The clock's load is its thread's CPU over wall time, a moving average over about
    2 s whose value does not depend on how often it is read: one long idle wait counts
    as the same idle time measured tick by tick."""
    from types import SimpleNamespace

    import loci.serve.session as session_module
    from loci.serve.session import LOAD_WINDOW_S, AudioEngine

    now = {"cpu": 0.0, "wall": 0.0}
    fake = SimpleNamespace(thread_time=lambda: now["cpu"], monotonic=lambda: now["wall"])
    monkeypatch.setattr(session_module, "time", fake)

    def working(engine: AudioEngine, seconds: float, share: float, ticks: int) -> None:
        for _ in range(ticks):
            now["cpu"] += share * seconds / ticks
            now["wall"] += seconds / ticks
            engine.measure()

    ticked, waited = AudioEngine(), AudioEngine()
    start = dict(now)
    working(ticked, 5.0, 0.4, 1000)
    now.update(start)
    working(waited, 5.0, 0.4, 1000)
    assert ticked.load == pytest.approx(0.4, abs=1e-9)  # 2 ms of every 5 ms
    mark = dict(now)
    working(ticked, 2.0, 0.0, 400)  # idle, read every 5 ms
    now.update(mark)
    working(waited, 2.0, 0.0, 1)  # idle, one wait
    assert waited.load == pytest.approx(ticked.load, rel=1e-9)
    # One window of idle: the 5 s at 40% keep e^-1 of their weight, the idle seconds
    # 1 - e^-1 of theirs; the load is down to about a third.
    assert LOAD_WINDOW_S == 2.0 and 0.12 < waited.load < 0.16, waited.load


class _SpinningRenderer:
    """A renderer whose every block takes 2 ms of its thread's processor time: 37.5% of
    the audio clock's real time at 256 samples (5.33 ms) a block."""

    def __init__(self, room, *, sources, block_size, **_options) -> None:
        self.block_size = block_size

    def set_listener(self, pose) -> None:
        pass

    def set_source_position(self, index, position) -> None:
        pass

    def process(self, blocks):
        started = time.thread_time()
        while time.thread_time() - started < 0.002:
            pass
        return np.zeros((2, self.block_size), dtype=np.float32)


def test_a_session_is_refused_when_the_audio_clock_has_no_room_for_it():
    """Admission by the clock's measured load: one session at about 40% is admitted;
    another would take it past max_audio_load 50% and is refused; the first plays on."""
    config = ServeConfig(workers=0, limits=Limits(max_audio_load=0.5))
    with running_server(config, factory=_SpinningRenderer) as base:

        async def run():
            async with connect(f"ws://{base}/v1/session", seed=0) as first:
                blocks = [b async for b in first.audio(seconds=4.0)]
                health = json.loads(_get(f"http://{base}/healthz")[1])
                with pytest.raises(ServerError) as refused:
                    async with connect(f"ws://{base}/v1/session", seed=1):
                        pass
                later = [b async for b in first.audio(seconds=0.5)]
                metrics = _get(f"http://{base}/metrics")[1]
            return blocks, health, str(refused.value), later, metrics

        blocks, health, refusal, later, metrics = asyncio.run(run())
    assert len(blocks) >= 500  # 750 blocks in 4 s: the first session is served
    # 37.5% of the clock is the renderer alone, of which the moving average holds 86%
    # after 4 s; the rest of the session's work (its music, its messages) adds to it.
    assert 0.3 <= health["audio_load"] <= 0.95, health
    assert health["max_audio_load"] == 0.5
    assert refusal.startswith("server_full: the audio clock is at "), refusal
    assert "1 playing and 0 opening" in refusal and "past max_audio_load 50%" in refusal
    assert len(later) >= 60  # the refusal did not disturb the session playing
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line[:1] != "#")
    assert float(values['loci_sessions_refused_total{code="server_full"}']) == 1
    assert 0.3 <= float(values["loci_audio_load"]) <= 0.95


def test_sessions_are_shared_out_over_processes():
    """``--processes 2``: the parent hands each connection to the worker with the fewest
    sessions; the session limit, /healthz and /metrics count every process."""
    with server_process("--processes", "2", "--max-sessions", "3", "--max-audio-load", "none") as (
        base,
        _pid,
    ):

        async def run():
            opened = []
            try:
                # Hand-overs within seconds of each other are balanced by their count.
                for seed in range(3):
                    manager = connect(f"ws://{base}/v1/session", instruction="calm", seed=seed)
                    opened.append((manager, await manager.__aenter__()))
                with pytest.raises(ServerError, match="server_full: this server serves at most 3"):
                    async with connect(f"ws://{base}/v1/session"):
                        pass
                blocks = [len([b async for b in c.audio(seconds=0.5)]) for _, c in opened]
                health = json.loads(_get(f"http://{base}/healthz")[1])
                await asyncio.sleep(1.5)  # every process writes its metrics once a second
                metrics = _get(f"http://{base}/metrics")[1]
                return blocks, health, metrics
            finally:
                for manager, _ in reversed(opened):
                    await manager.__aexit__(None, None, None)

        blocks, health, metrics = asyncio.run(run())
    assert all(count >= 60 for count in blocks), blocks  # about 94 blocks in 0.5 s
    assert health["processes"] == 2 and health["sessions"] == 3
    assert sorted(health["sessions_per_process"]) == [1, 2]
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line[:1] != "#")
    assert float(values["loci_sessions"]) == 3
    assert float(values['loci_sessions_refused_total{code="server_full"}']) == 1
    assert float(values["loci_blocks_rendered_total"]) >= sum(blocks)


def test_a_session_renderer_has_rendered_before_its_stream_starts():
    """Its first, costly block (reflections, filter state) is off the audio clock."""
    from loci.serve.app import _primed_renderer

    calls = []

    class Recorder:
        def process(self, blocks):
            calls.append(blocks.copy())
            return np.zeros((2, blocks.shape[1]), dtype=np.float32)

    renderer = _primed_renderer(lambda room, **options: Recorder(), None, sources=8, block_size=256)
    assert isinstance(renderer, Recorder)
    assert len(calls) == 1 and calls[0].shape == (8, 256) and not calls[0].any()


def test_the_audio_clock_keeps_no_session_that_ended():
    """An ended session (its renderer, its music: tens of MB) is freed while the clock
    waits for the next one."""
    import gc
    import weakref

    from loci.serve.session import AudioEngine

    class Stream:
        on_failure = None
        start_time = 0.0
        rendered = 0

        @property
        def due(self) -> float:
            return self.start_time + self.rendered * 0.005

        def render_due(self, now: float) -> None:
            while self.due <= now:
                self.rendered += 1

    async def run():
        engine = AudioEngine()
        clock = asyncio.create_task(engine.run())
        stream = Stream()
        engine.add(stream)
        await asyncio.sleep(0.05)
        assert stream.rendered >= 5
        engine.remove(stream)
        await asyncio.sleep(0.05)  # the clock now waits for a session
        gone = weakref.ref(stream)
        del stream
        gc.collect()
        alive = gone() is not None
        clock.cancel()
        return alive

    assert not asyncio.run(run())
