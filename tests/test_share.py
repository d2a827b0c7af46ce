"""What viewers see and share: votes left from the server, contestant numbers and search, the
contestant page, its poster's QR code, the overlay's QR code and its sorted top N, the index."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, expect

from tests.conftest import make_settings
from tests.helpers import (
    BIG,
    LiveServer,
    all_entries,
    assert_recount,
    serve,
    staff_client,
    staff_login,
    vote_body,
)
from tests.test_browser import PHONE, browser, chromium, open_phone, shot  # noqa: F401


def keep_artifact(name: str, data: bytes) -> None:
    Path("artifacts").mkdir(exist_ok=True)
    (Path("artifacts") / name).write_bytes(data)


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG (zxing-cpp, a decoder that is not our encoder)."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} codes found"
    return str(found[0].text)


async def test_the_server_says_how_many_votes_a_phone_has_left(server: LiveServer) -> None:
    async with server.client(server.cookie()) as http:
        me = (await http.get("/api/shows/t/me")).json()["categories"]
        device = {"identity": "device", "verified": True}  # the tier a vote here needs
        assert me["cap1"] == {"cap": 1, "used": 0, "left": 1, **device}
        assert me["cap20"]["left"] == 20
        reply = await http.post("/api/shows/t/votes", json=vote_body("cap1", "p1", "left-0001"))
        assert reply.json()["status"] == "accepted" and reply.json()["left"] == 0
        reply = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p1", "left-0002"))
        assert reply.json()["left"] == 19
        again = await http.post("/api/shows/t/votes", json=vote_body("cap1", "p2", "left-0003"))
        assert (again.json()["reason"], again.json()["left"]) == ("cap_reached", 0)
        me = (await http.get("/api/shows/t/me")).json()["categories"]
        assert me["cap1"] == {"cap": 1, "used": 1, "left": 0, **device}
        assert me["cap20"] == {"cap": 20, "used": 1, "left": 19, **device}
    async with server.client() as http:  # no device cookie
        reply = await http.get("/api/shows/t/me")
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "device_required"
    await assert_recount(server)


async def test_the_poster_carries_a_qr_code_of_the_contestant_page(server: LiveServer) -> None:
    async with server.client() as http:
        reply = await http.get("/s/t/c/p2/poster.png")
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
        assert decode_qr(reply.content) == f"{server.url}/s/t/c/p2"
        with Image.open(io.BytesIO(reply.content)) as img:
            assert img.size == (750, 1334)
        missing = await http.get("/s/t/c/nobody/poster.png")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_contestant"
    keep_artifact("poster-t-p2.png", reply.content)


async def test_links_use_the_public_address_when_one_is_set(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, public_url="https://vote.example.com")
    async with serve(settings) as live, live.client() as http:
        poster = await http.get("/s/t/c/p1/poster.png")
        assert decode_qr(poster.content) == "https://vote.example.com/s/t/c/p1"
        page = (await http.get("/s/t/c/p1")).text
        assert '<meta property="og:url" content="https://vote.example.com/s/t/c/p1">' in page


async def test_the_contestant_page_has_its_number_story_and_a_card_for_shares(
    server: LiveServer,
) -> None:
    async with server.client() as http:
        reply = await http.get("/s/t/c/p3")
        assert reply.status_code == 200
        page = reply.text
        assert 'property="og:image" content="' + f"{server.url}/s/t/c/p3/poster.png" in page
        assert 'property="og:title"' in page and "live_device" in reply.headers["set-cookie"]
        assert '<div class="number"' in page and ">03<" in page
        assert (await http.get("/s/t/c/ghost")).status_code == 404


async def test_a_phone_sees_numbers_votes_and_is_told_what_is_left(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    errors: list[str] = []
    page = await open_phone(browser, server, errors=errors)
    cap1 = page.locator('.category[data-category="cap1"]')
    await expect(cap1.locator(".left")).to_have_text("还剩 1 票")
    await expect(cap1.locator(".row .num").first).to_have_text("01")
    await cap1.locator('button.vote[data-contestant="p2"]').click()
    await expect(cap1.locator(".left")).to_have_text("已投")
    for button in await cap1.locator("button.vote").all():
        await expect(button).to_be_disabled()
        await expect(button).to_have_text("已投")
    cap20 = page.locator('.category[data-category="cap20"]')
    await cap20.locator('button.vote[data-contestant="p1"]').click()
    await expect(cap20.locator(".left")).to_have_text("还剩 19 票")
    await page.fill("#search", "04")  # by number
    await expect(cap20.locator(".row")).to_have_count(1)
    await expect(cap20.locator(".row .num")).to_have_text("04")
    await shot(page, "phone-search-04")
    await page.fill("#search", "")
    await expect(cap20.locator(".row")).to_have_count(5)
    # The contestant page knows the votes left too, from the server.
    await page.goto(f"{server.url}/s/t/c/p1")
    row = page.locator('.vote-list .row[data-category="cap1"]')
    await expect(row.locator("[data-left]")).to_have_text("已投")
    await expect(row.locator("button.vote")).to_be_disabled()
    await shot(page, "phone-contestant-p1")
    assert errors == []
    await assert_recount(server)


@pytest.fixture
async def big(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(make_settings(redis_url, prefix, tmp_path, BIG)) as live:
        yield live


async def test_the_overlay_shows_the_top_10_sorted_and_a_qr_of_the_viewer_page(
    big: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    show = big.rt.service.show("big")
    cat = show.categories[0]
    people = list(show.eligible(cat))[:14]
    async with big.client(big.cookie()) as http:
        for i, who in enumerate(people):  # contestant i gets i + 1 votes
            for n in range(i + 1):
                body = vote_body(cat.id, who, f"top-{i:02d}-{n:02d}")
                reply = await http.post("/api/shows/big/votes", json=body)
                assert reply.json()["status"] == "accepted", reply.text
    key = await big.rt.sessions.overlay_key("big")
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{big.url}/overlay/big?key={key}")
    rows = page.locator("#ov-bars li")
    await expect(rows).to_have_count(10)
    await expect(rows.nth(0)).to_have_attribute("data-contestant", people[13])
    await page.wait_for_timeout(800)
    order = [await r.get_attribute("data-contestant") for r in await rows.all()]
    assert order == people[13:3:-1]  # most votes first
    qr = await page.locator("#ov-qr").screenshot()
    assert decode_qr(qr) == f"{big.url}/s/big"
    await shot(page, "overlay-top10-qr")
    hidden = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await hidden.goto(f"{big.url}/overlay/big?key={key}&qr=0&top=5")
    await expect(hidden.locator("#ov-bars li")).to_have_count(5)
    assert await hidden.locator("#ov-qr").count() == 0
    # The admin sets the board's size; an open overlay follows it.
    cookie, csrf = await staff_login(big, "admin", show="big")
    async with staff_client(big, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/big/display", json={"op": "overlay_top", "n": 12})
        assert reply.status_code == 200, reply.text
        bad = await http.post("/api/shows/big/display", json={"op": "overlay_top", "n": 99})
        assert bad.status_code == 400
    await expect(rows).to_have_count(12)


async def test_the_index_lists_each_show_with_its_state_and_qr(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{server.url}/")
    card = page.locator(".show-card").first
    await expect(card.locator(".show-title")).to_have_text("测试节目")
    await expect(card.locator(".badge")).to_have_attribute("data-phase", "waiting")
    assert decode_qr(await card.locator(".qr svg").screenshot()) == f"{server.url}/s/t"
    await shot(page, "index")


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (2400, 1600), "#3a7")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-and-all"  # Software
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_an_admin_uploads_a_photo_kept_clean_and_shown_everywhere(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/contestants/p2/photo", content=jpeg_with_exif())
        assert reply.status_code == 200, reply.text
        url = reply.json()["photo"]
    async with server.client() as http:
        served = await http.get(url)
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
        assert "immutable" in served.headers["cache-control"]
        assert b"SecretCam" not in served.content and b"Exif" not in served.content
        with Image.open(io.BytesIO(served.content)) as img:
            assert img.format == "WEBP" and max(img.size) == 1200 and not img.getexif()
        state = (await http.get("/api/shows/t")).json()
        p2 = next(c for c in state["contestants"] if c["id"] == "p2")
        assert p2["photo"] == url
        poster = await http.get("/s/t/c/p2/poster.png")
        assert decode_qr(poster.content) == f"{server.url}/s/t/c/p2"  # the photo did not hide it
    keep_artifact("poster-with-photo.png", poster.content)
    page = await open_phone(browser, server)
    await expect(page.locator('.category[data-category="cap1"] img.thumb')).to_have_count(1)
    await page.goto(f"{server.url}/s/t/c/p2")
    await expect(page.locator("img.photo")).to_be_visible()
    await shot(page, "phone-contestant-photo")
    entries = [e for e in await all_entries(server) if e.get("what") == "photo:p2"]
    assert len(entries) == 1 and url.endswith(entries[0]["p2:photo"])
    await assert_recount(server)


def svg_with_script() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("20 MB", b"\xff\xd8\xff" + b"\0" * (20 * 1024 * 1024), 413, "payload_too_large"),
        (
            "HTML named PNG",
            b"<!doctype html><html><script>alert(1)</script></html>",
            400,
            "bad_image",
        ),
        ("SVG with script", svg_with_script(), 400, "bad_image"),
        ("a PNG header and nothing", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 400, "bad_image"),
    ],
)
async def test_bad_uploads_are_refused_with_a_clear_error(
    server: LiveServer, name: str, body: bytes, status: int, code: str
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "image/png"}
    async with staff_client(server, cookie, headers=headers) as http:
        reply = await http.post("/api/shows/t/contestants/p1/photo", content=body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code), name
    state = (await server.state())["contestants"]
    assert all(c["photo"] is None for c in state)  # nothing kept


async def test_a_photo_is_a_detail_fixed_once_the_show_starts(server: LiveServer) -> None:
    from live.domain.stage import Action

    await server.rt.service.stage_action("t", Action("next"), "test")
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/contestants/p1/photo", content=jpeg_with_exif())
    assert reply.status_code == 409 and reply.json()["error"]["code"] == "show_started"


async def test_the_overlay_shows_the_published_result_when_the_stage_shows_results(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    from live.domain.stage import Action

    async with server.client(server.cookie()) as http:
        for i, who in enumerate(["p3", "p3", "p3", "p1", "p4", "p4"]):
            reply = await http.post(
                "/api/shows/t/votes", json=vote_body("cap20", who, f"scene-{i:04d}")
            )
            assert reply.json()["status"] == "accepted"
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/results/cap20/publish", json={})
        assert reply.status_code == 200, reply.text
        rows = reply.json()["result"]["rows"]
    key = await server.rt.sessions.overlay_key("t")
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{server.url}/overlay/t?key={key}")
    await expect(page.locator("#ov-bars .ov-result")).to_have_count(0)  # live bars first
    await server.rt.service.stage_action("t", Action("next"), "test")
    await server.rt.service.stage_action("t", Action("show_results", category="cap20"), "test")
    scene = page.locator("#ov-bars .ov-result")
    await expect(scene.first).to_have_attribute("data-contestant", rows[0]["contestant"])
    assert rows[0]["contestant"] == "p3"
    await expect(scene.first.locator(".ov-place")).to_have_text("1")
    await expect(scene).to_have_count(len(rows))
    # The stage card names the category's winner, never the last contestant presented (p1).
    show = server.rt.service.show("t")
    await expect(page.locator("#ov-name")).to_have_text(show.contestant("p3").name)
    await expect(page.locator("#ov-label")).to_contain_text(show.category("cap20").name)
    await shot(page, "overlay-results-scene")
