"""Serve from several processes: ``loci serve --processes N``.

One server process renders the audio of all its sessions on one event-loop thread (30 to
40% of a core a session here), so it holds as many sessions as one core does. With
``N`` processes, a parent accepts every connection and hands the socket itself (over a
Unix socket, ``SCM_RIGHTS``) to the worker with the fewest sessions; each worker is a
whole server (the app, its audio clock, its generation pool) without a listening socket
of its own, so a session lives in one process from its first message to its last.

The workers share two things through the parent:

- their session counts, in shared memory: the parent balances on them (with the
  connections it handed out in the last seconds, which a worker has not counted yet), and
  each worker's session limit counts the sessions of all;
- their metrics: each worker writes its counters to a file in a private folder every
  second, and ``/metrics`` (from any worker) adds them up.

A worker that dies is started again (its sessions are lost; their clients reconnect).
Stopping the parent (Ctrl-C, SIGTERM) closes the workers' channels; they finish their
sessions as one server does, and are killed if they have not within 20 seconds.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loci.serve.app import ServeConfig

__all__ = ["Cluster", "serve_cluster"]

#: Seconds a handed connection counts towards its worker's load before the worker's own
#: count has had time to include it.
_RECENT_S = 3.0
_STOP_GRACE_S = 20.0
_METRICS_PREFIX = "metrics-"


@dataclass(frozen=True)
class Cluster:
    """What a worker knows of the others.

    Attributes
    ----------
    index
        This worker's place in ``loads``.
    loads
        Sessions (open or opening) per worker, in shared memory.
    folder
        Where every worker's metrics file lives.
    """

    index: int
    loads: object  # multiprocessing.Array of int, one per worker
    folder: str

    @property
    def processes(self) -> int:
        return len(self.loads)  # type: ignore[arg-type]

    def set_load(self, sessions: int) -> None:
        """Publish this worker's sessions."""
        self.loads[self.index] = sessions  # type: ignore[index]

    def all_loads(self) -> list[int]:
        """Sessions per worker."""
        return list(self.loads)  # type: ignore[call-overload]

    def others_load(self) -> int:
        """Sessions in the other workers."""
        return sum(self.loads) - self.loads[self.index]  # type: ignore[arg-type,index]

    def write_metrics(self, snapshot: dict) -> None:
        """This worker's metrics, for the others' ``/metrics`` (a temporary file, renamed)."""
        path = Path(self.folder) / f"{_METRICS_PREFIX}{self.index}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(temporary, path)

    def others_metrics(self) -> list[dict]:
        """The other workers' latest metrics (a worker that has not written yet: none)."""
        snapshots = []
        for index in range(self.processes):
            if index == self.index:
                continue
            path = Path(self.folder) / f"{_METRICS_PREFIX}{index}.json"
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                snapshots.append(json.loads(path.read_text(encoding="utf-8")))
        return snapshots


@dataclass
class _Worker:
    index: int
    process: multiprocessing.process.BaseProcess
    channel: socket.socket
    handed: deque  # monotonic times of recent hand-overs


