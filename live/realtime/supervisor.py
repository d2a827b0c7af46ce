"""Every background task of a server process runs under one supervisor.

Guarantees:

- A task that ends with an unexpected exception is logged with its traceback and started again
  after a backoff (0.1 s, doubling per failure in a row, at most ``max_backoff``; back to 0.1 s
  once a run lasted ``healthy_after`` seconds). Expected trouble (Redis away) is handled inside
  each task, which keeps ticking; what reaches the supervisor is a bug, and one bug must not end
  the task for good while the process keeps answering as if all were well.
- Each task says it is alive by calling its ``beat`` once per loop. :meth:`Supervisor.health`
  names a task as down while it waits for its restart, or when it has not beaten within its
  ``stale_after``: ``GET /healthz`` turns that into 503 ``degraded``.
- :meth:`Supervisor.stop` cancels the tasks in reverse order of start and waits a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from live import metrics

log = logging.getLogger("live.supervisor")

Beat = Callable[[], None]
Runner = Callable[[Beat], Awaitable[None]]


@dataclass(slots=True)
class _Task:
    name: str
    run: Runner
    stale_after: float
    task: asyncio.Task[None] | None = None
    up: bool = False
    started: float = 0.0
    last_beat: float = 0.0
    restarts: int = 0
    last_error: str = ""


class Supervisor:
    """Owns named background tasks: starts, restarts, reports and stops them."""

    def __init__(
        self,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        healthy_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.healthy_after = healthy_after
        self._clock = clock
        self._tasks: dict[str, _Task] = {}
        self._stopping = False

    def add(self, name: str, run: Runner, stale_after: float) -> None:
        """Register ``run(beat)``: a coroutine that loops forever and calls ``beat`` each loop.

        ``stale_after``: seconds without a beat after which the task counts as down.
        """
        if name in self._tasks:
            raise ValueError(f"task {name!r} is already supervised")
        self._tasks[name] = _Task(name, run, stale_after)

    def start(self) -> None:
        for entry in self._tasks.values():
            entry.task = asyncio.create_task(self._keep(entry), name=entry.name)

    async def _keep(self, entry: _Task) -> None:
        """Run one task forever: restart it with backoff whenever it fails or returns."""
        backoff = self.min_backoff

        def beat() -> None:
            entry.last_beat = self._clock()

        while True:
            entry.up = True
            metrics.TASK_UP.labels(entry.name).set(1)
            entry.started = entry.last_beat = self._clock()
            try:
                await entry.run(beat)
                why = "returned"
                log.error("task %s returned; restarting it in %.1f s", entry.name, backoff)
            except asyncio.CancelledError:
                entry.up = False
                raise
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                log.exception(
                    "task %s failed; restarting it in %.1f s", entry.name, backoff, exc_info=exc
                )
            entry.up = False
            metrics.TASK_UP.labels(entry.name).set(0)
            entry.last_error = why[:300]
            if self._clock() - entry.started >= self.healthy_after:
                backoff = self.min_backoff
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
            entry.restarts += 1

    def health(self) -> dict[str, dict[str, Any]]:
        """Per task: ``up`` (running and beating), ``restarts``, ``error`` (the last failure),
        ``beat_ms`` (since the last beat)."""
        now = self._clock()
        out: dict[str, dict[str, Any]] = {}
        for name, entry in self._tasks.items():
            since = now - entry.last_beat
            running = entry.task is not None and not entry.task.done() and entry.up
            out[name] = {
                "up": running and since <= entry.stale_after,
                "restarts": entry.restarts,
                "error": entry.last_error,
                "beat_ms": round(since * 1000),
            }
        return out

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (a bound, not a deadline)
        """Cancel every task, newest first; wait at most ``timeout`` for them to end."""
        tasks = [e.task for e in reversed(self._tasks.values()) if e.task is not None]
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=timeout)
        for task in stuck:
            log.error("background task %s did not stop within %.0f s", task.get_name(), timeout)
        for task in tasks:
            if task.done():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
