"""Accessibility: axe-core (the npm package, fetched by tests/provision.sh) finds no serious or
critical violation on any page, at the sizes people use them, and the viewer page works from
the keyboard alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers import LiveServer
from tests.test_browser import PHONE, browser, chromium  # noqa: F401

AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"


async def serious(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page: one line each."""
    assert AXE.exists(), f"no {AXE}: run `bash tests/provision.sh` (make test does)"
    await page.add_script_tag(path=str(AXE))
    result: Any = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])}x, e.g. {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def signed_in(
    browser: Browser,  # noqa: F811
    server: LiveServer,
    role: str,
    console: str,
) -> Page:
    _, token = await server.rt.sessions.invite("t", role, f"a11y {role}")
    # The pages' CSP allows no inline script; the checker is injected as one.
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    await page.goto(f"{server.url}/staff/login?show=t&token={token}")
    assert await serious(page) == []
    await page.click("#sign-in")
    await page.wait_for_url(re.compile(rf"/{console}/t$"))
    return page


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/", (1280, 900)),
        ("/s/t", (390, 844)),
        ("/s/t?lang=en", (390, 844)),
        ("/s/t/c/p1", (390, 844)),
        ("/overlay/t?key={key}", (1920, 1080)),
        ("/overlay/t?key={key}", (1080, 1920)),
        ("/results/t/cap20", (390, 844)),
    ],
)
async def test_public_pages_have_no_serious_violation(
    server: LiveServer,
    browser: Browser,  # noqa: F811
    path: str,
    size: tuple[int, int],
) -> None:
    if path.startswith("/results"):
        from tests.test_judging import admin

        async with await admin(server) as http:
            reply = await http.post("/api/shows/t/results/cap20/publish", json={})
            assert reply.status_code == 200
    key = await server.rt.sessions.overlay_key("t")
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]}, bypass_csp=True)
    await page.goto(server.url + path.format(key=key))
    await page.wait_for_timeout(300)
    assert await serious(page) == [], path


@pytest.mark.parametrize(("role", "console"), [("admin", "admin"), ("judge", "judge"),
                                               ("moderator", "moderate")])  # fmt: skip
async def test_staff_consoles_have_no_serious_violation(
    server: LiveServer,
    browser: Browser,  # noqa: F811
    role: str,
    console: str,
) -> None:
    page = await signed_in(browser, server, role, console)
    await page.wait_for_timeout(300)
    assert await serious(page) == [], console


async def test_a_phone_votes_from_the_keyboard_alone(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    page = await browser.new_page(viewport=PHONE)
    await page.goto(f"{server.url}/s/t")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    target = page.locator('.category[data-category="cap1"] button.vote[data-contestant="p3"]')
    for _ in range(200):  # Tab until the button has focus, then Enter
        await page.keyboard.press("Tab")
        if await target.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("the vote button is not reachable with Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator('.category[data-category="cap1"] .left')).to_have_text("已投")
    state = await server.state()
    assert state["tallies"]["cap1"]["p3"] == 1


FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])"


async def not_reached_by_tab(page: Page) -> list[str]:
    """The visible, enabled controls that Tab never reaches (from the top of the page)."""
    count = await page.evaluate(
        """(sel) => {
            const all = [...document.querySelectorAll(sel)].filter(
                (e) => !e.disabled && e.offsetParent !== null && e.type !== "hidden");
            all.forEach((e, i) => { e.dataset.kb = String(i); });
            return all.length;
        }""",
        FOCUSABLE,
    )
    assert count > 0
    seen: set[str] = set()
    for _ in range(2 * count + 20):
        await page.keyboard.press("Tab")
        got = await page.evaluate("() => document.activeElement?.dataset?.kb ?? null")
        if got is not None:
            seen.add(got)
        if len(seen) == count:
            break
    missing: list[str] = await page.evaluate(
        """(seen) => [...document.querySelectorAll("[data-kb]")]
            .filter((e) => !seen.includes(e.dataset.kb))
            .map((e) => e.outerHTML.slice(0, 120))""",
        sorted(seen),
    )
    return missing


@pytest.mark.parametrize(("role", "console", "path"), [
    ("admin", "admin", "/admin/t"), ("admin", "admin", "/admin/t/setup"),
    ("judge", "judge", "/judge/t"), ("moderator", "moderate", "/moderate/t"),
])  # fmt: skip
async def test_every_control_of_the_staff_pages_is_reachable_by_keyboard(
    server: LiveServer,
    browser: Browser,  # noqa: F811
    role: str,
    console: str,
    path: str,
) -> None:
    page = await signed_in(browser, server, role, console)
    await page.goto(server.url + path)
    await page.wait_for_timeout(500)
    assert await serious(page) == [], path
    assert await not_reached_by_tab(page) == [], path


@pytest.mark.parametrize("path", ["/", "/s/t/c/p1", "/results/t/cap20"])
async def test_every_control_of_the_public_pages_is_reachable_by_keyboard(
    server: LiveServer,
    browser: Browser,  # noqa: F811
    path: str,
) -> None:
    if path.startswith("/results"):
        from tests.test_judging import admin

        async with await admin(server) as http:
            reply = await http.post("/api/shows/t/results/cap20/publish", json={})
            assert reply.status_code == 200
    page = await browser.new_page(viewport=PHONE)
    await page.goto(server.url + path)
    await page.wait_for_timeout(300)
    assert await not_reached_by_tab(page) == [], path
