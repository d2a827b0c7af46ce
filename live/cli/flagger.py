"""``live flagger``: the fraud detector in its own process, off the serving processes' CPU.

It reads every show's ledger, keeps the flag clusters in Redis for the moderation console, and
runs until SIGTERM or Ctrl-C. Any number may run: one holds each show's lease at a time, and a
standby takes over within the lease (10 s) when the holder dies. ``live demo`` starts one; the
Procfile lists one; ``LIVE_FLAGGER=inline`` runs it inside ``live serve`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

from live.domain.errors import ConfigError
from live.domain.show import load_shows
from live.realtime.flagger import LEASE_MS, Flagger
from live.realtime.supervisor import Supervisor
from live.redis.embedded import find_running
from live.redis.moderation import ModerationStore
from live.redis.store import close_client, open_store
from live.settings import Settings

WAIT_FOR_REDIS_S = 30.0
"""``live demo`` starts this process beside its embedded Redis: how long to wait for it."""


async def run_flagger(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the flagger until ``stop`` is set (or a signal arrives); its tasks are supervised
    (restarted with backoff when they fail), and their health is logged when it changes."""
    shows = load_shows(settings.show_files)
    url = settings.redis_url
    deadline = time.monotonic() + WAIT_FOR_REDIS_S
    while url is None:
        url = find_running(settings.data_dir)
        if url is None:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"no REDIS_URL and no running server with data in {settings.data_dir}"
                )
            await asyncio.sleep(0.2)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    store = open_store(settings, url, 4)
    supervisor = Supervisor()
    stale = max(5.0, 3 * settings.redis_timeout_ms / 1000) + 2 * LEASE_MS / 1000
    supervisor.add("flagger", Flagger(shows, store, ModerationStore(store)).run, stale)
    supervisor.start()
    print(f"live flagger: following {', '.join(shows)} on {url.split('@')[-1]}", flush=True)
    try:
        last = ""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # first check after a second: a beat
                async with asyncio.timeout(1.0):
                    await stop.wait()
            health = supervisor.health()["flagger"]
            state = "up" if health["up"] else f"down ({health['error'] or 'no beat'})"
            if state != last:  # a change of health is worth a line; a steady state is not
                print(f"live flagger: {state}", flush=True)
                last = state
    finally:
        await supervisor.stop(5)
        await close_client(store.client)
    return 0
