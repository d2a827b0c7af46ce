"""Comments: the Chinese word filter (evasions, allowed phrases, masking, patterns), posting
(length, caps with a fake clock, repeats, idempotency), moderation (approve, reject, ban), live
word-list edits, and what reaches viewers and the overlay (approved comments only)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from live.domain.wordfilter import WordFilter, read_list
from live.redis.comments import CommentStore
from live.services.comments import Comments
from tests.conftest import make_settings
from tests.helpers import SHOW, LiveServer, serve, snapshot_where, staff_client, staff_login
from tests.test_a11y import serious, signed_in
from tests.test_browser import browser, chromium  # noqa: F401

WORDS = ["赌博", "刷票", "法轮功", "sb"]
ALLOWED = ["反赌博", "读博"]


def comments_show(data: Path, moderation: str = "pre", per_minute: int = 6) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    words = data / "words.txt"
    words.write_text("\n".join([*WORDS, *(f"!{a}" for a in ALLOWED)]) + "\n", encoding="utf-8")
    path = data / "comments-show.toml"
    extra = (
        f'\n[comments]\nmoderation = "{moderation}"\nper_minute = {per_minute}\n'
        f'repeat_seconds = 30\nshown = 5\nwordlists = ["words.txt"]\n'
    )
    path.write_text(SHOW.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


@pytest.fixture
async def live(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(redis_url, prefix, tmp_path, comments_show(tmp_path))
    async with serve(settings) as server:
        yield server


def cid() -> str:
    return secrets.token_hex(8)


async def post(live: LiveServer, cookie: str, text: str, comment_id: str = "") -> Any:
    async with live.client(cookie) as http:
        return await http.post(
            "/api/shows/t/comments", json={"text": text, "comment_id": comment_id or cid()}
        )


# -- the filter (pure) -------------------------------------------------------------------------

FILTER = WordFilter(WORDS, ALLOWED)

EVASIONS = [
    ("賭博", "traditional"),
    ("ＳＢ", "full-width"),
    ("赌 博", "a space between"),
    ("赌\u200b博", "a zero-width space between"),
    ("赌.博", "a symbol between"),
    ("赌★博", "a star between"),
    ("赌赌赌博博", "repeated characters"),
    ("dubo", "pinyin"),
    ("ＤＵ ＢＯ", "full-width pinyin with a space"),
    ("du博", "pinyin mixed with a character"),
    ("堵博", "a homophone"),
    ("肚搏", "homophones of both characters"),
    ("发轮功", "a homophone in a three-character word"),
    ("刷 刷 票 票", "spaced and repeated"),
    ("S b", "mixed case with a space"),
]


@pytest.mark.parametrize(("text", "how"), EVASIONS, ids=[how for _, how in EVASIONS])
def test_every_evasion_of_a_listed_word_is_caught(text: str, how: str) -> None:
    verdict = FILTER.check(f"大家好{text}呀")
    assert verdict.reason == "word", how
    assert verdict.masked() == "大家好" + "*" * len(text) + "呀"


@pytest.mark.parametrize("text", ["反赌博宣传周", "我在读博士", "上海很好", "shang hai", "加油3号"])
def test_allowed_phrases_and_ordinary_chat_are_not_caught(text: str) -> None:
    assert FILTER.check(text).clean, FILTER.check(text).hits


def test_a_word_listed_with_equals_is_matched_as_written_but_not_by_sound() -> None:
    exact = WordFilter(["=赌博", "刷票"])
    assert exact.check("去賭 博").reason == "word"  # folding still applies
    assert exact.check("堵博").clean and exact.check("dubo").clean
    assert exact.check("shua piao").reason == "word"  # the other word still by sound
    assert WordFilter(["=赌博", "赌博"]).check("堵博").clean  # listed exact once: exact


def test_a_listed_word_outside_an_allowed_phrase_is_still_caught() -> None:
    verdict = FILTER.check("反赌博，但我去赌博")
    assert [(h.start, h.end) for h in verdict.hits] == [(7, 9)]
    assert verdict.masked() == "反赌博，但我去**"


def test_masking_offsets_point_into_the_original_text() -> None:
    text = "前面ｓ b中间賭  博后面dubo尾"
    verdict = FILTER.check(text)
    spans = [text[h.start : h.end] for h in verdict.hits]
    assert spans == ["ｓ b", "賭  博", "dubo"]
    assert verdict.masked() == "前面***中间****后面****尾"
    assert verdict.masked().replace("*", "") == "前面中间后面尾"


@pytest.mark.parametrize(
    ("text", "reason", "span"),
    [
        ("看这里 www.example.com 好", "link", "www.example.com"),
        ("http://a.b/c", "link", "http://a.b/c"),
        ("abc点com有奖", "link", "abc点com"),
        ("电话138 0013 8000找我", "phone", "138 0013 8000"),
        ("一三八〇〇一三八〇〇〇", "phone", "一三八〇〇一三八〇〇〇"),
        ("加我QQ：123456789", "qq", "QQ：123456789"),
        ("扣扣 5566778", "qq", "扣扣 5566778"),
    ],
)
def test_links_phone_and_qq_numbers_are_blocked_by_pattern(
    text: str, reason: str, span: str
) -> None:
    verdict = WordFilter([]).check(text)
    assert verdict.reason == reason
    assert [text[h.start : h.end] for h in verdict.hits] == [span]


def test_a_word_list_file_lists_words_and_allows_phrases() -> None:
    words, allowed, problems = read_list("# mine\n赌博\n!反赌博\n\n" + "长" * 41 + "\n!!!\n")
    assert (words, allowed) == (["赌博"], ["反赌博"])
    assert problems == ["line 5: longer than 40 characters", "line 6: no letters, digits or "
                        "Chinese characters"]  # fmt: skip


# -- posting -------------------------------------------------------------------------------------


async def test_a_clean_comment_is_pending_and_a_listed_one_rejected_with_its_reason(
    live: LiveServer,
) -> None:
    cookie = live.cookie()
    ok = await post(live, cookie, "  好棒的\n展示  ")
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "pending" and ok.json()["reason"] == ""
    bad = await post(live, cookie, "来賭 博")
    assert bad.status_code == 200
    assert (bad.json()["state"], bad.json()["reason"]) == ("rejected", "word")
    admin, _ = await staff_login(live, "moderator")
    async with staff_client(live, admin) as http:
        pending = (await http.get("/api/shows/t/comments?state=pending")).json()
        rejected = (await http.get("/api/shows/t/comments?state=rejected")).json()
    assert [c["text"] for c in pending["comments"]] == ["好棒的 展示"]
    assert [(c["text"], c["masked"]) for c in rejected["comments"]] == [("来賭 博", "来***")]
    assert pending["counts"] == {"pending": 1, "approved": 0, "rejected": 1, "banned": 0}
    assert cookie not in json.dumps(pending) + json.dumps(rejected)  # a pseudonym, not the id


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "x" * 61, "comment_id": "c" * 16}, "bad_request"),
        ({"text": "   ", "comment_id": "c" * 16}, "bad_request"),
        ({"text": "hi"}, "bad_request"),
        ({"text": "hi", "comment_id": "short"}, "bad_request"),
        ({"text": 5, "comment_id": "c" * 16}, "bad_request"),
    ],
)
async def test_bad_comments_are_400_with_a_code(
    live: LiveServer, body: dict[str, Any], code: str
) -> None:
    async with live.client(live.cookie()) as http:
        reply = await http.post("/api/shows/t/comments", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == code


async def test_posting_needs_a_device_cookie_and_the_show_s_origin(live: LiveServer) -> None:
    async with live.client() as http:
        reply = await http.post("/api/shows/t/comments", json={"text": "hi", "comment_id": cid()})
    assert reply.status_code == 401
    async with live.client(live.cookie()) as http:
        reply = await http.post(
            "/api/shows/t/comments",
            json={"text": "hi", "comment_id": cid()},
            headers={"Origin": "https://evil.example"},
        )
    assert reply.status_code == 403


async def test_a_retry_with_the_same_comment_id_is_the_same_comment(live: LiveServer) -> None:
    cookie, same = live.cookie(), cid()
    first = (await post(live, cookie, "第一次", same)).json()
    again = (await post(live, cookie, "第一次", same)).json()
    assert first == again
    other = (await post(live, live.cookie(), "第一次", same)).json()  # another phone, same id
    assert other["id"] != first["id"] and other["state"] == "pending"


async def test_the_minute_cap_and_the_repeat_window_follow_the_clock(live: LiveServer) -> None:
    now = [1_800_000_000.0]  # a fake clock on the service's side (Redis's clock is not used)
    comments = Comments(live.rt.service, CommentStore(live.rt.store), clock=lambda: now[0])
    device = "device-" + cid()

    async def say(text: str) -> str:
        return (await comments.post("t", {"text": text, "comment_id": cid()}, device)).state

    assert await say("重复的话") == "pending"
    assert await say("重复的话") == "dropped"  # the same text within 30 s
    now[0] += 31
    assert await say("重复的话") == "pending"
    for i in range(4):  # with the two above: six in this minute
        assert await say(f"第{i}句") == "pending"
    with pytest.raises(Exception, match="at most 6 comments a minute") as refused:
        await say("第七句")
    assert refused.value.code == "comment_limited"  # type: ignore[attr-defined]
    now[0] = (now[0] // 60 + 1) * 60  # the next minute
    assert await say("新的一分钟") == "pending"


async def test_the_minute_cap_is_a_429_with_retry_after_over_http(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, comments_show(tmp_path, per_minute=2))
    async with serve(settings) as live:
        cookie = live.cookie()
        codes = [(await post(live, cookie, f"话{i}")).status_code for i in range(3)]
        assert codes[:2] == [200, 200]
        if codes[2] == 200:  # the first two straddled a minute: the third is in a fresh one
            codes.append((await post(live, cookie, "话3")).status_code)
        limited = await post(live, cookie, "话4")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "comment_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


# -- moderation and what leaves the server ---------------------------------------------------------


async def test_only_approved_comments_reach_viewers_and_the_overlay(live: LiveServer) -> None:
    cookie = live.cookie()
    mod, csrf = await staff_login(live, "moderator")
    async with live.connect("t") as viewer:
        seen: list[str] = []

        async def frames() -> None:
            while True:
                seen.append(str(await viewer.recv()))

        reader = asyncio.create_task(frames())
        good = (await post(live, cookie, "选手们加油")).json()
        await post(live, cookie, "来刷票吧")  # rejected by the filter
        waiting = (await post(live, cookie, "还在等审核")).json()
        secret = (await post(live, cookie, "这条会被拒绝")).json()
        async with staff_client(live, mod, headers={"x-csrf-token": csrf}) as http:
            ok = await http.post(f"/api/shows/t/comments/{good['id']}", json={"op": "approve"})
            assert ok.status_code == 200, ok.text
            no = await http.post(f"/api/shows/t/comments/{secret['id']}", json={"op": "reject"})
            assert no.json()["comment"]["state"] == "rejected"
        state = await live.state()
        for _ in range(50):
            if any("选手们加油" in f for f in seen):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
    assert [c["text"] for c in state["comments"]] == ["选手们加油"]
    everything = "".join(seen) + json.dumps(state, ensure_ascii=False)
    assert "选手们加油" in everything
    for hidden in ("刷票", "还在等审核", "这条会被拒绝", waiting["id"], secret["id"]):
        assert hidden not in everything


async def test_a_ban_rejects_the_device_s_pending_comments_and_refuses_its_next(
    live: LiveServer,
) -> None:
    spammer, other = live.cookie(), live.cookie()
    first = (await post(live, spammer, "广告一")).json()
    await post(live, spammer, "广告二")
    kept = (await post(live, other, "正常发言")).json()
    mod, csrf = await staff_login(live, "moderator")
    async with staff_client(live, mod, headers={"x-csrf-token": csrf}) as http:
        ban = await http.post(
            f"/api/shows/t/comments/{first['id']}", json={"op": "ban", "reason": "spam"}
        )
        assert ban.status_code == 200, ban.text
        assert ban.json()["also_rejected"] == 1
        pending = (await http.get("/api/shows/t/comments?state=pending")).json()
        log = (await http.get("/api/shows/t/moderation-log")).json()["actions"]
    assert [c["id"] for c in pending["comments"]] == [kept["id"]]
    assert pending["counts"]["banned"] == 1
    assert (log[-1]["op"], log[-1]["why"], log[-1]["ref"]) == ("comment_ban", "spam", first["id"])
    assert log[-1]["by"].startswith("moderator:")
    refused = await post(live, spammer, "我又来了")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "comment_banned"
    assert (await post(live, other, "我还能说")).status_code == 200


async def test_a_listed_word_added_live_applies_to_the_next_comment(live: LiveServer) -> None:
    cookie = live.cookie()
    assert (await post(live, cookie, "拉票群")).json()["state"] == "pending"
    admin, csrf = await staff_login(live, "admin")
    async with staff_client(live, admin, headers={"x-csrf-token": csrf}) as http:
        edit = await http.post(
            "/api/shows/t/wordlist", json={"add": ["拉票"], "allow": ["赌博默认"]}
        )
        assert edit.status_code == 200, edit.text
        assert edit.json()["added"] == ["拉票"]
    assert (await post(live, cookie, "拉 票 群")).json()["reason"] == "word"
    assert (await post(live, cookie, "la piao")).json()["reason"] == "word"
    assert (await post(live, cookie, "赌博默认")).json()["state"] == "pending"
    async with staff_client(live, admin, headers={"x-csrf-token": csrf}) as http:
        await http.post("/api/shows/t/wordlist", json={"remove": ["拉票"]})
    assert (await post(live, cookie, "拉票吧")).json()["state"] == "pending"


async def test_roles_guard_the_queue_and_the_lists(live: LiveServer) -> None:
    judge, jcsrf = await staff_login(live, "judge")
    mod, mcsrf = await staff_login(live, "moderator")
    async with staff_client(live, judge, headers={"x-csrf-token": jcsrf}) as http:
        assert (await http.get("/api/shows/t/comments")).status_code == 403
    async with staff_client(live, mod, headers={"x-csrf-token": mcsrf}) as http:
        assert (await http.get("/api/shows/t/comments?state=nope")).status_code == 400
        words = await http.post("/api/shows/t/wordlist", json={"add": ["x"]})
        assert words.status_code == 403
        unknown = await http.post("/api/shows/t/comments/nope", json={"op": "approve"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_comment"
    async with live.client() as http:
        assert (await http.get("/api/shows/t/comments")).status_code == 401


async def test_a_comment_over_the_viewer_socket_is_answered_with_its_state(
    live: LiveServer,
) -> None:
    async with live.connect("t", live.cookie()) as ws:
        await ws.send(
            json.dumps({"type": "comment", "text": "太厉害了", "comment_id": "ws-1234567"})
        )
        await ws.send(
            json.dumps({"type": "comment", "text": "x" * 100, "comment_id": "ws-2345678"})
        )
        replies: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while len(replies) < 2:
                msg = json.loads(await ws.recv())
                if msg["type"] in ("comment_result", "error"):
                    replies.append(msg)
    assert replies[0]["type"] == "comment_result" and replies[0]["state"] == "pending"
    assert replies[0]["comment_id"] == "ws-1234567"
    assert (replies[1]["type"], replies[1]["code"]) == ("error", "bad_request")
    assert replies[1]["comment_id"] == "ws-2345678"


async def test_the_overlay_gets_the_danmaku_layer_and_pinned_messages(live: LiveServer) -> None:
    cookie = live.cookie()
    posted = (await post(live, cookie, "置顶这条")).json()
    admin, csrf = await staff_login(live, "admin")
    async with staff_client(live, admin, headers={"x-csrf-token": csrf}) as http:
        early = await http.post("/api/shows/t/danmaku", json={"pin": posted["id"]})
        assert early.status_code == 404  # not approved yet
        await http.post(f"/api/shows/t/comments/{posted['id']}", json={"op": "approve"})
        done = await http.post(
            "/api/shows/t/danmaku", json={"pin": posted["id"], "density": 3, "enabled": False}
        )
        assert done.json() == {
            "enabled": False,
            "density": 3,
            "pinned": [{"id": posted["id"], "text": "置顶这条"}],
        }
        async with live.connect_staff(admin, live.url) as ws:
            snap = await snapshot_where(ws, lambda s: s.get("danmaku", {}).get("density") == 3)
        assert snap["danmaku"]["pinned"][0]["text"] == "置顶这条"
        await http.post(f"/api/shows/t/comments/{posted['id']}", json={"op": "reject"})
        after = await http.post("/api/shows/t/danmaku", json={"enabled": True})
        assert after.json()["pinned"] == []  # a rejected comment leaves the pins
    assert "置顶这条" not in json.dumps(await live.state(), ensure_ascii=False)


# -- in the browser ------------------------------------------------------------------------------


async def test_the_moderator_console_drives_the_queue_by_keyboard(
    live: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    fan, spammer = live.cookie(), live.cookie()
    for cookie, text in ((fan, "第一条好评"), (spammer, "第二条广告"), (spammer, "第三条广告"),
                         (fan, "第四条留言")):  # fmt: skip
        assert (await post(live, cookie, text)).json()["state"] == "pending"
    page = await signed_in(browser, live, "moderator", "moderate")
    queue = page.locator("#comment-queue li")
    await expect(queue).to_have_count(4)
    await expect(page.locator("#comment-queue li.selected .text")).to_have_text("第一条好评")
    await page.keyboard.press("a")  # approve the first
    await expect(queue).to_have_count(3)
    await expect(page.locator("#comment-queue li.selected .text")).to_have_text("第二条广告")
    await page.keyboard.press("/")
    await page.keyboard.type("spam")
    await page.keyboard.press("Escape")
    await page.keyboard.press("b")  # ban the spammer: its other pending comment goes too
    await expect(queue).to_have_count(1)
    await expect(page.locator("#comment-queue li.selected .text")).to_have_text("第四条留言")
    await page.keyboard.press("j")  # nothing below: the selection stays
    await page.keyboard.press("r")
    await expect(page.locator("#comment-empty")).to_be_visible()
    assert await serious(page) == []
    mod, _ = await staff_login(live, "moderator")
    async with staff_client(live, mod) as http:
        approved = (await http.get("/api/shows/t/comments?state=approved")).json()
        rejected = (await http.get("/api/shows/t/comments?state=rejected")).json()
        log = (await http.get("/api/shows/t/moderation-log")).json()["actions"]
    assert [c["text"] for c in approved["comments"]] == ["第一条好评"]
    assert sorted((c["text"], c["reason"]) for c in rejected["comments"]) == [
        ("第三条广告", "banned"), ("第二条广告", "moderator"), ("第四条留言", "moderator")
    ]  # fmt: skip
    assert approved["counts"]["banned"] == 1
    assert [(a["op"], a["why"]) for a in log] == [
        ("comment_approve", ""), ("comment_ban", "spam"), ("comment_reject", "spam")
    ]  # fmt: skip
    assert (await post(live, spammer, "还想发")).status_code == 403


async def test_approved_comments_reach_the_overlay_and_the_phone_sees_its_own_as_pending(
    live: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    phone = await browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
    await phone.goto(f"{live.url}/s/t")
    await phone.fill("#comment-text", "现场太精彩了")
    await phone.click("#comment-send")
    mine = phone.locator("#comment-strip li.pending")
    await expect(mine.locator(".text")).to_have_text("现场太精彩了")
    await expect(mine.locator(".badge")).to_have_text("审核中")
    await phone.reload()  # still the sender's own, still pending
    await expect(phone.locator("#comment-strip li.pending .text")).to_have_text("现场太精彩了")
    await phone.fill("#comment-text", "一起来赌博")
    await phone.click("#comment-send")
    await expect(phone.locator("#toast")).to_contain_text("这条评论不能发布")
    assert await serious(phone) == []

    key = await live.rt.sessions.overlay_key("t")
    overlay = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await overlay.goto(f"{live.url}/overlay/t?key={key}")
    mod, csrf = await staff_login(live, "moderator")
    async with staff_client(live, mod, headers={"x-csrf-token": csrf}) as http:
        pending = (await http.get("/api/shows/t/comments?state=pending")).json()["comments"]
        assert [c["text"] for c in pending] == ["现场太精彩了"]
        await http.post(f"/api/shows/t/comments/{pending[0]['id']}", json={"op": "approve"})
    flying = overlay.locator("#ov-danmaku .ov-dm")
    await expect(flying).to_have_text(["现场太精彩了"])
    await expect(phone.locator("#comment-strip li:not(.pending) .text")).to_have_text(
        "现场太精彩了"
    )
    await expect(phone.locator("#comment-strip li.pending")).to_have_count(0)
    assert "赌博" not in await overlay.content()
    assert "赌博" not in await phone.locator("#comment-strip").inner_text()


async def test_approved_comments_travel_once_not_in_every_push(live: LiveServer) -> None:
    mod, csrf = await staff_login(live, "moderator")
    posted = (await post(live, live.cookie(), "只发一次的评论")).json()
    async with staff_client(live, mod, headers={"x-csrf-token": csrf}) as http:
        await http.post(f"/api/shows/t/comments/{posted['id']}", json={"op": "approve"})
    frames: list[dict[str, Any]] = []
    cookie = live.cookie()
    async with live.connect("t", cookie) as ws:
        async with asyncio.timeout(5):
            while len(frames) < 3:  # show, comments, snapshot
                frames.append(json.loads(await ws.recv()))
        assert [f["type"] for f in frames] == ["show", "comments", "snapshot"]
        assert frames[1]["comments_rev"] == frames[2]["comments_rev"] != ""
        assert [c["text"] for c in frames[1]["comments"]] == ["只发一次的评论"]
        for i in range(3):  # votes move the version: snapshots, not the comments again
            await ws.send(json.dumps({"type": "vote", "category": "cap20", "contestant": "p1",
                                      "vote_id": f"once-{i:04d}"}))  # fmt: skip
        after: list[dict[str, Any]] = []
        target = frames[2]["version"] + 3
        async with asyncio.timeout(5):
            while not (
                after and after[-1]["type"] == "snapshot" and after[-1]["version"] >= target
            ):
                after.append(json.loads(await ws.recv()))
    later = after[-1]
    assert later["comments_rev"] == frames[1]["comments_rev"]
    assert "comments" not in later
    assert "comments" not in [f["type"] for f in after]  # sent once, on connect
    whole = await live.state()  # pages and the JSON API get the whole state, comments in it
    assert [c["text"] for c in whole["comments"]] == ["只发一次的评论"]


async def test_at_most_three_messages_are_pinned_the_oldest_leaving_first(
    live: LiveServer,
) -> None:
    admin, csrf = await staff_login(live, "admin")
    ids = []
    async with staff_client(live, admin, headers={"x-csrf-token": csrf}) as http:
        for i in range(4):
            posted = (await post(live, live.cookie(), f"置顶{i}")).json()
            await http.post(f"/api/shows/t/comments/{posted['id']}", json={"op": "approve"})
            ids.append(posted["id"])
        answers = await asyncio.gather(
            *(http.post("/api/shows/t/danmaku", json={"pin": cid}) for cid in ids[:2])
        )  # two admins at the same instant: both pins hold
        assert all(a.status_code == 200 for a in answers)
        for cid in ids[2:]:
            last = await http.post("/api/shows/t/danmaku", json={"pin": cid})
        pinned = [p["text"] for p in last.json()["pinned"]]
        assert len(pinned) == 3 and pinned[-2:] == ["置顶2", "置顶3"]
        assert {"置顶0", "置顶1"} & set(pinned)
        gone = await http.post("/api/shows/t/danmaku", json={"unpin": ids[3]})
        assert [p["text"] for p in gone.json()["pinned"]] == pinned[:2]


async def test_markup_in_a_comment_is_shown_as_text_everywhere(
    live: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    markup = '<img src=x onerror="document.title=1">'
    posted = (await post(live, live.cookie(), markup)).json()
    assert posted["state"] == "pending"
    mod, csrf = await staff_login(live, "moderator")
    moderator = await signed_in(browser, live, "moderator", "moderate")
    await expect(moderator.locator("#comment-queue li .text")).to_have_text(markup)
    async with staff_client(live, mod, headers={"x-csrf-token": csrf}) as http:
        await http.post(f"/api/shows/t/comments/{posted['id']}", json={"op": "approve"})
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.goto(f"{live.url}/s/t")
    await expect(phone.locator("#comment-strip li .text")).to_have_text(markup)
    key = await live.rt.sessions.overlay_key("t")
    overlay = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await overlay.goto(f"{live.url}/overlay/t?key={key}")
    await expect(overlay.locator("#ov-danmaku .ov-dm")).to_have_text([markup])
    for page in (moderator, phone, overlay):
        assert (
            await page.locator("#comment-queue img, #comment-strip img, #ov-danmaku img").count()
            == 0
        )
        assert await page.title() != "1"
