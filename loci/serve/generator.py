"""Where a server's music is made: a worker pool fed earliest deadline first.

Every session asks for bars ahead of playback; a bar needed soonest (the first bar after a
listener's change, a session that is about to run dry) goes first, whatever order the
requests came in. The work runs in worker processes by default, away from the audio loop
and its interpreter lock, or in threads (``workers=0``: one thread, for tests and small
machines).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["GENERATION_NICENESS", "Generator", "follow_parent"]

_MAX_RESTARTS = 10


class Generator:
    """Runs generation calls on a pool, earliest deadline first.

    Parameters
    ----------
    workers
        Worker processes; 0 runs the calls in one thread of this process.
    """

    def __init__(self, *, workers: int = 1) -> None:
        if workers < 0:
            raise ValueError(f"workers: got {workers}; must be >= 0")
        self._slots = max(1, workers)
        self._workers = workers
        self._executor: Executor = self._new_executor()
        self.restarts = 0
        self._queue: list[tuple[float, int, Callable, tuple, asyncio.Future]] = []
        self._order = itertools.count()
        self._running = 0
        self.busy_s = 0.0
        self.calls = 0

    def _new_executor(self) -> Executor:
        if not self._workers:
            return ThreadPoolExecutor(1, thread_name_prefix="loci-generation")
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )

    async def call(self, fn: Callable[..., Any], *args: Any, deadline: float) -> Any:
        """Run ``fn(*args)`` on the pool; ``deadline`` (``time.monotonic()`` seconds) orders it.

        Returns ``fn``'s result, or raises what it raised. Cancelling the awaiting task
        drops a call that has not started.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        heapq.heappush(self._queue, (deadline, next(self._order), fn, args, future))
        self._dispatch()
        return await future

    @property
    def waiting(self) -> int:
        """Calls queued and not started."""
        return len(self._queue)

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running < self._slots and self._queue:
            _, _, fn, args, future = heapq.heappop(self._queue)
            if future.done():  # cancelled while it waited
                continue
            self._running += 1
            started = time.monotonic()
            try:
                work = loop.run_in_executor(self._executor, fn, *args)
            except BrokenProcessPool:
                self._restart()
                work = loop.run_in_executor(self._executor, fn, *args)
            work.add_done_callback(
                lambda done, f=future, t=started, call=(fn, args): self._finished(done, f, t, call)
            )

    def _restart(self) -> None:
        """A worker died (killed, out of memory): start a fresh pool for the calls to come."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()
        self.restarts += 1

    def _finished(
        self, done: asyncio.Future, future: asyncio.Future, started: float, call: tuple
    ) -> None:
        self._running -= 1
        self.busy_s += time.monotonic() - started
        self.calls += 1
        if not future.done():
            error = None if done.cancelled() else done.exception()
            if done.cancelled():
                future.cancel()
            elif isinstance(error, BrokenProcessPool) and self.restarts < _MAX_RESTARTS:
                self._restart()
                fn, args = call
                heapq.heappush(self._queue, (0.0, next(self._order), fn, args, future))
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())
        self._dispatch()

    def warm_up(self, fn: Callable[[], Any]) -> None:
        """Start every worker now (imports take seconds) by giving each ``fn`` to run."""
        for _ in range(self._slots):
            self._executor.submit(fn)

    def close(self) -> None:
        """Stop the workers (a call under way finishes first); queued calls are cancelled."""
        for *_, future in self._queue:
            future.cancel()
        self._queue.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)


#: A generation worker's niceness: bars are made seconds ahead, the audio clock's blocks
#: within milliseconds. With a cluster's two generation pools making bars at once, the
#: audio of both processes missed 1.2% of its deadlines at the default priority.
GENERATION_NICENESS = 10


def _start_worker(parent: int) -> None:
    """In a worker: yield the processor to the audio, and follow the server's process."""
    with contextlib.suppress(OSError):  # a platform without nice keeps the default
        os.nice(GENERATION_NICENESS)
    follow_parent(parent)


def follow_parent(parent: int) -> None:
    """In a child process: exit as soon as ``parent`` is gone, however it ended."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="loci-follow-parent", daemon=True).start()
