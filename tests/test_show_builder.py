"""Setting a show up in the browser: create it, redefine it whole, import a sheet or a show
file, preview a category's rules, invite staff; every process serves what one created."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from live.domain.reconcile.rules import PRESETS
from live.domain.setup import revision
from tests.conftest import make_settings
from tests.helpers import (
    LiveServer,
    all_entries,
    run_cli,
    serve,
    sign_in,
    staff_client,
    staff_login,
    vote_body,
)
from tests.test_a11y import serious
from tests.test_access_table import tiny_png
from tests.test_browser import ARTIFACTS, browser, chromium  # noqa: F401
from tests.test_show_setup import person, xlsx


def forty(bad: bool) -> list[list[Any]]:
    rows = [person(i) for i in range(1, 41)]
    if bad:
        rows[6][1] = ""  # row 8: no name
        rows[29][5] = "not a field!"  # row 31: a field is a lowercase slug
    return rows


async def create(server: LiveServer, show: str) -> tuple[httpx.AsyncClient, str]:
    """An admin of show t creates ``show`` and signs in with the link it answers: a client
    signed in as the new show's admin, and that session's CSRF token."""
    cookie, csrf = await staff_login(server, "admin", "Organiser", organiser=50)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post(
            "/api/shows", json={"id": show, "title": "决赛", "title_en": "Final"}
        )
    assert reply.status_code == 201, reply.text
    login = httpx.URL(reply.json()["login"])
    async with server.client() as http:
        form = {"show": show, "token": login.params["token"], "next": "setup"}
        signed = await http.post("/staff/login", data=form)
    assert signed.status_code == 303 and signed.headers["location"] == f"/admin/{show}/setup"
    new_cookie = signed.cookies["live_staff"]
    session = await server.rt.sessions.session(show, new_cookie.split(".", 1)[1])
    assert session is not None and session.role == "admin" and session.name == "Organiser"
    client = staff_client(server, new_cookie, headers={"X-CSRF-Token": session.csrf})
    return client, session.csrf


async def get(server: LiveServer, path: str) -> httpx.Response:
    async with server.client() as http:
        return await http.get(path)


async def definition(http: httpx.AsyncClient, show: str) -> dict[str, Any]:
    reply = await http.get(f"/api/shows/{show}/definition")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_a_show_created_in_one_process_is_served_by_every_process(
    server: LiveServer, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path / "b")) as other:
        http, _ = await create(server, "gala")
        async with http:
            d = await definition(http, "gala")
        assert d["source"] == "browser" and d["editable"] and d["rev"] == revision(d["toml"]) + ".0"
        assert d["preset_names"] == sorted(PRESETS)  # the page offers the server's presets
        async with server.client() as viewer:
            here = await viewer.get("/api/shows/gala")
        assert here.status_code == 200 and here.json()["show"]["title_en"] == "Final"
        for _ in range(40):  # the other process reads the registry every second
            async with other.client() as viewer:
                there = await viewer.get("/api/shows/gala")
            if there.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert there.status_code == 200, there.text
        assert "gala" in (await get(other, "/")).text
        # A new definition saved through this process: the other serves it within a second,
        # not the snapshot it had encoded with the old one.
        show = d["show"]
        show["title_en"] = "Grand final"
        async with staff_client(server, http.cookies["live_staff"], headers=http.headers) as again:
            saved = await again.post(
                "/api/shows/gala/definition", json={"rev": d["rev"], "show": show}
            )
        assert saved.status_code == 200, saved.text
        for _ in range(40):
            there = await get(other, "/api/shows/gala")
            if there.json()["show"]["title_en"] == "Grand final":
                break
            await asyncio.sleep(0.1)
        assert there.json()["show"]["title_en"] == "Grand final"
    entries = [e for e in await all_entries(server, "gala") if e.get("what") == "definition"]
    revs = [d["rev"], saved.json()["rev"]]
    assert [e["rev"] for e in entries] == [r.split(".")[0] for r in revs]


async def test_an_id_in_use_is_refused(server: LiveServer) -> None:
    cookie, csrf = await staff_login(server, "admin", organiser=1)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        taken = await http.post("/api/shows", json={"id": "t", "title": "x", "title_en": "x"})
        bad = await http.post("/api/shows", json={"id": "No Spaces", "title": "x", "title_en": "x"})
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "show_exists")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_request")


async def test_a_redefinition_is_checked_whole_kept_whole_and_fixed_once_the_show_starts(
    server: LiveServer,
) -> None:
    http, _ = await create(server, "gala")
    async with http:
        d = await definition(http, "gala")
        show = d["show"]
        show["contestants"].append(dict(show["contestants"][0], id="c02", order=2, name=""))
        show["categories"][0]["votes_per_device"] = 0
        bad = await http.post("/api/shows/gala/definition", json={"rev": d["rev"], "show": show})
        assert bad.status_code == 400, bad.text
        where = {p["where"] for p in bad.json()["error"]["problems"]}
        assert {"contestants.1.name", "categories.0.votes_per_device"} <= where
        assert len((await definition(http, "gala"))["show"]["contestants"]) == 1  # nothing kept

        show["contestants"][1]["name"] = "第二位"
        show["categories"][0]["votes_per_device"] = 3
        ok = await http.post("/api/shows/gala/definition", json={"rev": d["rev"], "show": show})
        assert ok.status_code == 200, ok.text
        stale = await http.post("/api/shows/gala/definition", json={"rev": d["rev"], "show": show})
        assert (stale.status_code, stale.json()["error"]["code"]) == (409, "definition_stale")
        state = (await get(server, "/api/shows/gala")).json()
        assert [c["name"] for c in state["contestants"]] == ["选手", "第二位"]
        assert state["categories"][0]["votes_per_device"] == 3

        # A detail edited in the console since the page read the show: saving the page's copy
        # would undo it, so it is refused; read again, and it is kept.
        rev = ok.json()["rev"]
        edited = await http.post("/api/shows/gala/contestants/c02", json={"name": "控制台改的"})
        assert edited.status_code == 200, edited.text
        undo = await http.post("/api/shows/gala/definition", json={"rev": rev, "show": show})
        assert (undo.status_code, undo.json()["error"]["code"]) == (409, "definition_stale")
        fresh = await definition(http, "gala")
        assert fresh["show"]["contestants"][1]["name"] == "控制台改的"
        redo = await http.post(
            "/api/shows/gala/definition", json={"rev": fresh["rev"], "show": fresh["show"]}
        )
        assert redo.status_code == 200, redo.text
        # A photo uploaded (in the console) since: a copy without it is refused; the page that
        # uploaded it carries it, and its save goes through.
        photo = await http.post("/api/shows/gala/contestants/c02/photo", content=tiny_png())
        assert photo.status_code == 200, photo.text
        body = {"rev": redo.json()["rev"], "show": fresh["show"]}
        drops = await http.post("/api/shows/gala/definition", json=body)
        assert (drops.status_code, drops.json()["error"]["code"]) == (409, "definition_stale")
        fresh["show"]["contestants"][1]["photo"] = httpx.URL(photo.json()["photo"]).params["v"]
        keeps = await http.post("/api/shows/gala/definition", json=body)
        assert keeps.status_code == 200, keeps.text
        rev = keeps.json()["rev"]
        started = await http.post("/api/shows/gala/stage", json={"action": "next"})
        assert started.status_code == 200, started.text
        late = await http.post("/api/shows/gala/definition", json={"rev": rev, "show": show})
        assert (late.status_code, late.json()["error"]["code"]) == (409, "show_started")
        assert not (await definition(http, "gala"))["editable"]
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as t_admin:
        t = await definition(t_admin, "t")
        from_file = await t_admin.post(
            "/api/shows/t/definition", json={"rev": "", "show": t["show"]}
        )
    assert (from_file.status_code, from_file.json()["error"]["code"]) == (409, "show_file")
    assert t["source"] == "file" and not t["editable"]


async def test_a_sheet_imports_all_rows_or_none_and_a_show_file_round_trips(
    server: LiveServer,
) -> None:
    http, _ = await create(server, "gala")
    async with http:
        d = await definition(http, "gala")
        bad = await http.post(
            f"/api/shows/gala/roster?name=r.xlsx&rev={d['rev']}", content=xlsx(forty(bad=True))
        )
        assert bad.status_code == 400, bad.text
        problems = bad.json()["error"]["problems"]
        assert [p["where"] for p in problems] == ["row 8, column name", "row 31, column field"]
        assert len((await definition(http, "gala"))["show"]["contestants"]) == 1
        good = await http.post(
            f"/api/shows/gala/roster?name=r.xlsx&rev={d['rev']}", content=xlsx(forty(bad=False))
        )
        assert good.status_code == 200 and good.json()["contestants"] == 40, good.text
        toml = (await http.get("/api/shows/gala/definition?format=toml")).text
        assert 'name = "选手40"' in toml
        again = await http.post(
            f"/api/shows/gala/definition?rev={good.json()['rev']}",
            content=toml.replace("选手40", "第四十位"),
            headers={"Content-Type": "application/toml"},
        )
        assert again.status_code == 200, again.text
        broken = await http.post(
            f"/api/shows/gala/definition?rev={again.json()['rev']}",
            content=b"id = [",
            headers={"Content-Type": "application/toml"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"]["problems"][0]["where"] == "(syntax)"
    names = [c["name"] for c in (await get(server, "/api/shows/gala")).json()["contestants"]]
    assert len(names) == 40 and names[-1] == "第四十位"


@pytest.mark.parametrize(
    ("preset", "expect_award"), [("weighted", None), ("smart-craftsman", "智慧工匠")]
)
async def test_the_rules_preview_applies_the_picked_preset_to_a_fixed_sample(
    server: LiveServer, preset: str, expect_award: str | None
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    cat = {"id": "x", "name": "奖", "name_en": "Award", "rules": {"preset": preset}}
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        first = await http.post("/api/shows/t/rules-preview", json={"category": cat})
        second = await http.post("/api/shows/t/rules-preview", json={"category": cat})
        cat["rules"] = {"preset": preset, "combine": {"expert_weight": 0, "audience_weight": 1}}
        by_votes = await http.post("/api/shows/t/rules-preview", json={"category": cat})
        cat["rules"] = {"preset": "nope"}
        unknown = await http.post("/api/shows/t/rules-preview", json={"category": cat})
    assert first.status_code == 200, first.text
    assert first.json()["rows"] == second.json()["rows"]  # the sample never changes
    rows = first.json()["rows"]
    assert len(rows) == 5 and rows[0]["place"] == 1
    assert rows[0]["award"] == expect_award
    sample = by_votes.json()["sample"]
    ranked = [r["contestant"] for r in by_votes.json()["rows"]]
    if preset == "weighted":  # audience only: the order of the sample's votes
        assert ranked == sorted(sample, key=lambda c: -sample[c]["votes"])
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "show_invalid"


async def test_an_admin_invites_changes_and_revokes_staff(server: LiveServer) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        invited = await http.post("/api/shows/t/staff", json={"op": "invite", "name": "评委甲"})
        assert invited.status_code == 201, invited.text
        link = httpx.URL(invited.json()["login"])
        assert link.path == "/staff/login" and link.params["show"] == "t"
        member = invited.json()["staff"]
        async with server.client() as judge:
            signed = await judge.post("/staff/login", data=dict(link.params))
        assert signed.headers["location"] == "/judge/t"
        changed = await http.post("/api/shows/t/staff", json={"op": "role", "staff": member,
                                                              "role": "moderator"})  # fmt: skip
        assert changed.json()["role"] == "moderator"
        revoked = await http.post("/api/shows/t/staff", json={"op": "revoke", "staff": member})
        listed = (await http.get("/api/shows/t/staff")).json()["staff"]
    assert revoked.json()["active"] is False
    assert [m["active"] for m in listed if m["id"] == member] == [False]


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_an_organiser_sets_a_show_up_in_the_browser_and_opens_voting(
    server: LiveServer,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    cookie, _ = await staff_login(server, "admin", "Organiser", organiser=1)
    # bypass_csp: the accessibility checker is injected as an inline script.
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    await context.add_cookies([{"name": "live_staff", "value": cookie, "url": server.url}])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{server.url}/admin/t")
    await page.click("#setup-link a")
    await expect(page.locator("#source")).to_contain_text("show file")  # t: from a file

    # Create a show; the link it answers signs the organiser in as its admin.
    await page.fill("#new-id", "gala")
    await page.fill("#new-title", "智慧工匠决赛")
    await page.fill("#new-title-en", "Smart craftsman final")
    await page.click("#create-show")
    await page.click("#sign-in")
    await expect(page).to_have_url(f"{server.url}/admin/gala/setup")
    await expect(page.locator("#contestant-count")).to_have_text("1")

    # A 40-row sheet with two bad rows: both reported, nothing imported; then fixed.
    sheet = tmp_path / "roster.xlsx"
    sheet.write_bytes(xlsx(forty(bad=True)))
    await page.set_input_files("#sheet-file", str(sheet))
    await page.click("#import-sheet")
    problems = page.locator("#problems-table tbody tr")
    await expect(problems).to_have_count(2)
    await expect(problems.first).to_contain_text("row 8, column name")
    await expect(page.locator("#contestant-count")).to_have_text("1")
    await shot(page, "setup-import-refused")
    sheet.write_bytes(xlsx(forty(bad=False)))
    await page.set_input_files("#sheet-file", str(sheet))
    await page.click("#import-sheet")
    await expect(page.locator("#contestant-count")).to_have_text("40")
    await expect(page.locator("#problems")).to_be_hidden()
    assert await serious(page) == []  # axe-core, on the page full of editable rows

    # A photo for contestant 01, then the category's rules with their live preview.
    png = tmp_path / "p.png"
    png.write_bytes(tiny_png())
    await page.set_input_files('input[data-photo="c01"]', str(png))
    await expect(page.locator('tr[data-contestant="c01"] img.thumb')).to_be_visible()
    card = page.locator('.category-setup[data-category="audience"]')
    await card.get_by_label("规则预设 Rules preset audience").select_option("smart-craftsman")
    await expect(card.locator("table.preview tbody tr")).to_have_count(40)
    await expect(card.locator("table.preview tbody tr").first).to_contain_text("智慧工匠")
    # The preset's stage sizes and award counts are the organiser's to adjust.
    await card.get_by_label("智慧工匠 名额 count · audience").fill("3")
    await card.get_by_label("第3轮 前N名 Stage 3: top N by expert · audience").fill("8")
    winners = card.locator("table.preview tbody tr", has_text="智慧工匠")
    await expect(winners).to_have_count(3)
    ARTIFACTS.mkdir(exist_ok=True)
    await card.screenshot(path=str(ARTIFACTS / "setup-category-preview.png"))
    await card.get_by_label("每机票数 Votes per device audience").fill("3")
    await card.get_by_label("投票身份 Voter identity audience").select_option("phone")
    await page.select_option("#show-comments-moderation", "post")
    await page.fill("#show-comments-max", "80")
    await page.click("#save-show")
    await expect(page.locator("#save-state")).to_contain_text("saved")

    # A judge's invite, shown once.
    await page.fill("#invite-name", "评委甲")
    await page.click("#invite")
    await expect(page.locator("#invite-link")).to_have_value(
        re.compile(r"/staff/login\?show=gala&token=")
    )
    await page.locator("#invite-result").scroll_into_view_if_needed()
    await page.screenshot(path=str(ARTIFACTS / "setup-staff.png"))

    # Open voting from the console; a phone sees the 40 contestants with the photo.
    await page.goto(f"{server.url}/admin/gala")
    await page.click('button[data-action="next"]')
    await expect(page.locator("#phase")).to_have_text("presenting")
    await page.select_option("#vote-category", "audience")
    await page.uncheck("#for-contestant")
    await page.click('button[data-action="open_voting"]')
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.goto(f"{server.url}/s/gala")
    category = phone.locator('.category[data-category="audience"]')
    await expect(category.locator("img.thumb")).to_have_count(1)
    await expect(category.locator(".vote:enabled")).to_have_count(40)
    await expect(category).to_contain_text("3")
    await shot(phone, "setup-phone-after")
    state = (await get(server, "/api/shows/gala")).json()
    rules = server.rt.service.show("gala").categories[0].rules
    assert [a.count for a in rules.awards] == [3, 10] and rules.stages[2].n == 8
    comments = server.rt.service.show("gala").comments
    assert (comments.moderation, comments.max_length, comments.per_minute) == ("post", 80, 6)
    audience = state["categories"][0]
    assert audience["open"] and audience["votes_per_device"] == 3
    assert audience["identity"] == "phone"  # one vote per verified phone, across devices
    await expect(category.locator(".badge.identity")).to_have_text("需验证手机号")
    assert state["contestants"][0]["photo"].startswith("/s/gala/c/c01/photo.webp?v=")
    assert errors == []
    await phone.close()
    await context.close()


async def test_a_show_created_with_partitions_spreads_its_votes_and_recounts(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    cookie, csrf = await staff_login(server, "admin", organiser=1)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        new = {"id": "wide", "title": "大", "title_en": "Wide", "partitions": 3}
        made = await http.post("/api/shows", json=new)
    assert made.status_code == 201, made.text
    assert list(server.rt.store.partitions("wide")) == [0, 1, 2]
    owner, session = await sign_in(server, "wide", httpx.URL(made.json()["login"]).params["token"])
    async with staff_client(server, owner, headers={"X-CSRF-Token": session.csrf}) as http:
        for action in ({"action": "next"}, {"action": "open_voting", "category": "audience"}):
            moved = await http.post("/api/shows/wide/stage", json=action)
            assert moved.status_code == 200, moved.text
    for i in range(12):
        async with server.client(server.cookie()) as phone:
            body = vote_body("audience", "c01", f"wide-{i:04d}")
            vote = await phone.post("/api/shows/wide/votes", json=body)
        assert vote.json()["status"] == "accepted", vote.text
    store = server.rt.store
    per_chain = [
        len([f async for _, f in store.ledger_entries("wide", part=p) if f.get("k") == "vote"])
        for p in store.partitions("wide")
    ]
    state = (await get(server, "/api/shows/wide")).json()
    assert state["tallies"]["audience"]["c01"] == 12 and sum(per_chain) == 12
    assert sum(1 for n in per_chain if n) > 1, per_chain  # 12 phones over 3 chains
    # The operator's commands know a show that has no file (the registry's).
    code, out, err = await run_cli(server, monkeypatch, capsys, "verify", "--show", "wide")
    assert code == 0 and "chain 2 head" in out, out + err
