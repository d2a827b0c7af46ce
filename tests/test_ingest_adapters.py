"""The bilibili and Twitch adapters against local fakes that speak the platforms' protocols:
signed calls, compressed packets, auth failure, heartbeat timeout, a connection dropped in the
middle of a batch, reconnect messages, duplicate ids. Real sockets on loopback throughout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import live.ingest.bilibili as bili_adapter
import live.ingest.link as link
from live.domain.ingest import bilibili as proto
from tests.conftest import make_settings
from tests.fake_platforms import (
    FakeBilibili,
    FakeTwitch,
    chat,
    cheer,
    dm,
    frame,
    gift,
    like,
    running,
)
from tests.helpers import SHOW, LiveServer, run_cli, serve

KEY_ID, SECRET, CODE = "key-id-1", "bili-secret-" + "x" * 20, "STREAMER-CODE"
CLIENT_ID, TOKEN = "twitch-client", "twitch-token-" + "y" * 16


@pytest.fixture(autouse=True)
def quick_protocols(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats, silence limits and backoff in tenths of a second instead of tens."""
    monkeypatch.setattr(bili_adapter, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(bili_adapter, "PROJECT_HEARTBEAT_S", 0.3)
    monkeypatch.setattr(bili_adapter, "SILENCE_S", 0.8)
    monkeypatch.setattr(link, "BACKOFF_MIN", 0.05)
    monkeypatch.setattr(link, "BACKOFF_MAX", 0.2)
    monkeypatch.setenv("LIVE_INGEST_T__BILI_KEY", KEY_ID)
    monkeypatch.setenv("LIVE_INGEST_T__BILI_SECRET", SECRET)
    monkeypatch.setenv("LIVE_INGEST_T__BILI_CODE", CODE)
    monkeypatch.setenv("LIVE_INGEST_T__TWITCH_CLIENT", CLIENT_ID)
    monkeypatch.setenv("LIVE_INGEST_T__TWITCH_TOKEN", TOKEN)


@asynccontextmanager
async def platform_show(
    redis_url: str, prefix: str, tmp_path: Path, app: Starlette, section: Callable[[int], str]
) -> AsyncIterator[tuple[int, LiveServer]]:
    """A fake platform on loopback and a live server whose show lists its room."""
    async with running(app) as port:
        path = tmp_path / "platform-show.toml"
        path.write_text(SHOW.read_text(encoding="utf-8") + section(port), encoding="utf-8")
        fake = frozenset({f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"})
        settings = make_settings(redis_url, prefix, tmp_path, path, ingest_endpoints=fake)
        async with serve(settings) as live:
            yield port, live


@pytest.fixture
async def bilibili(
    redis_url: str, prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[FakeBilibili, LiveServer]]:
    fake = FakeBilibili(KEY_ID, SECRET, CODE)

    def section(port: int) -> str:
        fake.port = port
        return f"""
[[ingest]]
platform = "bilibili"
room = "1"
category = "cap20"
app_id = 1234
key_id_env = "LIVE_INGEST_T__BILI_KEY"
secret_env = "LIVE_INGEST_T__BILI_SECRET"
code_env = "LIVE_INGEST_T__BILI_CODE"
url = "http://127.0.0.1:{port}"
"""

    async with platform_show(redis_url, prefix, tmp_path, fake.app(), section) as (_, live):
        yield fake, live


@pytest.fixture
async def twitch(
    redis_url: str, prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[FakeTwitch, LiveServer]]:
    fake = FakeTwitch(CLIENT_ID, TOKEN, keepalive_s=1)

    def section(port: int) -> str:
        fake.port = port
        return f"""
[[ingest]]
platform = "twitch"
room = "4242"
category = "cap20"
client_id_env = "LIVE_INGEST_T__TWITCH_CLIENT"
token_env = "LIVE_INGEST_T__TWITCH_TOKEN"
url = "ws://127.0.0.1:{port}/ws"
api = "http://127.0.0.1:{port}"
"""

    async with platform_show(redis_url, prefix, tmp_path, fake.app(), section) as (_, live):
        yield fake, live


async def until(check: Callable[[], Any], wait: float = 10.0) -> None:
    async with asyncio.timeout(wait):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def chat_votes(live: LiveServer, platform: str) -> dict[str, int]:
    state = await live.state()
    found: dict[str, int] = state["sources"].get(platform, {}).get("cap20", {})
    return found


async def test_bilibili_plain_zlib_and_brotli_packets_are_counted_and_verified(
    bilibili: tuple[FakeBilibili, LiveServer], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    fake, live = bilibili
    await asyncio.wait_for(fake.connected.wait(), 10)
    await fake.frames.put(frame([dm("b1", "o1", "投1"), dm("b2", "o2", "666")], proto.PLAIN))
    await fake.frames.put(frame([dm("b3", "o3", "#2"), like("b4", "o1", 7)], proto.ZLIB))
    await fake.frames.put(frame([dm("b5", "o4", "3号"), gift("b6", "o2", 3)], proto.BROTLI))

    async def all_in() -> bool:
        state = await live.state()
        return bool(state["gifts"].get("bilibili") == 3 and state["likes"]["sources"])

    await until(all_in)
    state = await live.state()
    assert {c: n for c, n in state["sources"]["bilibili"]["cap20"].items() if n} == {
        "p1": 1, "p2": 1, "p3": 1
    }  # fmt: skip
    assert state["likes"]["sources"] == {"bilibili": 7}
    # Both heartbeats ran, and every call to the open platform was signed correctly.
    await until(lambda: _true(fake.project_heartbeats >= 1 and fake.socket_heartbeats >= 1))
    assert fake.refused_signatures == 0 and fake.starts == 1
    report = live.rt.ingest.report("t")[0]
    assert report["connected"] and report["counted"] == 5
    code, out, _ = await run_cli(live, monkeypatch, capsys, "verify", "--show", "t")
    assert code == 0 and "source bilibili votes 3  likes 7  gifts 3" in out, out


async def _true(value: bool) -> bool:
    return value


async def test_bilibili_auth_failure_is_reported_and_retried(
    bilibili: tuple[FakeBilibili, LiveServer],
) -> None:
    fake, live = bilibili
    await asyncio.wait_for(fake.connected.wait(), 10)
    fake.auth_ok = False
    await fake.frames.put(None)  # drop the socket: the next session's auth is refused
    state = live.rt.ingest.report

    await until(lambda: _true("auth refused" in state("t")[0]["error"]))
    assert not state("t")[0]["connected"] and fake.ends >= 1  # each session was ended
    fake.auth_ok = True
    await asyncio.wait_for(fake.connected.wait(), 10)
    await until(lambda: _true(state("t")[0]["connected"]))
    assert state("t")[0]["reconnects"] >= 2


async def test_bilibili_silence_past_the_heartbeat_starts_a_new_session(
    bilibili: tuple[FakeBilibili, LiveServer],
) -> None:
    fake, live = bilibili
    await asyncio.wait_for(fake.connected.wait(), 10)
    fake.answer_heartbeats = False  # the socket stays open but says nothing
    await until(lambda: _true(fake.starts >= 2))
    assert "no message" in live.rt.ingest.report("t")[0]["error"]
    fake.answer_heartbeats = True
    await fake.frames.put(frame([dm("s1", "o1", "投4")]))
    await until(lambda: _counted(live, "bilibili", "p4", 1))


async def _counted(live: LiveServer, platform: str, who: str, n: int) -> bool:
    return (await chat_votes(live, platform)).get(who) == n


async def test_bilibili_a_batch_cut_mid_way_and_sent_again_counts_each_vote_once(
    bilibili: tuple[FakeBilibili, LiveServer],
) -> None:
    fake, live = bilibili
    await asyncio.wait_for(fake.connected.wait(), 10)
    batch = [dm(f"m{i}", f"user{i}", "投5") for i in range(6)]
    await fake.frames.put(frame(batch[:3], proto.ZLIB))
    await fake.frames.put(None)  # the connection drops before the rest of the batch
    await until(lambda: _counted(live, "bilibili", "p5", 3))
    await asyncio.wait_for(fake.connected.wait(), 10)  # the adapter came back
    await fake.frames.put(frame(batch, proto.BROTLI))  # at least once: all six again
    await fake.frames.put(frame(batch[4:], proto.PLAIN))  # and some a third time
    await until(lambda: _counted(live, "bilibili", "p5", 6))
    await asyncio.sleep(0.3)
    assert (await chat_votes(live, "bilibili"))["p5"] == 6
    assert live.rt.ingest.report("t")[0]["duplicates"] == 5


async def test_twitch_chat_votes_duplicates_and_a_reconnect_message(
    twitch: tuple[FakeTwitch, LiveServer], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    fake, live = twitch
    await asyncio.wait_for(fake.connected.wait(), 10)
    await until(lambda: _true(len(fake.subscriptions) == 2))
    assert {s["type"] for s in fake.subscriptions} == {"channel.chat.message", "channel.cheer"}
    assert {s["condition"]["broadcaster_user_id"] for s in fake.subscriptions} == {"4242"}
    assert {s["transport"]["session_id"] for s in fake.subscriptions} == {"session-1"}
    await fake.frames.put(chat("t1", "v1", "#1"))
    await fake.frames.put(chat("t1", "v1", "#1"))  # delivered twice
    await fake.frames.put(chat("t2", "v2", "lol"))
    await until(lambda: _counted(live, "twitch", "p1", 1))
    await fake.frames.put("reconnect")
    await fake.frames.put(chat("t3", "v3", "#2"))  # on the new socket
    await fake.frames.put(chat("t1", "v1", "#1"))  # a redelivery across sessions
    await fake.frames.put(cheer("t4", "v4", 100))  # a gift of 100 bits
    await until(lambda: _counted(live, "twitch", "p2", 1))
    assert fake.sessions == 2 and len(fake.subscriptions) == 2  # moved, not subscribed again
    assert (await chat_votes(live, "twitch"))["p1"] == 1
    await until(lambda: _gifts(live, "twitch", 100))
    code, out, _ = await run_cli(live, monkeypatch, capsys, "verify", "--show", "t")
    assert code == 0 and "source twitch   votes 2  likes 0  gifts 100" in out, out


async def _gifts(live: LiveServer, platform: str, n: int) -> bool:
    gifts: dict[str, int] = (await live.state())["gifts"]
    return gifts.get(platform) == n


async def test_twitch_silence_past_the_keepalive_reconnects(
    twitch: tuple[FakeTwitch, LiveServer],
) -> None:
    fake, live = twitch
    await asyncio.wait_for(fake.connected.wait(), 10)
    # keepalive 1 s + a 5 s margin: the adapter gives the silent socket up and starts again.
    await until(lambda: _true(fake.sessions >= 2), wait=15)
    await until(lambda: _true(len(fake.subscriptions) >= 4))  # both kinds, on each session
    assert "no message" in live.rt.ingest.report("t")[0]["error"]
