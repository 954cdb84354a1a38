"""A Python client of ``loci serve`` for app developers (protocol version 1).

    import asyncio
    from loci.client import connect

    async def main():
        async with connect("ws://127.0.0.1:8765/v1/session", instruction="a calm piano piece",
                           place="museum hall") as client:
            await client.pose((0, 0, 0), (0, 0, 0, 1))     # WebXR: y up, -z forward
            await client.control("tempo", change="up")
            async for block in client.audio(seconds=5):     # AudioBlock: (2, frames) float32
                ...

    asyncio.run(main())

The client answers nothing by itself: it sends what it is told, and sorts what comes back
into audio blocks (:class:`loci.serve.protocol.AudioBlock`), the latest ``state``, and the
``error`` messages received. It measures motion to sound: for each pose, the time from
sending it to the first audio block that says it was rendered with it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from loci.serve.protocol import PROTOCOL_VERSION, AudioBlock, decode_audio, encode_frame

__all__ = ["Client", "PoseLatency", "ServerError", "connect"]


class ServerError(RuntimeError):
    """A fatal ``error`` from the server: its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class _Latency:
    sent: dict[float, tuple[float, float]] = field(default_factory=dict)
    seen: dict[float, tuple[float, float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class PoseLatency:
    """Motion to sound for one pose, seconds.

    Attributes
    ----------
    total_s
        From sending the pose to receiving the first block rendered with it (or a later
        pose).
    wire_s
        The part of that which the block spent between being rendered and being read:
        the server's send queue, the socket and this client's own loop.
    render_s
        ``total_s - wire_s``: from sending the pose to the server rendering it (the
        pose's own trip to the server included).
    """

    total_s: float
    wire_s: float

    @property
    def render_s(self) -> float:
        return self.total_s - self.wire_s


class Client:
    """A connected session (make one with :func:`connect`).

    Attributes
    ----------
    state
        The latest ``state`` message (plan, bar, stems, environment, explanation).
    errors
        Every ``error`` message received, in order.
    states
        Every ``state`` message received, with the block count at its arrival.
    """

    def __init__(self, websocket) -> None:
        self._ws = websocket
        self.state: dict = {}
        self.states: list[tuple[int, dict]] = []
        self.errors: list[dict] = []
        self._blocks: asyncio.Queue[AudioBlock | None] = asyncio.Queue()
        self._latency = _Latency()
        self._received = 0
        self._reader: asyncio.Task | None = None
        self.closed_code: int | None = None

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    block = decode_audio(message)
                    self._received += 1
                    if not math.isnan(block.pose_t) and block.pose_t not in self._latency.seen:
                        self._latency.seen[block.pose_t] = (now, time.time(), block.server_time)
                    await self._blocks.put(block)
                    continue
                data = json.loads(message)
                if data.get("type") == "state":
                    self.state = data
                    self.states.append((self._received, data))
                elif data.get("type") == "error":
                    self.errors.append(data)
        except Exception:
            pass
        finally:
            self.closed_code = getattr(self._ws, "close_code", None)
            await self._blocks.put(None)

    async def pose(
        self,
        position: Sequence[float],
        orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0),
        *,
        t: float | None = None,
    ) -> float:
        """Send the head's pose (WebXR convention); returns its timestamp ``t``."""
        t = time.monotonic() if t is None else t
        self._latency.sent[t] = (time.monotonic(), time.time())
        await self._send(
            {"type": "pose", "t": t, "position": list(position), "orientation": list(orientation)}
        )
        return t

    async def control(self, action: str, **fields: object) -> None:
        """Send a control (``volume``, ``tempo``, ``energy``, ``style``, ``instruction``,
        ``mute``, ``solo``, ``move_source``, ``like``, ``dislike``; docs/protocol.md)."""
        await self._send({"type": "control", "action": action, **fields})

    async def frame(
        self,
        image: bytes,
        *,
        image_format: str,
        t: float | None = None,
        intrinsics: dict | None = None,
        pose: dict | None = None,
        depth: np.ndarray | None = None,
        depth_scale_m: float = 0.001,
    ) -> None:
        """Send a camera frame: encoded JPEG or PNG, optional intrinsics, pose, uint16 depth."""
        await self._ws.send(
            encode_frame(
                image,
                t=time.monotonic() if t is None else t,
                image_format=image_format,  # type: ignore[arg-type]
                intrinsics=intrinsics,
                pose=pose,
                depth=depth,
                depth_scale_m=depth_scale_m,
            )
        )

    async def send_raw(self, data: str | bytes) -> None:
        """Send anything, as it is (for testing a server's defences)."""
        await self._ws.send(data)

    async def _send(self, message: dict) -> None:
        await self._ws.send(json.dumps(message, separators=(",", ":")))

    async def next_block(self, timeout: float = 10.0) -> AudioBlock | None:
        """The next audio block, or None once the connection is closed."""
        if not self._blocks.empty():
            return self._blocks.get_nowait()
        async with asyncio.timeout(timeout):
            return await self._blocks.get()

    async def audio(self, *, seconds: float) -> AsyncIterator[AudioBlock]:
        """Audio blocks for ``seconds`` of wall time (ends early if the server closes)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            # Blocks usually wait in the queue already: no timer for those. asyncio.timeout,
            # not wait_for, for the others: wait_for makes a task for every call.
            if not self._blocks.empty():
                block = self._blocks.get_nowait()
            else:
                try:
                    async with asyncio.timeout(left):
                        block = await self._blocks.get()
                except TimeoutError:
                    return
            if block is None:
                return
            yield block

    async def record(self, *, seconds: float) -> np.ndarray:
        """The stream for ``seconds``: (2, samples) float32, gaps (lost blocks) as silence."""
        blocks = [block async for block in self.audio(seconds=seconds)]
        if not blocks:
            return np.zeros((2, 0), dtype=np.float32)
        first = blocks[0].sample_index
        last = blocks[-1].sample_index + blocks[-1].audio.shape[1]
        out = np.zeros((2, last - first), dtype=np.float32)
        for block in blocks:
            start = block.sample_index - first
            out[:, start : start + block.audio.shape[1]] = block.audio
        return out

    def pose_latencies(self) -> list[PoseLatency]:
        """Motion to sound of every pose sent whose sound has arrived (see PoseLatency).

        The server and this client share a clock only on one machine (loopback): ``wire_s``
        compares the block's server time with this machine's wall clock.
        """
        seen = sorted(self._latency.seen.items())
        # earliest[i]: the first arrival of a block carrying pose seen[i] or a later one.
        earliest: list[tuple[float, float, float]] = []
        for _pose_t, arrival in reversed(seen):
            earliest.append(min(arrival, earliest[-1]) if earliest else arrival)
        earliest.reverse()
        pose_times = [pose_t for pose_t, _ in seen]
        latencies = []
        for t, (sent_at, _sent_wall) in sorted(self._latency.sent.items()):
            # The first block that carries this pose or a later one reflects it.
            i = bisect.bisect_left(pose_times, t)
            if i < len(earliest):
                received, received_wall, rendered_wall = earliest[i]
                latencies.append(
                    PoseLatency(received - sent_at, max(0.0, received_wall - rendered_wall))
                )
        return latencies

    async def bye(self) -> None:
        """Say goodbye and close."""
        with contextlib.suppress(Exception):
            await self._send({"type": "bye"})
        with contextlib.suppress(Exception):
            await self._ws.close()


@contextlib.asynccontextmanager
async def connect(
    url: str,
    *,
    instruction: str | None = None,
    place: str | None = None,
    scene: str | None = None,
    token: str | None = None,
    block_size: int = 256,
    audio_format: str = "float32",
    seed: int = 0,
    reference_space: str = "local",
    timeout: float = 60.0,
) -> AsyncIterator[Client]:
    """Open a session: connect, say hello, wait for the first ``state``.

    Raises
    ------
    ServerError
        When the server refuses the session (its error code and message).
    """
    import websockets

    hello = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "sample_rate": 48_000,
        "block_size": block_size,
        "format": audio_format,
        "seed": seed,
        "reference_space": reference_space,
    }
    for name, value in (
        ("instruction", instruction),
        ("place", place),
        ("scene", scene),
        ("token", token),
    ):
        if value is not None:
            hello[name] = value
    async with websockets.connect(url, max_size=None, open_timeout=timeout) as websocket:
        await websocket.send(json.dumps(hello))
        client = Client(websocket)
        client._reader = asyncio.create_task(client._read())
        deadline = time.monotonic() + timeout
        while not client.state:
            if client.errors and client.errors[-1].get("fatal"):
                error = client.errors[-1]
                raise ServerError(error["code"], error["message"])
            if client._reader.done() or time.monotonic() > deadline:
                raise ServerError(
                    "closed", f"no state from the server (close code {client.closed_code})"
                )
            await asyncio.sleep(0.01)
        try:
            yield client
        finally:
            await client.bye()
            client._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client._reader
