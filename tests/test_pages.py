"""The viewer page: first paint without a socket, the device cookie, languages, escaping."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from live.domain.stage import PHASES
from live.redis.embedded import EmbeddedRedis
from live.web.identity import COOKIE
from tests.conftest import make_settings
from tests.helpers import LiveServer, serve, vote_body

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


async def test_first_visit_gets_a_signed_httponly_samesite_device_cookie(
    server: LiveServer,
) -> None:
    async with server.client() as http:
        page = await http.get("/s/t")
        cookie_header = page.headers["set-cookie"]
        again = await http.get("/s/t")  # the cookie is kept, not replaced
    assert page.status_code == 200
    assert cookie_header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie_header
    assert "SameSite=lax" in cookie_header
    assert "set-cookie" not in again.headers
    server.rt.devices.verify(cookie_header.split(";")[0].split("=", 1)[1])


async def test_page_renders_the_current_state_before_any_socket(server: LiveServer) -> None:
    async with server.client() as http:
        page = await http.get("/s/t")
    html = page.text
    assert '<html lang="zh-CN">' in html
    assert "选手1" in html and "即将登场" in html  # waiting: the first contestant is up next
    state = json.loads(re.search(r'id="initial-state">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert state["type"] == "snapshot" and state["stage"]["contestant"] == "p1"


async def test_english_switch(server: LiveServer) -> None:
    async with server.client() as http:
        page = await http.get("/s/t?lang=en")
    assert '<html lang="en">' in page.text
    assert "Player 1" in page.text and "Up next" in page.text


async def test_unknown_show_page_is_404_json(server: LiveServer) -> None:
    async with server.client() as http:
        page = await http.get("/s/nope")
    assert page.status_code == 404
    assert page.json()["error"]["code"] == "unknown_show"


async def test_text_from_the_show_file_is_escaped(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    show = (Path(__file__).parent / "data" / "show.toml").read_text()
    show = show.replace('name = "选手1"', 'name = "<script>alert(1)</script>"')
    path = tmp_path / "xss.toml"
    path.write_text(show)
    async with serve(make_settings(redis_url, prefix, tmp_path, path)) as live:
        async with live.client() as http:
            page = await http.get("/s/t")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "\\u003cscript\\u003e" in page.text  # inside the JSON state block too


def test_every_viewer_string_exists_in_both_languages() -> None:
    text = (FRONTEND / "static" / "i18n.js").read_text()
    blocks = re.findall(r'(?:"zh-CN"|en): \{(.*?)\n  \}', text, re.S)
    keys = [set(re.findall(r"^\s+(\w+):", block, re.M)) for block in blocks]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    for page in ("viewer.js", "overlay.js"):
        script = (FRONTEND / "static" / page).read_text()
        used = set(re.findall(r"\bt\.(\w+)", script))
        used |= {f"phase_{p}" for p in PHASES if '"phase_"' in script}
        assert used <= keys[0], (page, used - keys[0])


async def test_readyz_answers_200_while_redis_answers_and_healthz_says_alive(
    server: LiveServer,
) -> None:
    async with server.client() as http:
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "redis": "ok"})
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})


async def test_viewer_page_and_state_stay_up_while_redis_is_away(
    tmp_path: Path, prefix: str
) -> None:
    """Both are served from the hub's latest snapshot: a short outage does not take them down,
    and a vote moves them again once Redis is back."""
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    try:
        async with serve(make_settings(redis.url, prefix, tmp_path)) as live:
            async with live.client(live.cookie()) as http:
                vote = await http.post(
                    "/api/shows/t/votes", json=vote_body("cap1", "p1", "away-vote-01")
                )
                assert vote.status_code == 200, vote.text
                before = await http.get("/api/shows/t")
                assert (await http.get("/s/t")).status_code == 200
                await asyncio.to_thread(redis.kill)
                during = await http.get("/api/shows/t")
                page = await http.get("/s/t")
                vote_during = await http.post(
                    "/api/shows/t/votes", json=vote_body("cap1", "p2", "away-vote-02")
                )
                await asyncio.to_thread(redis.start)  # same port, password and data folder
                after_vote = await http.post(
                    "/api/shows/t/votes", json=vote_body("cap20", "p2", "away-vote-03")
                )
                after = await http.get("/api/shows/t")
    finally:
        redis.stop()
    assert during.status_code == 200 and during.json() == before.json()
    assert page.status_code == 200 and "选手" in page.text
    assert vote_during.status_code == 503  # what needs Redis still says so
    assert after_vote.json()["status"] == "accepted"
    assert after.json()["version"] > before.json()["version"]
