"""The ``loci serve`` web application: the session WebSocket, health, metrics, the web page.

Routes: ``GET /`` the web client, ``GET /web/{file}`` its scripts, ``GET /healthz``,
``GET /metrics`` (Prometheus text), ``WS /v1/session`` (docs/protocol.md). FastAPI is
imported here only, so ``loci --help`` never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hmac
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from loci.serve import adapt, bars
from loci.serve.frames import FrameMeter, measure_frame
from loci.serve.generator import Generator
from loci.serve.limits import Limits, TokenBucket
from loci.serve.metrics import Metrics
from loci.serve.music import BarCache, MusicScheduler
from loci.serve.protocol import (
    PROTOCOL_VERSION,
    Bye,
    ErrorMessage,
    Hello,
    PoseMessage,
    ProtocolError,
    decode_frame,
    parse_text,
    pose_from_webxr,
)
from loci.serve.session import AudioEngine, BlockRenderer, Session, level_block
from scene.environment import Environment, Feature
from scene.errors import SceneError
from scene.model import Pose, Room

if TYPE_CHECKING:
    from loci.serve.cluster import Cluster

__all__ = ["RendererFactory", "ServeConfig", "Server", "create_app"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

#: Builds a session's spatial renderer: (room, sources, block_size, listener, positions,
#: seed, reflection_updates_per_second) -> renderer. The default is
#: ``spatial.stream.StreamRenderer``.
RendererFactory = Callable[..., BlockRenderer]

_CLOSE_POLICY = 1008
_CLOSE_TOO_BIG = 1009
_CLOSE_INTERNAL = 1011
_CLOSE_TRY_LATER = 1013
_ERROR_EVERY_S = 1.0


@dataclass(frozen=True)
class ServeConfig:
    """How a server runs.

    Attributes
    ----------
    token
        When set, a session must present it (hello ``token`` or the ``token`` query
        parameter) and ``/metrics`` needs it as a bearer token.
    limits
        Sizes, rates and counts (see :class:`loci.serve.limits.Limits`).
    workers
        Generation worker processes (0: one thread in the server's process).
    sources
        Source slots per session (stems take a free one when they enter).
    soundfont
        A General MIDI ``.sf2``; None uses the default font.
    output_gain_db
        Gain from the spatial renderer to the wire, dB (a limiter keeps it under 0 dBFS).
    reflection_updates_per_second
        How often, over a session's sources, the renderer recomputes reflections for a
        moving listener (the direct sound follows every pose), on the process's
        reflection thread; an update takes about 3.3 ms of it on this machine, so the
        renderer's own default (100) would cost a third of a core per session.
    reflection_order
        The ambisonic order of the reflections (1 to 3): a world-frame sound field that
        turns with the head, so that a turning head remakes no reflections (see
        ``spatial.stream.StreamRenderer``); only moving the listener or a source does.
        None sends them through the HRTF of each image's direction instead, remade as
        the head turns. Order 1 costs the least.
    """

    token: str | None = None
    limits: Limits = field(default_factory=Limits)
    workers: int = 1
    sources: int = 8
    soundfont: str | None = None
    output_gain_db: float = 0.0
    reflection_updates_per_second: float = 16.0
    reflection_order: int | None = 1


def _default_renderer(
    room: Room,
    *,
    sources: int,
    block_size: int,
    listener: Pose,
    positions: Sequence[tuple[float, float, float]],
    seed: int,
    reflection_updates_per_second: float,
    reflection_order: int | None = None,
) -> BlockRenderer:
    from spatial.stream import StreamRenderer

    return StreamRenderer(
        room,
        sources=sources,
        block_size=block_size,
        listener=listener,
        positions=positions,
        seed=seed,
        reflection_updates_per_second=reflection_updates_per_second,
        reflection_executor=_reflection_thread(),
        reflection_order=reflection_order,
        lazy_reflections=True,  # a headset's head sways by centimetres and never stops
    )


@functools.cache
def _reflection_thread() -> ThreadPoolExecutor:
    """The one thread of this process on which every session's renderer remakes its
    reflections for a turning head (a few milliseconds each, 16 times a second a session):
    off the audio clock, which only installs the results, and on the machine's other core."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="loci-reflections")


def _primed_renderer(factory: RendererFactory, room: Room, **options) -> BlockRenderer:
    """A session's renderer that has rendered a silent block, off the audio clock.

    A renderer's first blocks build what it keeps (the reflections, the filters' state):
    measured at 15 to 70 ms for the first block, on the audio clock they made the new
    session (and its neighbours) miss their first deadlines.
    """
    renderer = factory(room, **options)
    silence = np.zeros((options["sources"], options["block_size"]), dtype=np.float32)
    renderer.process(silence)
    return renderer


#: A session's whole work on the audio clock's thread (music, room and head, the output
#: stage, its messages, beside the other sessions) against its renderer's alone at
#: start-up: measured here at about 2 (21-30% of real time a session with two or three
#: playing, against a mean of 0.54-0.73 ms of a 5.33 ms block for the renderer at
#: start-up; docs/performance.md). It makes the estimate of a session's load before any
#: has been measured.
SESSION_OVER_RENDERER = 2.0
#: Blocks the start-up renderer runs; the second half is timed (about 0.1 s in all).
_WARM_UP_BLOCKS = 192


def _warm_up_renderer(reflection_order: int | None, sources: int) -> float:
    """Load the HRTF and the renderer's kernels, and time a session's renderer: returns
    the mean seconds per 256-sample block of ``sources`` sources with a turning head (the
    mean, not the median: the blocks that remake the filters are part of the load)."""
    from loci.serve.places import scene_for_hello

    scene = scene_for_hello(scene_text=None, place="a small room", instruction=None, seed=0)
    x, y, z = scene.listener.position
    renderer = _default_renderer(
        scene.room,
        sources=sources,
        block_size=256,
        listener=scene.listener,
        positions=[(x + 1.5, y - 1.0 + 0.25 * k, z) for k in range(sources)],
        seed=0,
        reflection_updates_per_second=100.0,
        reflection_order=reflection_order,
    )
    noise = np.random.default_rng(0).standard_normal((sources, 256)).astype(np.float32)
    times = []
    for k in range(_WARM_UP_BLOCKS):
        if k % 3 == 0:  # poses at 60 Hz, blocks at 187.5 Hz
            renderer.set_listener(Pose(position=(x, y, z), yaw_deg=2.0 * k))
        started = time.perf_counter()
        block = renderer.process(0.1 * noise)
        times.append(time.perf_counter() - started)
    # The output stage's kernel too: loading it took 13 ms of a first session's first block.
    level_block(block, np.ones(256, dtype=np.float32), gain=1.0, limiter=1.0, recovery=1.0)
    return float(np.mean(times[_WARM_UP_BLOCKS // 2 :]))


class Server:
    """The sessions of one server, its generation pool, its audio clock and its metrics."""

    def __init__(
        self,
        config: ServeConfig,
        *,
        renderer_factory: RendererFactory | None,
        cluster: Cluster | None = None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.limits = config.limits
        self.metrics = Metrics()
        self.engine = AudioEngine()
        self.generator: Generator | None = None
        self._renderer_factory = renderer_factory or functools.partial(
            _default_renderer, reflection_order=config.reflection_order
        )
        self._default_factory = renderer_factory is None
        self.bar_cache = BarCache()
        self._engine_task: asyncio.Task | None = None
        self._reserved = 0
        self._numbers = 0
        self._publisher: asyncio.Task | None = None
        #: What one more session is expected to add to the audio clock's load before any
        #: has been measured (set at start-up from the renderer's timing; 0 when unknown).
        self.session_load_estimate = 0.0

    def sessions_everywhere(self) -> int:
        """Sessions open or opening in this process and, in a cluster, in the others."""
        here = len(self.engine.sessions) + self._reserved
        return here + (self.cluster.others_load() if self.cluster is not None else 0)

    def session_load(self) -> float:
        """What one session adds to the audio clock's load: the measured load per session,
        and at least the start-up estimate (a session that just started is not all in the
        moving average yet)."""
        playing = len(self.engine.sessions)
        measured = self.engine.load / playing if playing else 0.0
        return max(measured, self.session_load_estimate)

    def audio_refusal(self) -> str | None:
        """Why one more session would be refused for the audio clock's load, or None."""
        limit = self.limits.max_audio_load
        playing, opening = len(self.engine.sessions), self._reserved
        if limit is None or playing + opening == 0:
            return None
        load = self.engine.load
        expected = load + self.session_load() * (opening + 1)
        if expected <= limit:
            return None
        return (
            f"the audio clock is at {load:.0%} of real time, {playing} playing and {opening} "
            f"opening; one more session would take it to about {expected:.0%}, past "
            f"max_audio_load {limit:.0%}"
        )

    def publish_load(self) -> None:
        """Tell the cluster's parent how many sessions this process holds."""
        if self.cluster is not None:
            self.cluster.set_load(len(self.engine.sessions) + self._reserved)

    async def _publish_metrics(self) -> None:
        while True:
            self.metrics.cached_bars = len(self.bar_cache)
            self.metrics.audio_load = self.engine.load
            with contextlib.suppress(OSError):
                self.cluster.write_metrics(self.metrics.snapshot())  # type: ignore[union-attr]
            await asyncio.sleep(1.0)

    async def start(self) -> None:
        """Start the audio clock and the generation workers (they warm up at once)."""
        # Building a renderer runs in a thread; the audio clock must get the interpreter
        # back within a millisecond, not the default five (a block lasts 5.3 ms).
        sys.setswitchinterval(0.001)
        _tune_allocator()  # before the threads that build renderers make their arenas
        self.generator = Generator(workers=self.config.workers)
        self.generator.warm_up(bars.warm_up)
        if self._default_factory:
            # The HRTF file and the renderer's compiled kernels are loaded before the first
            # session, not while its neighbours' audio waits on the interpreter.
            block_s = await asyncio.to_thread(
                _warm_up_renderer, self.config.reflection_order, self.config.sources
            )
            self.session_load_estimate = SESSION_OVER_RENDERER * block_s / (256 / 48_000)
        # What start-up loaded (the libraries, the HRTF, the kernels) lives as long as the
        # server: frozen out of the collector's reach, a full collection scans only what
        # the sessions made since. Unfrozen, one took 80 to 220 ms here, a stall of 15 to
        # 40 blocks for every session.
        gc.collect()
        gc.freeze()
        self._engine_task = asyncio.create_task(self.engine.run())
        if self.cluster is not None:
            self._publisher = asyncio.create_task(self._publish_metrics())

    async def stop(self) -> None:
        """Stop everything (sessions end with the connections)."""
        for task in (self._engine_task, self._publisher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.generator is not None:
            self.generator.close()

    def authorised(self, token: str | None) -> bool:
        """True when no token is set, or ``token`` is it (compared in constant time)."""
        expected = self.config.token
        if expected is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    # --- one connection -----------------------------------------------------------------

    async def handle(self, websocket: WebSocket) -> None:
        """Serve one WebSocket connection from handshake to close."""
        query_token = websocket.query_params.get("token")
        if query_token is not None and not self.authorised(query_token):
            self.metrics.sessions_refused["unauthorized"] += 1
            await websocket.close(code=_CLOSE_POLICY)  # before accept: HTTP 403
            return
        await websocket.accept()
        connection = _Connection(self, websocket, query_token)
        try:
            await connection.run()
        except WebSocketDisconnect:
            pass
        finally:
            await connection.finish()


class _Connection:
    """One client from hello to close: its session, its limits, its messages."""

    def __init__(self, server: Server, websocket: WebSocket, query_token: str | None) -> None:
        self.server = server
        self.ws = websocket
        self.query_token = query_token
        self.limits = server.limits
        self.metrics = server.metrics
        now = time.monotonic()
        self.buckets = {
            "pose": TokenBucket(self.limits.pose_rate_hz, self.limits.pose_burst, now=now),
            "frame": TokenBucket(self.limits.frame_rate_hz, self.limits.frame_burst, now=now),
            "control": TokenBucket(self.limits.control_rate_hz, self.limits.control_burst, now=now),
        }
        self.session: Session | None = None
        self.scheduler: MusicScheduler | None = None
        self.reserved = False
        self.bad = 0
        self.dropped = 0
        self.last_error: dict[str, float] = {}
        self.sender: asyncio.Task | None = None
        self.hello: Hello | None = None
        self.anchor: Pose | None = None
        self.frames = FrameMeter()
        self.base_environment: Environment | None = None
        self.tasks: set[asyncio.Task] = set()
        self.closing = False

    async def run(self) -> None:
        hello = await self._hello()
        if hello is None:
            return
        await self._open(hello)
        if self.session is None:
            return
        self.sender = asyncio.create_task(self._send_loop())
        await self._receive_loop()

    # --- hello --------------------------------------------------------------------------

    async def _hello(self) -> Hello | None:
        try:
            message = await asyncio.wait_for(self.ws.receive(), self.limits.hello_timeout_s)
        except TimeoutError:
            await self._fatal("hello_timeout", f"no hello within {self.limits.hello_timeout_s} s")
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            await self._fatal("hello_required", "the first message must be a JSON hello")
            return None
        if len(text.encode()) > self.limits.max_text_bytes:
            await self._fatal(
                "message_too_large",
                f"hello: {len(text.encode())} bytes; the limit is {self.limits.max_text_bytes}",
            )
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and data.get("type") == "hello":
            version = data.get("protocol")
            if version != PROTOCOL_VERSION:
                await self._fatal(
                    "unsupported_version",
                    f"hello: protocol: got {version!r}; this server speaks {PROTOCOL_VERSION}",
                )
                return None
        try:
            hello = parse_text(text)
        except ProtocolError as error:
            await self._fatal(error.code, str(error))
            return None
        if not isinstance(hello, Hello):
            await self._fatal(
                "hello_required", f"the first message must be a hello; got {hello.type}"
            )
            return None
        if not self.server.authorised(hello.token or self.query_token):
            self.metrics.sessions_refused["unauthorized"] += 1
            await self._fatal("unauthorized", "hello: token: missing or wrong")
            return None
        return hello

    async def _open(self, hello: Hello) -> None:
        server = self.server
        if server.sessions_everywhere() >= self.limits.max_sessions:
            self.metrics.sessions_refused["server_full"] += 1
            await self._fatal(
                "server_full",
                f"this server serves at most {self.limits.max_sessions} sessions",
                close_code=_CLOSE_TRY_LATER,
            )
            return
        refusal = server.audio_refusal()
        if refusal is not None:
            self.metrics.sessions_refused["server_full"] += 1
            await self._fatal("server_full", refusal, close_code=_CLOSE_TRY_LATER)
            return
        server._reserved += 1
        self.reserved = True
        server.publish_load()
        from loci.serve.places import scene_for_hello
        from scene.perception import perceive

        try:
            scene = scene_for_hello(
                scene_text=hello.scene,
                place=hello.place,
                instruction=hello.instruction,
                seed=hello.seed,
            )
            environment = perceive(scene)
        except SceneError as error:
            await self._fatal("bad_scene", str(error))
            return
        if hello.place and environment.place_tags is None:
            words = tuple(w for w in hello.place.replace(",", " ").split() if w.isalpha())
            if words:
                environment = replace(
                    environment, place_tags=Feature(words[:8], "words", "hello: place")
                )
        self.hello = hello
        self.anchor = scene.listener
        self.base_environment = environment
        server._numbers += 1
        number = server._numbers
        config = server.config
        positions = [scene.listener.position] * config.sources
        renderer = await asyncio.to_thread(
            _primed_renderer,
            server._renderer_factory,
            scene.room,
            sources=config.sources,
            block_size=hello.block_size,
            listener=scene.listener,
            positions=positions,
            seed=hello.seed,
            reflection_updates_per_second=config.reflection_updates_per_second,
        )
        holder: dict[str, Session] = {}
        request = adapt.MusicRequest(scene.instruction or "a calm, warm piece", seed=hello.seed)
        scheduler = MusicScheduler(
            generator=server.generator,  # type: ignore[arg-type]
            request=request,
            environment=environment,
            listener=scene.listener,
            room=scene.room,
            slots=config.sources,
            on_position=renderer.set_source_position,
            time_of=lambda sample: (
                holder["session"].time_of(sample)
                if "session" in holder
                else time.monotonic() + sample / 48_000
            ),
            metrics=self.metrics,
            soundfont=config.soundfont,
            cache=server.bar_cache,
        )
        self.scheduler = scheduler
        await scheduler.start()
        session = Session(
            number=number,
            block_size=hello.block_size,
            audio_format=hello.format,
            renderer=renderer,
            scheduler=scheduler,
            metrics=self.metrics,
            send_queue_blocks=self.limits.send_queue_blocks,
            output_gain=10 ** (config.output_gain_db / 20),
        )
        holder["session"] = session
        session.on_bar = self._send_state
        session.on_failure = self._failed
        self.session = session
        server._reserved -= 1
        self.reserved = False
        self.metrics.sessions += 1
        self.metrics.sessions_total += 1
        self._send_state()
        server.engine.add(session)
        server.publish_load()

    # --- messages -----------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while not self.closing:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            try:
                if text is not None:
                    if len(text) > self.limits.max_text_bytes // 4 and (
                        len(text.encode()) > self.limits.max_text_bytes
                    ):
                        raise ProtocolError(
                            "message_too_large",
                            f"text message of {len(text.encode())} bytes; the limit is "
                            f"{self.limits.max_text_bytes}",
                        )
                    if await self._text(text):
                        return
                elif data is not None:
                    if len(data) > self.limits.max_frame_bytes:
                        raise ProtocolError(
                            "message_too_large",
                            f"binary message of {len(data)} bytes; the limit is "
                            f"{self.limits.max_frame_bytes}",
                        )
                    self._frame(data)
            except ProtocolError as error:
                if error.code == "rate_limited":
                    self.dropped += 1
                    if self.dropped > self.limits.max_dropped:
                        await self._fatal("rate_limited", f"{self.dropped} messages over the rate")
                        return
                    self._error(error.code, str(error), throttle=True)
                    continue
                self.bad += 1
                if self.bad > self.limits.max_bad_messages:
                    await self._fatal(
                        "too_many_errors", f"{self.bad} bad messages; the last: {error}"
                    )
                    return
                self._error(error.code, str(error))

    def _take(self, kind: str) -> None:
        if not self.buckets[kind].take(time.monotonic()):
            limit = getattr(self.limits, f"{kind}_rate_hz")
            raise ProtocolError(
                "rate_limited", f"{kind} messages faster than {limit:g} a second: dropped"
            )

    async def _text(self, text: str) -> bool:
        """Handle a text message; True when the session should end."""
        kind = _peek_type(text)
        self.metrics.messages[kind if kind in ("pose", "control", "bye", "hello") else "bad"] += 1
        if kind in ("pose", "control"):
            self._take(kind)
        message = parse_text(text)
        if isinstance(message, PoseMessage):
            pose = pose_from_webxr(
                message.webxr(),
                anchor=self.anchor,
                reference_space=self.hello.reference_space,  # type: ignore[arg-type, union-attr]
            )
            self.session.set_pose(pose, message.t)  # type: ignore[union-attr]
        elif isinstance(message, Bye):
            return True
        elif isinstance(message, Hello):
            raise ProtocolError("bad_message", "hello: this session has already said hello")
        else:
            self._control(message)
        return False

    def _control(self, control) -> None:
        scheduler = self.scheduler
        assert scheduler is not None  # set before messages are read
        action = control.action
        if action == "volume":
            scheduler.note(scheduler.set_volume(control.value))
        elif action == "tempo":
            scheduler.set_tempo(change=control.change, bpm=control.bpm)
        elif action == "energy":
            scheduler.set_energy(control.value)
        elif action == "mute":
            scheduler.set_mute(control.stem, control.muted)
        elif action == "solo":
            scheduler.set_solo(control.stem)
        elif action == "move_source":
            position = pose_from_webxr(
                _webxr(control.position),
                anchor=self.anchor,  # type: ignore[arg-type]
                reference_space=self.hello.reference_space,  # type: ignore[union-attr]
            ).position
            scheduler.note(scheduler.move(control.stem, position))
        elif action in ("style", "instruction", "like", "dislike"):
            request = scheduler.request
            if action == "style":
                request = replace(request, style_words=(*request.style_words, control.words)[-4:])
                why = f"style words: {control.words}"
            elif action == "instruction":
                request = replace(request, instruction=control.text, style_words=())
                why = f"new instruction: {control.text}"
            elif action == "like":
                request = replace(request, taste=adapt.liked(request.taste, scheduler.plan))
                scheduler.request = request
                scheduler.note(f"liked: {request.taste.notes[-1]}")
                self._send_state()
                return
            else:
                request = replace(
                    request,
                    taste=adapt.disliked(
                        request.taste, scheduler.plan, arousal=_arousal(scheduler.plan)
                    ),
                )
                why = f"disliked: {request.taste.notes[-1]}"
            self._spawn(scheduler.replan(request, why))
            return
        self._send_state()

    def _frame(self, data: bytes) -> None:
        self.metrics.messages["frame"] += 1
        self._take("frame")
        frame = decode_frame(data)
        self._spawn(self._measure(frame))

    async def _measure(self, frame) -> None:
        try:
            measured = await asyncio.to_thread(measure_frame, frame)
        except ProtocolError as error:
            self.bad += 1
            self._error(error.code, str(error))
            return
        self.frames.add(measured)
        change = self.frames.change()
        scheduler = self.scheduler
        if scheduler is None:
            return
        environment = self.frames.environment(self.base_environment)  # type: ignore[arg-type]
        if change is not None:
            self.frames.planned(measured.t)
            await scheduler.place_changed(environment, f"the place changed: {change}")
            self._send_state()
        else:
            scheduler.environment = environment

    def _failed(self, error: Exception) -> None:
        """The session's rendering raised: tell the client, close, and stop reading."""
        where = f"{type(error).__name__}: {error}"
        self._spawn(
            self._fatal("internal", f"rendering failed: {where}", close_code=_CLOSE_INTERNAL)
        )

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(self._guarded(coroutine))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(self, coroutine) -> None:
        try:
            await coroutine
            self._send_state()
        except ProtocolError as error:
            self._error(error.code, str(error))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._error("internal", f"{type(error).__name__}: {error}")

    # --- sending ------------------------------------------------------------------------

    def _send_state(self) -> None:
        if self.session is None or self.scheduler is None:
            return
        sample = self.session.sequence * self.session.block_size
        state = {
            "type": "state",
            "protocol": PROTOCOL_VERSION,
            "session": self.session.number,
            "sample_rate": 48_000,
            "block_size": self.session.block_size,
            "format": self.session.format,
            "sample": sample,
            **self.scheduler.describe(),
            "environment": self.scheduler.environment.to_dict(),
            "volume": float(
                self.scheduler.volume(self.session.sequence * self.session.block_size, 1)[0]
            ),
            "blocks": self.session.blocks,
            "deadline_misses": self.session.deadline_misses,
            "blocks_dropped": self.session.dropped,
        }
        self.session.send_text(json.dumps(state, default=_json_default, ensure_ascii=False))

    def _error(self, code: str, message: str, *, throttle: bool = False) -> None:
        self.metrics.errors[code] += 1
        now = time.monotonic()
        if throttle and now - self.last_error.get(code, -math.inf) < _ERROR_EVERY_S:
            return
        self.last_error[code] = now
        text = ErrorMessage(code=code, message=message).model_dump_json()
        if self.session is not None:
            self.session.send_text(text)
        else:
            self._spawn(self._send_now(text))

    async def _send_now(self, text: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(text)

    async def _fatal(self, code: str, message: str, *, close_code: int = _CLOSE_POLICY) -> None:
        self.metrics.errors[code] += 1
        self.closing = True
        text = ErrorMessage(code=code, message=message, fatal=True).model_dump_json()
        with contextlib.suppress(Exception):
            await self.ws.send_text(text)
        with contextlib.suppress(Exception):
            await self.ws.close(code=close_code, reason=code)

    async def _send_loop(self) -> None:
        session = self.session
        assert session is not None
        # asyncio.timeout, not wait_for: this runs for every block of every session, and
        # wait_for wraps each send in a task of its own.
        while True:
            if not session.outbox:
                session.ready.clear()
                await session.ready.wait()
                continue
            item = session.outbox.popleft()
            try:
                async with asyncio.timeout(self.limits.slow_client_s):
                    if isinstance(item, bytes):
                        await self.ws.send_bytes(item)
                    else:
                        await self.ws.send_text(item)
            except TimeoutError:
                await self._fatal("too_slow", "the client did not read its audio")
                return
            except Exception:
                return

    async def finish(self) -> None:
        """Remove the session and stop its work, whatever ended the connection."""
        self.closing = True
        server = self.server
        if self.reserved:
            server._reserved -= 1
            self.reserved = False
        if self.session is not None:
            server.engine.remove(self.session)
            self.metrics.sessions -= 1
        server.publish_load()
        if self.scheduler is not None:
            self.scheduler.close()
        tasks = [t for t in (*self.tasks, self.sender) if t is not None]
        for task in tasks:
            task.cancel()
        # Wait for them and drop them: a cancelled task's traceback holds this
        # connection, and the connection its tasks, a cycle only the collector would free.
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        self.sender = None
        del tasks
        if self.session is not None:
            self.session.on_bar = self.session.on_failure = None
            self.session.outbox.clear()
        self.session = self.scheduler = None
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if not server.engine.sessions and not server._reserved:
            # Nobody left to share bars with: the cache (up to 64 bars of about 2 MB) goes.
            server.bar_cache.clear()
        await asyncio.to_thread(_release_memory)


#: glibc's mallopt parameters (malloc.h) and the values a long-running server sets.
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
_MMAP_THRESHOLD_BYTES = 128 * 1024
_ARENA_MAX = 2


def _tune_allocator() -> None:
    """Make glibc give back what sessions free (no-op without glibc).

    By default glibc raises its mmap threshold to the size of the largest block freed, so
    a session's large arrays (its renderer's spectra, its bars) come back from the heap
    instead, and every thread that builds a renderer gets an arena of its own: after 16
    sessions had come and gone the process kept 30-40% more than before them, though
    nothing was still allocated. A fixed threshold sends large arrays to mmap, returned
    when freed, and two arenas bound the threads' share: +12-14% measured the same way.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_ARENA_MAX, _ARENA_MAX)
    except (OSError, AttributeError):
        pass


def _release_memory() -> None:
    """Give the freed heap back to the system (glibc keeps it otherwise). ctypes releases
    the interpreter lock for the call, so the audio clock runs on meanwhile."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _peek_type(text: str) -> str:
    head = text[:64]
    for kind in ("pose", "control", "bye", "hello"):
        if f'"type":"{kind}"' in head.replace(" ", ""):
            return kind
    return "other"


def _webxr(position: tuple[float, float, float]):
    from loci.serve.protocol import WebXRPose

    return WebXRPose(position=position)


def _arousal(plan) -> float:
    """How lively a plan sounds, about -1..1, from its tempo (the words are not re-read:
    understanding Chinese loads a dictionary, which must not stall the audio)."""
    return max(-1.0, min(1.0, (plan.tempo_bpm - 100.0) / 40.0))


def _json_default(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def create_app(
    config: ServeConfig | None = None,
    *,
    renderer_factory: RendererFactory | None = None,
    cluster: Cluster | None = None,
) -> FastAPI:
    """The FastAPI application of a server.

    Parameters
    ----------
    config
        See :class:`ServeConfig`.
    renderer_factory
        Builds each session's spatial renderer; None uses ``spatial.stream.StreamRenderer``.
    cluster
        The other processes of a ``loci serve --processes N`` (see
        :mod:`loci.serve.cluster`); None for a server of one process.
    """
    server = Server(config or ServeConfig(), renderer_factory=renderer_factory, cluster=cluster)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    app = FastAPI(title="genius-loci", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.server = server

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @app.get("/web/{name}", include_in_schema=False)
    async def web_file(name: str) -> Response:
        path = WEB_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(path, media_type=media)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "protocol": PROTOCOL_VERSION,
                "sessions": server.sessions_everywhere(),
                "max_sessions": server.limits.max_sessions,
                "audio_load": round(server.engine.load, 4),
                "session_load": round(server.session_load(), 4),
                "max_audio_load": server.limits.max_audio_load,
                "processes": 1 if server.cluster is None else server.cluster.processes,
                "sessions_per_process": (
                    [server.sessions_everywhere()]
                    if server.cluster is None
                    else server.cluster.all_loads()
                ),
            }
        )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if server.config.token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not server.authorised(given or request.query_params.get("token")):
                return PlainTextResponse("unauthorized\n", status_code=401)
        server.metrics.cached_bars = len(server.bar_cache)
        server.metrics.audio_load = server.engine.load
        others = server.cluster.others_metrics() if server.cluster is not None else []
        return PlainTextResponse(
            server.metrics.render_text(others), media_type="text/plain; version=0.0.4"
        )

    @app.websocket("/v1/session")
    async def session(websocket: WebSocket) -> None:
        await server.handle(websocket)

    return app
