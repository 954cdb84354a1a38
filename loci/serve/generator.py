"""Where a server's music is made: a worker pool fed earliest deadline first.

Every session asks for bars ahead of playback; a bar needed soonest (the first bar after a
listener's change, a session that is about to run dry) goes first, whatever order the
requests came in. The work runs in worker processes by default, away from the audio loop
and its interpreter lock, or in threads (``workers=0``: one thread, for tests and small
machines).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

__all__ = ["Generator"]


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
        self._executor: Executor = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers
            else ThreadPoolExecutor(1, thread_name_prefix="loci-generation")
        )
        self._queue: list[tuple[float, int, Callable, tuple, asyncio.Future]] = []
        self._order = itertools.count()
        self._running = 0
        self.busy_s = 0.0
        self.calls = 0

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
            work = loop.run_in_executor(self._executor, fn, *args)
            work.add_done_callback(lambda done, f=future, t=started: self._finished(done, f, t))

    def _finished(self, done: asyncio.Future, future: asyncio.Future, started: float) -> None:
        self._running -= 1
        self.busy_s += time.monotonic() - started
        self.calls += 1
        if not future.done():
            if done.cancelled():
                future.cancel()
            elif done.exception() is not None:
                future.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                future.set_result(done.result())
        self._dispatch()

    def warm_up(self, fn: Callable[[], Any]) -> None:
        """Start every worker now (imports take seconds) by giving each ``fn`` to run."""
        for _ in range(self._slots):
            self._executor.submit(fn)

    def close(self) -> None:
        """Stop the workers; queued calls are cancelled."""
        for *_, future in self._queue:
            future.cancel()
        self._queue.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
