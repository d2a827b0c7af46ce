"""Tested as a person would: Debian's Chromium, driven by Playwright, against a real server.

Screenshots of the viewer, the overlay (both layouts) and the console go to ``artifacts/``.
A missing browser fails these tests (CI installs it); they never skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, ViewportSize, async_playwright, expect

from live.domain.stage import Action
from tests.helpers import LiveServer, vote_body

CHROMIUM = os.environ.get("LIVE_CHROMIUM", "/usr/lib/chromium/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; its absence fails the browser tests (CI installs it)."""
    assert Path(CHROMIUM).exists(), (
        f"no Chromium at {CHROMIUM}: run .ci/run or apt-get install chromium"
    )
    return CHROMIUM


@pytest.fixture
async def browser(tmp_path: Path, chromium: str) -> AsyncIterator[Browser]:
    home = tmp_path / "home"
    home.mkdir()
    env: dict[str, str | float | bool] = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp_path)}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium,
            env=env,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def staff_page(
    browser: Browser,
    server: LiveServer,
    role: str,
    console: str,
    errors: list[str] | None = None,
    viewport: ViewportSize | None = None,
) -> Page:
    """A staff member signed in through their one-time link, on their console."""
    _, token = await server.rt.sessions.invite("t", role, f"Browser {role}")
    page = await browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/staff/login?show=t&token={token}")
    await page.click("#sign-in")
    await page.wait_for_url(re.compile(rf"/{console}/t$"))
    return page


async def admin_page(browser: Browser, server: LiveServer) -> Page:
    return await staff_page(browser, server, "admin", "admin")


async def open_phone(
    browser: Browser, server: LiveServer, query: str = "", errors: list[str] | None = None
) -> Page:
    """A phone-sized viewer page whose live socket is open (script errors go to ``errors``)."""
    page = await browser.new_page(viewport=PHONE, is_mobile=True)
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/s/t{query}")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    return page


async def test_phone_viewer_votes_likes_and_sees_the_bars_move(
    server: LiveServer, browser: Browser
) -> None:
    errors: list[str] = []
    page = await open_phone(browser, server, errors=errors)
    count = page.locator('[data-category="cap20"] li.row').nth(1).locator(".count")
    await expect(count).to_have_text("0")
    await page.locator('[data-category="cap20"] button[data-contestant="p2"]').click()
    await expect(page.locator("#toast")).to_have_text("投票成功")
    await expect(count).to_have_text("1")
    for _ in range(7):
        await page.locator("#like").click()
    await expect(page.locator("#likes-counted")).to_have_text("7", timeout=5000)
    # Another phone's vote moves this phone's bars too.
    async with server.client(server.cookie()) as http:
        await http.post("/api/shows/t/votes", json=vote_body("cap20", "p2", "other-phone-1"))
    await expect(count).to_have_text("2")
    await page.locator("#lang").click()
    await expect(page.locator('[data-category="cap20"] h2')).to_contain_text("cap20 award")
    await shot(page, "viewer-phone")
    assert errors == []


async def test_overlay_follows_votes_in_both_layouts(server: LiveServer, browser: Browser) -> None:
    key = await server.rt.sessions.overlay_key("t")
    for name, size in (("overlay-1920x1080", (1920, 1080)), ("overlay-1080x1920", (1080, 1920))):
        viewport: ViewportSize = {"width": size[0], "height": size[1]}
        page = await browser.new_page(viewport=viewport)
        await page.goto(f"{server.url}/overlay/t?key={key}")
        row = page.locator("#ov-bars li").first
        await expect(row.locator(".ov-num")).to_have_text(re.compile(r"^\d"))
        before = int((await row.locator(".ov-num").text_content() or "0").replace(",", ""))
        async with server.client(server.cookie()) as http:
            await http.post("/api/shows/t/votes", json=vote_body("cap1", "p1", f"ov-{name}"))
        await expect(row.locator(".ov-num")).to_have_text(str(before + 1), timeout=5000)
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgba(0, 0, 0, 0)"  # transparent for OBS
        await shot(page, name)
        await page.close()


