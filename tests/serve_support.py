"""Helpers of the ``loci serve`` tests: a server on 127.0.0.1 in a thread, and clients."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from loci.serve.app import ServeConfig

__all__ = ["running_server", "server_process"]


@contextlib.contextmanager
def running_server(config: ServeConfig | None = None, *, factory=None) -> Iterator[str]:
    """A server on 127.0.0.1 (a free port) in a thread; yields its base URL, then stops."""
    import uvicorn

    from loci.serve.server import uvicorn_config

    cfg = uvicorn_config(
        config or ServeConfig(workers=0),
        host="127.0.0.1",
        port=0,
        renderer_factory=factory,
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

    ``args`` are this module's command-line options: --token, --max-sessions, --workers,
    --processes, --reflection-order, --max-audio-load (a number, or none).
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
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--reflection-order", default="1")
    parser.add_argument("--max-audio-load", default="0.7")
    args = parser.parse_args()
    config = ServeConfig(
        token=args.token,
        workers=args.workers,
        limits=Limits(
            max_sessions=args.max_sessions,
            pose_rate_hz=args.pose_rate,
            max_audio_load=None if args.max_audio_load == "none" else float(args.max_audio_load),
        ),
        reflection_order=None if args.reflection_order == "hrtf" else int(args.reflection_order),
    )
    if args.processes > 1:
        from loci.serve.cluster import serve_cluster

        serve_cluster(
            config,
            host="127.0.0.1",
            port=0,
            processes=args.processes,
            on_listening=lambda port: print(f"PORT {port}", flush=True),
        )
        return
    server = uvicorn.Server(uvicorn_config(config, host="127.0.0.1", port=0))

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