def serve_cluster(
    config: ServeConfig,
    *,
    host: str,
    port: int,
    processes: int,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Serve with ``processes`` worker processes until interrupted.

    Parameters
    ----------
    config
        Every worker's configuration; ``limits.max_sessions`` counts all workers.
    host, port
        Where the parent listens (port 0: a free port, given to ``on_listening``).
    processes
        Worker processes, at least 2.
    on_listening
        Called with the port once every worker serves.
    """
    if processes < 2:
        raise ValueError(f"processes: got {processes}; must be >= 2 (1 runs in-process)")
    if not hasattr(socket, "send_fds"):  # pragma: no cover - Windows
        raise ValueError("--processes: handing connections to workers needs a Unix system")
    listener = socket.create_server((host, port), backlog=128)
    port = listener.getsockname()[1]
    stopping = []
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    pool = _Pool(config, host, port, processes)
    try:
        pool.start()
        if on_listening is not None:
            on_listening(port)
        listener.settimeout(0.5)
        while not stopping:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                pool.restart_dead()
                continue
            with connection:
                pool.hand_over(connection)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
        pool.stop()


class _Pool:
    """The parent's side of the workers: starts, balances, restarts and stops them."""

    def __init__(self, config: ServeConfig, host: str, port: int, processes: int) -> None:
        self.config, self.host, self.port = config, host, port
        self.folder = tempfile.mkdtemp(prefix="loci-serve-")
        self.context = multiprocessing.get_context("spawn")
        self.loads = self.context.Array("i", processes, lock=False)
        self.processes = processes
        self.workers: list[_Worker] = []

    def start(self) -> None:
        """Start every worker and wait until each serves."""
        for index in range(self.processes):  # one by one: stop() reaches those started
            self.workers.append(self._start(index))
        for worker in self.workers:
            _wait_ready(worker)

    def hand_over(self, connection: socket.socket) -> None:
        """Give ``connection`` to the worker with the fewest sessions."""
        now = time.monotonic()
        for worker in self.workers:
            while worker.handed and now - worker.handed[0] > _RECENT_S:
                worker.handed.popleft()
        # Fewest sessions, counting recent hand-overs; on a tie, the one handed least lately.
        ranked = sorted(
            self.workers,
            key=lambda w: (self.loads[w.index] + len(w.handed), w.handed[-1] if w.handed else 0.0),
        )
        for worker in ranked:
            try:
                socket.send_fds(worker.channel, [b"c"], [connection.fileno()])
            except OSError:
                self._replace(worker.index)
                continue
            worker.handed.append(now)
            return

    def restart_dead(self) -> None:
        """Start again each worker that has stopped."""
        for worker in list(self.workers):
            if not worker.process.is_alive():
                print(
                    f"loci serve: worker {worker.index} stopped (exit "
                    f"{worker.process.exitcode}); starting it again",
                    file=sys.stderr,
                    flush=True,
                )
                self._replace(worker.index)

    def stop(self) -> None:
        """Close the workers' channels, wait for them to finish, kill what has not."""
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.channel.close()  # the worker's cue to finish its sessions and exit
        deadline = time.monotonic() + _STOP_GRACE_S
        for worker in self.workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _replace(self, index: int) -> None:
        old = self.workers[index]
        with contextlib.suppress(OSError):
            old.channel.close()
        if old.process.is_alive():
            old.process.kill()
        old.process.join(timeout=5)
        self.loads[index] = 0
        self.workers[index] = self._start(index)

    def _start(self, index: int) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        process = self.context.Process(
            target=_worker_main,
            args=(
                self.config,
                self.host,
                self.port,
                Cluster(index, self.loads, self.folder),
                theirs,
            ),
            name=f"loci-serve-{index}",
            daemon=False,
        )
        process.start()
        theirs.close()
        return _Worker(index, process, ours, deque())


def _wait_ready(worker: _Worker, timeout_s: float = 300.0) -> None:
    """Wait for a worker's first byte: it serves from then on."""
    worker.channel.settimeout(timeout_s)
    try:
        ready = worker.channel.recv(1)
    except TimeoutError:
        ready = b""
    worker.channel.settimeout(None)
    if ready != b"r":
        raise RuntimeError(
            f"loci serve: worker {worker.index} did not start (exit {worker.process.exitcode})"
        )


# --- in a worker ----------------------------------------------------------------------------


def _worker_main(config: ServeConfig, host: str, port: int, cluster: Cluster, channel) -> None:
    import asyncio

    import uvicorn

    from loci.serve.generator import follow_parent
    from loci.serve.server import uvicorn_config

    # Killed parent, killed worker: nobody else would stop it, or hand it connections.
    follow_parent(os.getppid())
    # uvicorn stops gracefully on Ctrl-C and then raises the signal again: ignored here,
    # where the default would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    uvicorn_settings = uvicorn_config(config, host=host, port=port, cluster=cluster)
    server = uvicorn.Server(uvicorn_settings)
    asyncio.run(_serve_handed_connections(server, uvicorn_settings, channel))


async def _serve_handed_connections(server, uvicorn_settings, channel: socket.socket) -> None:
    import asyncio

    task = asyncio.create_task(server.serve(sockets=[]))
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    channel.sendall(b"r")  # ready: the parent hands connections from now on

    def protocol():
        # What uvicorn builds for each connection on a socket of its own.
        return uvicorn_settings.http_protocol_class(
            config=uvicorn_settings,
            server_state=server.server_state,
            app_state=server.lifespan.state,
        )

    channel.setblocking(False)
    opening: set[asyncio.Task] = set()  # held until done: the loop keeps weak references

    def readable() -> None:
        while True:
            try:
                message, fds, _flags, _address = socket.recv_fds(channel, 16, 16)
            except BlockingIOError:
                return
            except OSError:
                message, fds = b"", []
            if not message and not fds:  # the parent closed the channel: stop
                loop.remove_reader(channel.fileno())
                server.should_exit = True
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                connection.setblocking(False)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                task = loop.create_task(loop.connect_accepted_socket(protocol, connection))
                opening.add(task)
                task.add_done_callback(opening.discard)

    loop.add_reader(channel.fileno(), readable)
    await task