async def test_overlay_layout_does_not_move_when_numbers_grow(
    server: LiveServer, browser: Browser
) -> None:
    key = await server.rt.sessions.overlay_key("t")
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{server.url}/overlay/t?key={key}")
    track = page.locator("#ov-bars li").nth(1).locator(".ov-track")
    likes_label = page.locator("#ov-likes-label")
    await expect(track).to_be_visible()
    before = (await track.bounding_box(), await likes_label.bounding_box())
    # Display-only change, undone below, so the ledger recount at the end still holds.
    store = server.rt.store
    keys = store.keys("t")
    await store.client.zincrby(keys.tally("cap1"), 10_000_000, "p2")
    await store.client.hincrby(keys.likes, "counted", 10_000_000)
    await store.client.incr(keys.version)
    try:
        # p2 goes to the top of the board (sorted by votes); the rows slide for 0.6 s.
        top = page.locator("#ov-bars li").nth(0)
        await expect(top).to_have_attribute("data-contestant", "p2", timeout=5000)
        await expect(top.locator(".ov-num")).to_have_text("10,000,000", timeout=5000)
        await expect(page.locator("#ov-likes")).to_have_text("10,000,000")
        await page.wait_for_timeout(900)
        after = (await track.bounding_box(), await likes_label.bounding_box())
        await shot(page, "overlay-10-million")
    finally:
        await store.client.zincrby(keys.tally("cap1"), -10_000_000, "p2")
        await store.client.hincrby(keys.likes, "counted", -10_000_000)
    assert before == after


async def test_admin_moves_the_stage_and_viewer_and_overlay_follow(
    server: LiveServer, browser: Browser
) -> None:
    admin = await admin_page(browser, server)
    viewer = await open_phone(browser, server)
    key = await server.rt.sessions.overlay_key("t")
    overlay = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await overlay.goto(f"{server.url}/overlay/t?key={key}")

    await admin.click('button[data-action="next"]')  # waiting -> presenting p1
    await expect(admin.locator("#phase")).to_have_text("presenting")
    await admin.click('button[data-action="next"]')  # p2
    await expect(viewer.locator("#stage .now-name")).to_have_text("选手2")
    await expect(overlay.locator("#ov-name")).to_have_text("选手2")

    await admin.select_option("#vote-category", "shut")
    await admin.fill("#seconds", "90")
    await admin.click('button[data-action="open_voting"]')
    await expect(viewer.locator("#stage .label")).to_have_text("投票进行中")
    await expect(viewer.locator("#countdown")).to_contain_text("1:")
    await expect(overlay.locator("#ov-clock")).to_have_text(re.compile(r"^1:[23]\d$"))
    vote_button = viewer.locator('[data-category="shut"] button[data-contestant="p2"]')
    await expect(vote_button).to_be_enabled()
    await expect(
        viewer.locator('[data-category="shut"] button[data-contestant="p1"]')
    ).to_be_disabled()
    await shot(admin, "console")
    await shot(overlay, "overlay-voting")


async def test_admin_edits_the_running_order_and_the_phone_follows(
    server: LiveServer, browser: Browser
) -> None:
    admin = await admin_page(browser, server)
    viewer = await open_phone(browser, server)
    await admin.locator("#running-order li").first.locator("button", has_text="▼").click()
    await expect(viewer.locator("#order li").first).to_contain_text("选手2")
    await expect(viewer.locator("#stage .now-name")).to_have_text("选手2")  # up next
    await admin.select_option("#edit-who", "p1")
    await admin.fill("#edit-name", "李 <i>明</i>")
    await admin.click("#save-details")
    await expect(viewer.locator("#order li").nth(1)).to_contain_text("李 <i>明</i>")


@pytest.mark.parametrize("role", ["judge", "moderator", "streamer"])
async def test_other_roles_cannot_open_the_admin_console(
    server: LiveServer, browser: Browser, role: str
) -> None:
    _, token = await server.rt.sessions.invite("t", role, f"A {role}")
    page = await browser.new_page()
    await page.goto(f"{server.url}/staff/login?show=t&token={token}")
    await page.click("#sign-in")
    await page.wait_for_load_state()
    response = await page.goto(f"{server.url}/admin/t")
    assert response is not None and response.status == 403
    assert "forbidden" in await page.content()


async def test_stage_change_from_the_server_reaches_an_open_phone(
    server: LiveServer, browser: Browser
) -> None:
    page = await open_phone(browser, server, "?lang=en")
    await server.rt.service.stage_action("t", Action("present", "p5"), "test")
    await expect(page.locator("#stage .now-name")).to_have_text("Player 5")


