"""Editing before the show: running order and details while waiting; rules until voting starts."""

from __future__ import annotations

from live.domain.stage import Action
from tests.helpers import LiveServer, staff_client, staff_login, vote_body


async def admin(server: LiveServer) -> tuple[str, str]:
    return await staff_login(server, "admin")


async def test_rules_change_before_voting_starts_and_apply_to_votes(server: LiveServer) -> None:
    cookie, csrf = await admin(server)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        edited = await http.post("/api/shows/t/categories/shut/rules", json={"votes_per_device": 2})
    assert edited.status_code == 200
    await server.rt.store.set_voting(server.rt.service.show("t"), "shut", True)
    async with server.client(server.cookie()) as phone:
        statuses = [
            (
                await phone.post(
                    "/api/shows/t/votes", json=vote_body("shut", f"p{i}", f"rule-vote-{i}")
                )
            ).json()["status"]
            for i in (1, 2, 3)
        ]
    assert statuses == ["accepted", "accepted", "duplicate"]
    snap = await server.state()
    assert snap["categories"][2]["votes_per_device"] == 2


async def test_rules_are_frozen_once_voting_started(server: LiveServer) -> None:
    cookie, csrf = await admin(server)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        frozen = await http.post("/api/shows/t/categories/cap1/rules", json={"votes_per_device": 9})
        bad = await http.post("/api/shows/t/categories/shut/rules", json={"votes_per_device": 0})
        nothing = await http.post("/api/shows/t/categories/shut/rules", json={})
    assert frozen.status_code == 409
    assert frozen.json()["error"]["code"] == "rules_frozen"
    assert (bad.status_code, nothing.status_code) == (400, 400)
    assert (await server.state())["categories"][0]["votes_per_device"] == 1


async def test_details_and_running_order_change_while_waiting_then_freeze(
    server: LiveServer,
) -> None:
    cookie, csrf = await admin(server)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        renamed = await http.post(
            "/api/shows/t/contestants/p3", json={"name": "王<b>三</b>", "innovation_en": "New"}
        )
        reordered = await http.post(
            "/api/shows/t/running-order", json={"order": ["p3", "p1", "p2", "p4", "p5"]}
        )
        incomplete = await http.post("/api/shows/t/running-order", json={"order": ["p1", "p2"]})
        snap = await server.state()
        await server.rt.service.stage_action("t", Action("next"), "test")
        await server.rt.service.stage_action("t", Action("next"), "test")
        late = await http.post("/api/shows/t/contestants/p1", json={"name": "Too late"})
    assert (renamed.status_code, reordered.status_code, incomplete.status_code) == (200, 200, 400)
    assert [c["id"] for c in snap["contestants"]] == ["p3", "p1", "p2", "p4", "p5"]
    assert snap["contestants"][0]["name"] == "王<b>三</b>"
    assert snap["contestants"][0]["innovation_en"] == "New"
    stage = await server.rt.store.read_stage("t")
    assert stage.contestant == "p1"  # next follows the edited running order: p3, then p1
    assert late.status_code == 409 and late.json()["error"]["code"] == "show_started"
    async with server.client() as http:
        page = await http.get("/s/t")
    assert "王&lt;b&gt;三&lt;/b&gt;" in page.text
