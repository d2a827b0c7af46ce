"""Nothing dies silently: every background task is restarted after a failure, health names a
task that is down, and the likes buffer stays bounded while its flusher cannot write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from live.domain.errors import Overloaded
from live.realtime import guard
from live.realtime.likes import LikeBuffer
from live.realtime.supervisor import Supervisor
from tests.conftest import make_settings
from tests.helpers import LiveServer, serve

TASKS = ("hub", "likes", "broker", "stage-clock", "socket-guard", "registry", "flagger")


async def test_a_failed_task_is_restarted_and_counted() -> None:
    runs: list[int] = []

    async def flaky(beat: Callable[[], None]) -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError("a bug")
        while True:
            beat()
            await asyncio.sleep(0.01)

    sup = Supervisor(min_backoff=0.01)
    sup.add("flaky", flaky, stale_after=1.0)
    sup.start()
    try:
        async with asyncio.timeout(5):
            while not (sup.health()["flaky"]["up"] and len(runs) == 3):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        health = sup.health()["flaky"]
    finally:
        await sup.stop()
    assert health["restarts"] == 2
    assert health["error"] == "RuntimeError: a bug"


async def test_a_task_that_stops_beating_is_down() -> None:
    now = [0.0]
    stuck = asyncio.Event()

    async def hangs(beat: Callable[[], None]) -> None:
        beat()
        await stuck.wait()

    sup = Supervisor(clock=lambda: now[0])
    sup.add("hangs", hangs, stale_after=2.0)
    sup.start()
    try:
        await asyncio.sleep(0.01)
        assert sup.health()["hangs"]["up"]
        now[0] = 2.5  # fake time: no beat for 2.5 s
        assert not sup.health()["hangs"]["up"]
    finally:
        await sup.stop()


def test_the_like_buffer_refuses_new_devices_when_full() -> None:
    async def never(show: str, batch: dict[str, int]) -> None:
        raise AssertionError("not flushed in this test")

    buffer = LikeBuffer(never, 0.1, max_pending=3)
    for device in ("d1", "d2", "d3"):
        buffer.add("t", device, 5)
    buffer.add("t", "d1", 5)  # a device already waiting adds to its count
    with pytest.raises(Overloaded):
        buffer.add("t", "d4", 1)
    assert buffer.pending == {"t": {"d1": 10, "d2": 5, "d3": 5}}


def _fail(times: int, then: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A step that raises a non-Redis error ``times`` times, then does what it did before."""
    left = [times]

    async def step(*args: Any, **kw: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise RuntimeError("injected bug")
        return await then(*args, **kw)

    return step


def _inject(live: LiveServer, task: str, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    rt = live.rt
    if task == "hub":
        monkeypatch.setattr(rt.hub, "tick", _fail(times, rt.hub.tick))
    elif task == "likes":
        monkeypatch.setattr(rt.likes, "flush", _fail(times, rt.likes.flush))
    elif task == "broker":  # fails on the next events it hands on (the test publishes them)
        left = [times]
        poke = rt.broker._on_event

        def on_event(show: str) -> None:
            if left[0] > 0:
                left[0] -= 1
                raise RuntimeError("injected bug")
            poke(show)

        monkeypatch.setattr(rt.broker, "_on_event", on_event)
    elif task == "stage-clock":
        monkeypatch.setattr(rt.service, "close_expired", _fail(times, rt.service.close_expired))
    elif task == "socket-guard":
        monkeypatch.setattr(guard, "check", _fail(times, guard.check))
    elif task == "registry":
        monkeypatch.setattr(rt.setup, "sync", _fail(times, rt.setup.sync))
    elif task == "flagger":
        assert rt.flagger is not None
        monkeypatch.setattr(rt.flagger, "_step", _fail(times, rt.flagger._step))
    else:
        raise AssertionError(task)


@pytest.mark.parametrize("task", TASKS)
async def test_each_task_comes_back_after_a_bug_and_health_says_so(
    task: str, redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path)) as live:
        async with live.client() as http:
            assert (await http.get("/readyz")).json()["status"] == "ok"
            # Three failures in a row: 0.1 + 0.2 + 0.4 s of backoff, down all along.
            _inject(live, task, monkeypatch, times=3)
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(20):
                while True:
                    reply = await http.get("/readyz")
                    body = reply.json()
                    seen.append(body)
                    restarts = live.rt.supervisor.health()[task]["restarts"]
                    if restarts >= 3 and reply.status_code == 200:
                        break
                    if task == "broker":
                        store = live.rt.store
                        channel = store.keys("t").events
                        if store.cluster:  # the broker listens with SSUBSCRIBE there
                            await store.client.spublish(channel, "t")
                        else:
                            await store.client.publish(channel, "t")
                    await asyncio.sleep(0.02)
    degraded = [b for b in seen if b["status"] == "degraded"]
    assert degraded, f"{task} was never reported down"
    assert degraded[0]["tasks"][task]["up"] is False
    assert degraded[0]["tasks"][task]["error"] == "RuntimeError: injected bug"
    assert seen[-1] == {"status": "ok", "redis": "ok"}


async def test_likes_answer_503_while_the_buffer_is_full(
    redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path)) as live:
        rt = live.rt
        rt.likes.max_pending = 5

        async def broken() -> None:
            raise RuntimeError("the flusher is broken")

        monkeypatch.setattr(rt.likes, "flush", broken)
        answers = []
        for _ in range(8):
            async with live.client(live.cookie()) as http:
                answers.append(await http.post("/api/shows/t/likes", json={"n": 3}))
        assert [a.status_code for a in answers] == [202] * 5 + [503] * 3
        assert answers[-1].json()["error"]["code"] == "overloaded"
        assert "Retry-After" in answers[-1].headers
        assert rt.likes.size == 5
        async with httpx.AsyncClient(base_url=live.url) as http, asyncio.timeout(10):
            while True:  # the flusher fails on every run: health names it
                health = await http.get("/readyz")
                if health.status_code == 503:
                    break
                await asyncio.sleep(0.01)
        assert health.json()["tasks"]["likes"]["up"] is False
        monkeypatch.undo()  # the flusher works again: the waiting taps are counted
        async with asyncio.timeout(10):
            while rt.likes.size:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        state = await live.state("t")
        assert state["likes"]["taps"] == 15
