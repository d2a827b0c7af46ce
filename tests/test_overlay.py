"""The overlay (key, rotation, freeze) and tallies hidden from viewers until revealed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.helpers import (
    LiveServer,
    next_snapshot,
    snapshot_where,
    staff_client,
    staff_login,
    vote_body,
)


def overlay_socket(server: LiveServer, key: str) -> Any:
    return websockets.connect(f"ws://127.0.0.1:{server.port}/ws/overlay/t?key={key}")


async def test_overlay_page_needs_the_shows_key(server: LiveServer) -> None:
    key = await server.rt.sessions.overlay_key("t")
    async with server.client() as http:
        good = await http.get("/overlay/t", params={"key": key})
        wrong = await http.get("/overlay/t", params={"key": key[:-1] + "x"})
        none = await http.get("/overlay/t")
    assert good.status_code == 200 and 'class="overlay"' in good.text
    assert (wrong.status_code, none.status_code) == (403, 403)


async def test_overlay_updates_when_another_client_votes(server: LiveServer) -> None:
    key = await server.rt.sessions.overlay_key("t")
    async with overlay_socket(server, key) as ws:
        first = await next_snapshot(ws)
        async with server.client(server.cookie()) as http:
            await http.post("/api/shows/t/votes", json=vote_body("cap1", "p2", "overlay-vote"))
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap1"]["p2"] == 1)
    assert first["overlay"] == {"category": "cap1", "pinned": False, "frozen": False, "top": 10}
    assert snap["version"] > first["version"]


async def test_rotating_the_key_closes_overlays_on_the_old_one(server: LiveServer) -> None:
    old = await server.rt.sessions.overlay_key("t")
    async with overlay_socket(server, old) as ws:
        await next_snapshot(ws)
        new = await server.rt.sessions.overlay_key("t", rotate=True)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
    assert new != old
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
    async with server.client() as http:
        assert (await http.get("/overlay/t", params={"key": old})).status_code == 403


async def test_freeze_holds_the_overlays_numbers_while_staff_see_them_move(
    server: LiveServer,
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    key = await server.rt.sessions.overlay_key("t")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as admin:
        assert (await admin.post("/api/shows/t/display", json={"op": "freeze"})).status_code == 200
        async with overlay_socket(server, key) as ws, server.client(server.cookie()) as http:
            await http.post("/api/shows/t/votes", json=vote_body("cap20", "p3", "frozen-vote1"))
            staff_view = (await admin.get("/api/shows/t/staff-state")).json()
            held = await snapshot_where(ws, lambda s: s["overlay"]["frozen"])
            await admin.post("/api/shows/t/display", json={"op": "unfreeze"})
            moved = await snapshot_where(ws, lambda s: not s["overlay"]["frozen"])
    assert staff_view["tallies"]["cap20"]["p3"] == 1
    assert held["tallies"]["cap20"]["p3"] == 0
    assert moved["tallies"]["cap20"]["p3"] == 1


async def test_hidden_tallies_reach_staff_live_and_viewers_only_when_revealed(
    server: LiveServer,
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with server.client(server.cookie()) as http:
        await http.post("/api/shows/t/votes", json=vote_body("secret", "p4", "secret-vote1"))
    async with (
        server.connect("t") as ws,
        staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as admin,
    ):
        before = await next_snapshot(ws)
        staff_view = (await admin.get("/api/shows/t/staff-state")).json()
        await admin.post("/api/shows/t/display", json={"op": "reveal", "category": "secret"})
        after = await snapshot_where(ws, lambda s: "secret" in s["tallies"])
    assert "secret" not in before["tallies"]
    assert staff_view["tallies"]["secret"]["p4"] == 1
    assert after["tallies"]["secret"]["p4"] == 1
    assert after["revealed"] == ["secret"]


async def test_the_board_follows_the_show_unless_the_admin_pins_a_category(
    server: LiveServer,
) -> None:
    """Voting opened in a category puts its board on air (no select to remember); a pinned
    category stays until the admin lets the board follow again."""
    from live.domain.stage import Action

    svc = server.rt.service

    def overlay(state: dict[str, Any]) -> tuple[str, bool]:
        return state["overlay"]["category"], state["overlay"]["pinned"]

    assert overlay(await svc.state("t", "overlay")) == ("cap1", False)  # cap1 starts open
    await svc.stage_action("t", Action("next"), "test")
    await svc.stage_action("t", Action("open_voting", category="cap20"), "test")
    assert overlay(await svc.state("t", "overlay")) == ("cap20", False)
    await svc.set_overlay_category("t", "secret", "test")
    assert overlay(await svc.state("t", "overlay")) == ("secret", True)
    await svc.set_overlay_category("t", "", "test")
    assert overlay(await svc.state("t", "overlay")) == ("cap20", False)
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        pin = await http.post(
            "/api/shows/t/display", json={"op": "overlay_category", "category": "cap1"}
        )
        follow = await http.post(
            "/api/shows/t/display", json={"op": "overlay_category", "category": ""}
        )
        bad = await http.post(
            "/api/shows/t/display", json={"op": "overlay_category", "category": "x"}
        )
    assert (pin.status_code, follow.status_code, bad.status_code) == (200, 200, 404)
    assert overlay(await svc.state("t", "overlay")) == ("cap20", False)
