"""Helpers of the ``loci serve`` tests: a server on 127.0.0.1 in a thread, and clients."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator

import numpy as np

from loci.serve.app import ServeConfig
from scene.model import Pose

__all__ = ["PanningRenderer", "running_server"]


class PanningRenderer:
    """Equal-power panning by azimuth: a stand-in with the StreamRenderer's interface, used
    only while spatial.stream is not in the tree. A pose change crossfades over one block."""

    def __init__(self, room, *, sources, block_size, listener, positions, seed, **_ignored):
        self.sources = sources
        self.block = block_size
        self.listener = listener
        self.positions = [tuple(p) for p in positions]
        self._gains = self._pan(listener)

    def _pan(self, pose: Pose) -> np.ndarray:
        gains = np.zeros((2, self.sources), dtype=np.float32)
        for i, (x, y, _z) in enumerate(self.positions):
            azimuth = math.atan2(y - pose.position[1], x - pose.position[0])
            relative = azimuth - math.radians(pose.yaw_deg)
            pan = math.sin(relative)  # +1 left
            gains[0, i] = math.sqrt((1 + pan) / 2)
            gains[1, i] = math.sqrt((1 - pan) / 2)
        return gains

    def set_listener(self, pose: Pose) -> None:
        self.listener = pose

    def set_source_position(self, index: int, position) -> None:
        self.positions[index] = tuple(position)

    def process(self, blocks: np.ndarray) -> np.ndarray:
        new = self._pan(self.listener)
        fade = np.linspace(0.0, 1.0, blocks.shape[1], dtype=np.float32)
        out = (self._gains @ blocks) * (1 - fade) + (new @ blocks) * fade
        self._gains = new
        return out.astype(np.float32)


def renderer_factory():
    """The real streaming renderer when spatial.stream exists, else the stand-in."""
    try:
        import spatial.stream  # noqa: F401
    except ImportError:
        return PanningRenderer
    return None


@contextlib.contextmanager
def running_server(config: ServeConfig | None = None, *, factory=None) -> Iterator[str]:
    """A server on 127.0.0.1 (a free port) in a thread; yields its base URL, then stops."""
    import uvicorn

    from loci.serve.server import uvicorn_config

    cfg = uvicorn_config(
        config or ServeConfig(workers=0),
        host="127.0.0.1",
        port=0,
        renderer_factory=factory if factory is not None else renderer_factory(),
    )
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, name="loci-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def server_process(*args: str, timeout_s: float = 90.0) -> Iterator[tuple[str, int]]:
    """``loci serve``'s app in a process of its own on 127.0.0.1 (a free port), as a user
    runs it: yields (host:port, pid), then stops it (SIGTERM, then SIGKILL after 20 s).

    ``args`` are this module's command-line options: --token, --max-sessions, --workers.
    """
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout_s
        line = ""
        while not line.startswith("PORT "):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the server process did not start ({line!r})")
            line = process.stdout.readline()  # type: ignore[union-attr]
        yield f"127.0.0.1:{int(line.split()[1])}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _main() -> None:
    import argparse
    import asyncio
    import os

    import uvicorn

    from loci.serve.limits import Limits
    from loci.serve.server import uvicorn_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--token")
    parser.add_argument("--max-sessions", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pose-rate", type=float, default=250.0)
    args = parser.parse_args()
    config = ServeConfig(
        token=args.token,
        workers=args.workers,
        limits=Limits(max_sessions=args.max_sessions, pose_rate_hz=args.pose_rate),
    )
    server = uvicorn.Server(
        uvicorn_config(config, host="127.0.0.1", port=0, renderer_factory=renderer_factory())
    )

    async def run() -> None:
        if os.environ.get("LOCI_SLOW_CALLBACK_S"):  # report what holds the loop up
            loop = asyncio.get_running_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = float(os.environ["LOCI_SLOW_CALLBACK_S"])
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        print(f"PORT {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _main()