async def test_judge_scores_on_a_flaky_tablet_and_nothing_is_lost(
    server: LiveServer, browser: Browser
) -> None:
    """The first submit reaches the server but its reply is lost; the page retries with the same
    save_id, the server answers "replay", and the sheet is saved exactly once."""
    _, token = await server.rt.sessions.invite("t", "judge", "Tablet judge")
    page = await browser.new_page(viewport={"width": 1024, "height": 1366}, is_mobile=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{server.url}/staff/login?show=t&token={token}")
    await page.click("#sign-in")
    await page.wait_for_url(re.compile(r"/judge/t$"))
    card = page.locator('.sheet[data-contestant="p1"]')
    await expect(card).to_be_visible()
    await card.locator('input[data-criterion="innovation"]').fill("25")
    await card.locator('input[data-criterion="craft"]').fill("27.5")
    await card.locator('input[data-criterion="presentation"]').fill("18")
    await card.locator('input[data-criterion="impact"]').fill("15")
    lost: list[str] = []

    async def lose_first_reply(route: Route) -> None:
        if not lost:
            lost.append(route.request.post_data or "")
            await route.fetch()  # the server gets it ...
            await route.abort("connectionreset")  # ... and the reply is lost
        else:
            await route.continue_()

    await page.route("**/api/shows/t/sheets/cap1/p1", lose_first_reply)
    await card.locator('button[data-op="submit"]').click()
    await expect(card.locator(".status")).to_contain_text("submitted · rev 1", timeout=15_000)
    await expect(page.locator("#net-state")).to_contain_text("synced")
    read = await server.rt.store.judging_read("t", "cap1")
    (record,) = read.sheets.values()
    assert record["state"] == "submitted" and record["rev"] == 1
    assert record["marks"] == {
        "innovation": "25",
        "craft": "27.5",
        "presentation": "18",
        "impact": "15",
    }
    assert len(lost) == 1
    # a bad mark is refused with the field named, and the input gets the focus
    await page.unroute("**/api/shows/t/sheets/cap1/p1")
    await card.locator('input[data-criterion="innovation"]').fill("31")
    await card.locator('button[data-op="save"]').click()
    await expect(page.locator("#toast")).to_contain_text("marks.innovation")
    await shot(page, "judge-tablet")
    assert errors == []


async def test_moderator_voids_a_flagged_cluster_after_seeing_the_ranking_change(
    server: LiveServer, browser: Browser
) -> None:
    for i in range(3):
        bot = {"user-agent": "python-requests/2.31.0"}
        async with server.client(server.cookie(), headers=bot) as http:
            body = vote_body("cap20", "p2", f"browser-bot-{i}")
            assert (await http.post("/api/shows/t/votes", json=body)).status_code == 200
    phone = {"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Safari/604.1"}
    for i in range(2):
        async with server.client(server.cookie(), headers=phone) as http:
            body = vote_body("cap20", "p1", f"browser-human-{i}")
            assert (await http.post("/api/shows/t/votes", json=body)).status_code == 200
    errors: list[str] = []
    page = await staff_page(browser, server, "moderator", "moderate", errors)
    cluster = page.locator('details.cluster[data-cluster^="scripted_agent:"]')
    await expect(cluster).to_be_visible(timeout=10_000)
    await expect(cluster.locator("summary")).to_contain_text("3 flagged")
    await cluster.locator("summary").click()
    await cluster.locator('button[data-op="void"]').click()
    preview = page.locator("#preview-panel")
    await expect(preview).to_be_visible()
    # Before: p2 (3 votes) leads; after the void p1 does. The console says so before confirming.
    await expect(preview.locator('tr[data-contestant="p2"]')).to_have_class("moved")
    await expect(preview.locator('tr[data-contestant="p1"] td').nth(3)).to_have_text("1")
    assert (await server.state())["tallies"]["cap20"]["p2"] == 3  # nothing changed yet
    await page.fill("#void-reason", "scripted client")
    await page.click("#preview-confirm")
    await expect(preview).to_be_hidden()
    await expect(page.locator("#log-table tbody tr").first).to_contain_text("scripted client")
    await shot(page, "moderator")
    state = await server.state()
    assert state["tallies"]["cap20"]["p2"] == 0
    viewer = await open_phone(browser, server)
    await expect(viewer.locator('[data-category="cap20"] .badge.voided')).to_contain_text("3")
    assert errors == []


async def test_a_vote_answered_503_is_retried_with_the_same_vote_id(
    server: LiveServer, browser: Browser
) -> None:
    """During a Redis failover a vote may be written but not yet confirmed (503
    ``not_replicated``): the page retries with the same vote_id, so it counts once."""
    page = await open_phone(browser, server)
    sent: list[str] = []

    async def first_one_unconfirmed(route: Route) -> None:
        sent.append(route.request.post_data or "")
        reply = await route.fetch()  # the server really records the vote...
        if len(sent) == 1:  # ...but the phone hears what a failover would say
            body = '{"error": {"code": "not_replicated", "message": "retry"}}'
            await route.fulfill(status=503, headers={"Retry-After": "1"}, body=body)
        else:
            await route.fulfill(response=reply)

    await page.route("**/api/shows/t/votes", first_one_unconfirmed)
    await page.locator('[data-category="cap20"] button[data-contestant="p3"]').click()
    await expect(page.locator("#toast")).to_have_text("投票成功", timeout=5000)
    assert len(sent) == 2 and sent[0] == sent[1]
    count = page.locator('[data-category="cap20"] li.row').nth(2).locator(".count")
    await expect(count).to_have_text("1")


async def test_phone_verifies_its_number_after_reading_what_is_kept_then_votes(
    redis_url: str, prefix: str, tmp_path: Path, browser: Browser
) -> None:
    from dataclasses import replace

    from tests.conftest import make_settings
    from tests.fake_identity import SmsRecorder
    from tests.helpers import DATA, serve

    settings = replace(
        make_settings(redis_url, prefix, tmp_path, DATA / "identity.toml"), identity_key="k"
    )
    async with serve(settings) as live:
        recorder = live.rt.identity.sms = SmsRecorder()
        errors: list[str] = []
        page = await browser.new_page(viewport=PHONE, is_mobile=True)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{live.url}/s/idt?lang=en")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        people = page.locator('[data-category="people"]')
        await expect(people.locator(".badge.identity")).to_have_text("phone verification")
        await people.locator('button[data-contestant="p2"]').click()
        dialog = page.locator("dialog#verify")
        await expect(dialog).to_be_visible()
        # What is kept is said before the number is asked for, and the sheet fits the phone.
        await expect(page.locator("#verify-stored")).to_contain_text("138****1234")
        await expect(page.locator("#verify-stored")).to_contain_text("30 days")
        box = await dialog.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        await page.fill("#verify-phone", "138 1234 1234")
        await page.click("#verify-send")
        await expect(page.locator("dialog#verify [role=status]")).to_have_text(
            "Code sent to 138****1234"
        )
        await expect(page.locator("#verify-send")).to_be_disabled()  # the resend countdown
        await shot(page, "viewer-phone-verify")
        code = recorder.last("+8613812341234")
        await page.fill("#verify-code", f"{(int(code) + 1) % 1_000_000:06d}")
        await page.click("#verify-submit")
        await expect(page.locator("dialog#verify [role=status]")).to_have_text(
            "Wrong code: 4 tries left"
        )
        await page.fill("#verify-code", code)
        await page.click("#verify-submit")
        await expect(dialog).to_have_count(0)
        await expect(page.locator("#toast")).to_have_text("Vote counted")
        await expect(people.locator(".badge.identity")).to_have_count(0)
        await expect(people.locator("p.left")).to_have_text("1 votes left")
        # The next vote needs no second verification.
        await people.locator('button[data-contestant="p3"]').click()
        await expect(people.locator("p.left")).to_have_text("Voted")
        await shot(page, "viewer-phone-verified")
        assert errors == []


async def test_phone_signs_in_with_wechat_and_its_vote_is_cast_on_return(
    redis_url: str, prefix: str, tmp_path: Path, browser: Browser
) -> None:
    from dataclasses import replace
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import make_settings
    from tests.fake_identity import FakeWeChat
    from tests.helpers import DATA, serve

    settings = replace(
        make_settings(redis_url, prefix, tmp_path, DATA / "identity.toml"),
        identity_key="k",
        wechat_app_id="wxapp",
        wechat_secret="wxsecret",
    )
    async with serve(settings) as live:
        fake = FakeWeChat("wxapp", "wxsecret")
        live.rt.wechat.http = fake.client()
        page = await browser.new_page(viewport=PHONE, is_mobile=True)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        async def wechat(route: Route) -> None:
            # WeChat's authorisation page, as it answers a person who is signed in to WeChat.
            query = parse_qs(urlsplit(route.request.url).query)
            assert query["scope"] == ["snsapi_base"]
            back = f"{query['redirect_uri'][0]}?code={fake.authorize('openid-amy')}"
            await route.fulfill(
                status=302, headers={"Location": f"{back}&state={query['state'][0]}"}
            )

        await page.route("https://open.weixin.qq.com/**", wechat)
        await page.goto(f"{live.url}/s/idt?lang=en")
        await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        wx = page.locator('[data-category="wx"]')
        await wx.locator('button[data-contestant="p4"]').click()
        await expect(page.locator("#verify-stored")).to_contain_text("keyed hash")
        await page.click("#verify-go")
        # A redirect keeps the fragment of the page it left (WeChat's #wechat_redirect).
        await page.wait_for_url(re.compile(r"/s/idt\?lang=en"))
        await expect(page.locator("#toast")).to_have_text("Vote counted")
        assert page.url == f"{live.url}/s/idt?lang=en"  # the page drops that fragment
        await expect(wx.locator("p.left")).to_have_text("Voted")
        assert fake.exchanged == ["openid-amy"]
        assert (await live.state("idt"))["tallies"]["wx"]["p4"] == 1
        assert errors == []
