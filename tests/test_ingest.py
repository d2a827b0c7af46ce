"""Platform events join the show: the chat-vote grammar, Douyin's signed pushes (its published
test vector), de-duplication, caps and windows, per-source tallies, the ledger and `live verify`."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from live.domain.ingest import douyin
from live.domain.ingest.chatvote import parse_vote
from live.redis.ingest import IngestStore
from live.services.ingest import Ingest
from live.settings import DEMO_SHOW
from tests.conftest import make_settings
from tests.helpers import (
    SHOW,
    LiveServer,
    all_entries,
    run_cli,
    serve,
    staff_client,
    staff_login,
    vote_body,
)
from tests.test_a11y import serious, signed_in
from tests.test_browser import browser, chromium  # noqa: F401

SECRET_ENV = "LIVE_INGEST_T__DOUYIN_SECRET"
DOUYIN_SECRET = "douyin-" + "s" * 24
INGEST = f"""
[[ingest]]
platform = "douyin"
room = "268"
category = "cap20"
secret_env = "{SECRET_ENV}"

[[ingest]]
platform = "douyin"
room = "269"
category = "cap1"
secret_env = "{SECRET_ENV}"
"""


def with_ingest(data: Path, extra: str = INGEST) -> Path:
    path = data / "ingest-show.toml"
    data.mkdir(parents=True, exist_ok=True)
    path.write_text(SHOW.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


@pytest.fixture
async def platform_show(
    redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LiveServer]:
    monkeypatch.setenv(SECRET_ENV, DOUYIN_SECRET)
    async with serve(make_settings(redis_url, prefix, tmp_path, with_ingest(tmp_path))) as live:
        yield live


# -- pure ------------------------------------------------------------------------------------


def test_douyins_published_test_vector() -> None:
    headers = {"x-nonce-str": "123456", "x-timestamp": "456789", "x-roomid": "268",
               "x-msg-type": "live_gift"}  # fmt: skip
    assert douyin.signature(headers, "abc123你好".encode(), "123abc") == "PDcKhdlsrKEJif6uMKD2dw=="


@pytest.mark.parametrize(
    ("text", "number"),
    [("投3", "3"), ("投 3", "3"), ("#3", "3"), ("3号", "3"), ("选3", "3"), ("投３", "3"),
     ("＃３", "3"), ("投三", "3"), ("选十", "10"), ("投03", "3"), ("投3号", "3"), ("#A1", "a1"),
     ("666", None), ("3", None), ("我投3", None), ("投3给他", None), ("投", None),
     ("hello", None), ("#", None), ("三", None), ("投十十", None)],
)  # fmt: skip
def test_only_strict_forms_are_chat_votes(text: str, number: str | None) -> None:
    assert parse_vote(text) == number


# -- Douyin pushes ---------------------------------------------------------------------------


def push_headers(body: bytes, msg_type: str, room: str = "268") -> dict[str, str]:
    headers = {"x-nonce-str": secrets.token_hex(4), "x-timestamp": str(int(time.time())),
               "x-roomid": room, "x-msg-type": msg_type}  # fmt: skip
    return {**headers, "x-signature": douyin.signature(headers, body, DOUYIN_SECRET)}


def comment(msg_id: str, user: str, text: str, ts: int = 1_900_000_000) -> dict[str, Any]:
    return {"msg_id": msg_id, "sec_openid": user, "content": text, "nickname": "观众",
            "timestamp": ts}  # fmt: skip


async def push(
    live: LiveServer, msg_type: str, items: list[dict[str, Any]], room: str = "268"
) -> Any:
    body = json.dumps(items, ensure_ascii=False).encode()
    async with live.client() as http:
        return await http.post(
            "/ingest/douyin/t", content=body, headers=push_headers(body, msg_type, room)
        )


async def settled(live: LiveServer, want: Any, show: str = "t") -> dict[str, Any]:
    """The public state once ``want(state)`` holds (the queue is drained right after a 200)."""
    async with asyncio.timeout(10):
        while True:
            state = await live.state(show)
            try:
                if want(state):
                    return state
            except KeyError:  # a platform appears in the snapshot once it is heard from
                pass
            await asyncio.sleep(0.05)


async def test_a_chat_vote_a_like_and_a_gift_land_in_their_places_and_in_the_ledger(
    platform_show: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    live = platform_show
    comments = [comment("c1", "u1", "投2"), comment("c2", "u2", "666"), comment("c3", "u3", "#2")]
    assert (await push(live, "live_comment", comments)).status_code == 200
    likes = [{"msg_id": "l1", "sec_openid": "u1", "like_num": 5, "timestamp": 1_900_000_000}]
    assert (await push(live, "live_like", likes)).status_code == 200
    gifts = [{"msg_id": "g1", "sec_openid": "u2", "gift_num": 2, "timestamp": 1_900_000_000}]
    assert (await push(live, "live_gift", gifts)).status_code == 200
    state = await settled(live, lambda s: s["gifts"].get("douyin") == 2)
    assert state["sources"]["douyin"]["cap20"]["p2"] == 2  # "666" is applause, not a vote
    assert state["tallies"]["cap20"]["p2"] == 0  # the web's votes stay apart
    assert state["likes"]["sources"] == {"douyin": 5}
    kinds = [(e["k"], e.get("src")) for e in await all_entries(live) if e.get("src")]
    assert sorted(kinds) == [("chat", "douyin"), ("chat", "douyin"), ("gift", "douyin"),
                             ("srclike", "douyin")]  # fmt: skip
    entry = next(e for e in await all_entries(live) if e["k"] == "chat")
    assert entry["pu"] != "u1" and "u1" not in json.dumps(entry)  # the user by pseudonym
    code, out, _ = await run_cli(live, monkeypatch, capsys, "verify", "--show", "t")
    assert code == 0, out
    assert "source douyin   votes 2  likes 5  gifts 2" in out


async def test_a_bad_or_missing_signature_is_401_and_counts_nothing(
    platform_show: LiveServer,
) -> None:
    live = platform_show
    body = json.dumps([comment("t1", "u1", "投1")]).encode()
    headers = push_headers(body, "live_comment")
    async with live.client() as http:
        tampered = await http.post("/ingest/douyin/t", content=body.replace(b"1", b"2"),
                                   headers=headers)  # fmt: skip
        unsigned = await http.post(
            "/ingest/douyin/t", content=body, headers={**headers, "x-signature": ""}
        )
        state_reply = await http.get("/api/shows/t")
    for reply in (tampered, unsigned):
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "bad_signature"
    assert state_reply.json()["sources"] == {}  # nothing heard from Douyin


async def test_duplicates_in_one_array_and_across_pushes_count_once(
    platform_show: LiveServer,
) -> None:
    live = platform_show
    once = comment("d1", "u1", "投4")
    assert (await push(live, "live_comment", [once, once])).status_code == 200
    assert (await push(live, "live_comment", [once])).status_code == 200  # the platform retries
    assert (await push(live, "live_comment", [comment("d2", "u9", "投4")])).status_code == 200
    state = await settled(live, lambda s: s["sources"]["douyin"]["cap20"]["p4"] == 2)
    await asyncio.sleep(0.3)  # nothing more is coming: the duplicates were dropped
    assert (await live.state())["sources"]["douyin"]["cap20"]["p4"] == 2
    figures = await live.rt.ingest.store.figures(live.rt.service.show("t"))
    assert figures["douyin"]["duplicates"] == 2 and state["sources"]["douyin"]["cap20"]["p4"] == 2


async def test_caps_per_platform_user_and_closed_categories_hold(platform_show: LiveServer) -> None:
    live = platform_show
    # Room 269 votes in cap1 (one vote per user); the same user three times, another once.
    votes = [comment(f"k{i}", "same-user", f"投{i}") for i in (1, 2, 3)]
    votes.append(comment("k4", "other-user", "投1"))
    assert (await push(live, "live_comment", votes, room="269")).status_code == 200
    state = await settled(live, lambda s: sum(s["sources"]["douyin"]["cap1"].values()) == 2)
    assert state["sources"]["douyin"]["cap1"]["p1"] == 2
    statuses = live.rt.ingest.report("t")[1]["statuses"]
    assert statuses == {"counted": 2, "capped": 2}


async def test_a_slow_consumer_does_not_delay_the_200(platform_show: LiveServer) -> None:
    live = platform_show
    ingest = live.rt.ingest
    gate = asyncio.Event()
    real = ingest.accept

    async def slow(show_id: str, events: list[Any]) -> list[str]:
        await gate.wait()  # counting is stuck (say, a slow Redis) until the test lets go
        return await real(show_id, events)

    ingest.accept = slow  # type: ignore[method-assign]
    try:
        reply = await push(live, "live_comment", [comment("s1", "u1", "投5")])
        assert reply.status_code == 200 and not gate.is_set()  # answered while still stuck
        assert (await live.state())["sources"] == {}  # nothing counted yet
        gate.set()
        await settled(live, lambda s: s["sources"]["douyin"]["cap20"]["p5"] == 1)
    finally:
        ingest.accept = real  # type: ignore[method-assign]


async def test_an_unknown_room_or_an_unset_secret_is_ingest_disabled(
    platform_show: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = await push(platform_show, "live_comment", [comment("x1", "u1", "投1")], room="999")
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "ingest_disabled"
    monkeypatch.delenv(SECRET_ENV)
    reply = await push(platform_show, "live_comment", [comment("x2", "u1", "投1")])
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "ingest_disabled"


async def test_shuffled_pushes_give_the_same_tally(
    redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, DOUYIN_SECRET)
    rng = random.Random(7)
    texts = ["投1", "#2", "3号", "666", "选4"]
    items = [comment(f"m{i}", f"u{rng.randrange(30)}", rng.choice(texts)) for i in range(120)]
    items += items[:20]  # redelivered
    tallies = []
    for run in range(2):
        order = items[:] if run == 0 else rng.sample(items, len(items))
        settings = make_settings(redis_url, f"{prefix}{run}", tmp_path, with_ingest(tmp_path))
        async with serve(settings) as live:
            for start in range(0, len(order), 25):
                assert (
                    await push(live, "live_comment", order[start : start + 25])
                ).status_code == 200
            counted = await settled(
                live, lambda s: sum(s["sources"]["douyin"]["cap20"].values()) > 0
            )
            await asyncio.sleep(0.5)
            counted = await live.state()
            tallies.append(counted["sources"]["douyin"]["cap20"])
    assert tallies[0] == tallies[1] and sum(tallies[0].values()) > 0


async def test_a_chat_vote_typed_before_the_window_opened_is_not_counted(
    platform_show: LiveServer,
) -> None:
    live = platform_show
    show = live.rt.service.show("t")
    await live.rt.store.set_voting(show, "cap20", False)
    await live.rt.store.set_voting(show, "cap20", True)  # the window opens now
    opened = await live.rt.store.now_ms("t")
    early = comment("e1", "u1", "投3", ts=opened // 1000 - 60)  # a minute before: not a vote
    on_time = comment("e2", "u2", "投3", ts=opened // 1000)  # within the 3 s grace
    assert (await push(live, "live_comment", [early, on_time])).status_code == 200
    await settled(live, lambda s: s["sources"]["douyin"]["cap20"]["p3"] == 1)
    statuses = live.rt.ingest.report("t")[0]["statuses"]
    assert statuses == {"early": 1, "counted": 1}


async def test_declared_source_weights_merge_chat_votes_and_the_export_reproduces_it(
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    """cap20's rules count the web's votes once and Douyin's chat votes twice; a published
    result is rebuilt from the export alone, chat votes included."""
    monkeypatch.setenv(SECRET_ENV, DOUYIN_SECRET)
    path = with_ingest(tmp_path)
    rules = 'rules = { preset = "weighted", audience = { sources = { web = 1, douyin = 2 } } }'
    text = path.read_text(encoding="utf-8").replace(
        "votes_per_device = 20\n", f"votes_per_device = 20\n{rules}\n", 1
    )
    path.write_text(text, encoding="utf-8")
    async with serve(make_settings(redis_url, prefix, tmp_path, path)) as live:
        async with live.client(live.cookie()) as http:
            body = vote_body("cap20", "p1", "web-vote-1")
            assert (await http.post("/api/shows/t/votes", json=body)).status_code == 200
        assert (await push(live, "live_comment", [comment("w1", "u1", "投2")])).status_code == 200
        await settled(live, lambda s: s["sources"]["douyin"]["cap20"]["p2"] == 1)
        cookie, csrf = await staff_login(live, "admin")
        async with staff_client(live, cookie, headers={"X-CSRF-Token": csrf}) as http:
            reply = await http.post("/api/shows/t/results/cap20/publish", json={"note": "w"})
            assert reply.status_code == 200, reply.text
            result = (await http.get("/api/shows/t/results/cap20")).json()
        audience = {r["contestant"]: Fraction(r["exact"]["audience"]) for r in result["rows"]}
        assert audience["p2"] == 2 * audience["p1"] > 0  # 1 web vote; 1 chat vote weighed 2
        out = tmp_path / "export"
        args = ["export", "--show", "t", "--out", str(out), "--no-progress"]
        assert (await run_cli(live, monkeypatch, capsys, *args))[0] == 0
        code, report, _ = await run_cli(live, monkeypatch, capsys, "verify", "--export", str(out))
        assert code == 0 and "published       cap20 v1: reproduced from the ledger" in report


async def test_the_demo_show_takes_douyin_pushes_once_its_secret_is_set(
    redis_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_INGEST_DEMO__DOUYIN_SECRET", DOUYIN_SECRET)
    async with serve(make_settings(redis_url, prefix, tmp_path, DEMO_SHOW)) as live:
        body = json.dumps([comment("demo1", "u1", "投3")]).encode()
        async with live.client() as http:
            reply = await http.post(
                "/ingest/douyin/demo",
                content=body,
                headers=push_headers(body, "live_comment", "777"),
            )
            assert reply.status_code == 200, reply.text
        state = await settled(
            live, lambda s: any(s["sources"]["douyin"]["best-display"].values()), show="demo"
        )
        third = next(c for c in live.rt.service.show("demo").contestants if c.label == "03")
        assert state["sources"]["douyin"]["best-display"] == {
            c: int(c == third.id) for c in state["sources"]["douyin"]["best-display"]
        }


async def test_the_admin_console_shows_each_platform_room(
    platform_show: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    live = platform_show
    assert (await push(live, "live_comment", [comment("a1", "u1", "投1")])).status_code == 200
    page = await signed_in(browser, live, "admin", "admin")
    row = page.locator('#platforms tbody tr[data-platform="douyin"]').first
    await expect(page.locator("#platforms-panel")).to_be_visible()
    await expect(row.locator("td").nth(1)).to_have_text("268")
    await expect(row.locator("td").nth(4)).to_have_text("1")  # counted
    await expect(row.locator("td").nth(8)).to_have_text("1 / 0 / 0")
    assert await serious(page) == []
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.goto(f"{live.url}/s/t")
    line = phone.locator('.category[data-category="cap20"] p.source[data-source="douyin"]')
    await expect(line).to_have_text("抖音 Douyin: 01 1")


async def test_pushes_answered_but_not_yet_counted_are_counted_at_shutdown(
    platform_show: LiveServer,
) -> None:
    """What the queue holds when the process stops (each push already answered 200) is
    counted before the store closes: the app's shutdown drains it."""
    live = platform_show
    held = Ingest(live.rt.service, IngestStore(live.rt.store))  # no task draining this one
    body = json.dumps([comment("q1", "u1", "投2"), comment("q2", "u2", "投2")]).encode()
    held.submit("t", douyin.parse_push(push_headers(body, "live_comment"), body))
    assert (await live.state())["sources"] == {}
    assert await held.drain() == 1 and held.queue.empty()
    assert (await live.state())["sources"]["douyin"]["cap20"]["p2"] == 2


async def test_platform_chat_that_is_not_a_vote_joins_the_moderated_comments(
    platform_show: LiveServer,
) -> None:
    live = platform_show
    said = [
        comment("c1", "u1", "主播讲得真好"),
        comment("c2", "u2", "投1"),
        comment("c1", "u1", "主播讲得真好"),
    ]
    assert (await push(live, "live_comment", said)).status_code == 200
    mod, _ = await staff_login(live, "moderator")
    async with asyncio.timeout(10), staff_client(live, mod) as http:
        while True:
            found = (await http.get("/api/shows/t/comments?state=pending")).json()["comments"]
            if found:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a repeat of the same event would have landed by now
        found = (await http.get("/api/shows/t/comments?state=pending")).json()["comments"]
    assert [(c["text"], c["src"]) for c in found] == [("主播讲得真好", "douyin")]  # not the vote
    assert "u1" not in json.dumps(found)  # the platform user by pseudonym
    assert "主播讲得真好" not in json.dumps(await live.state(), ensure_ascii=False)  # pending
