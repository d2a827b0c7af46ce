"""Walk every route and websocket operation for every role and check it against the table."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
import websockets
from PIL import Image
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed

from live.domain.access import PUBLIC, ROLES, ROUTES, SOCKETS, WS_OPS, allowed, op_allowed
from tests.helpers import LiveServer, staff_client, staff_login

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/shows/{show}/stage"): {"action": "countdown", "seconds": 30},
    ("POST", "/api/shows/{show}/display"): {"op": "reveal", "category": "secret"},
    ("POST", "/api/shows/{show}/overlay-key"): {},
    ("POST", "/api/shows/{show}/categories/{category}/rules"): {"hide_tallies": True},
    ("POST", "/api/shows/{show}/contestants/{contestant}"): {"name": "新名字"},
    ("POST", "/api/shows/{show}/running-order"): {"order": ["p5", "p4", "p3", "p2", "p1"]},
    ("POST", "/staff/logout"): {},
    ("POST", "/api/shows/{show}/sheets/{category}/{contestant}"): {
        "op": "save",
        "marks": {"innovation": 20},
        "save_id": "walk",
    },
    ("POST", "/api/shows/{show}/approvals/{category}/{contestant}"): {"approve": True},
    ("POST", "/api/shows/{show}/corrections/{category}/{contestant}"): {
        "judge": "nobody",
        "marks": {"innovation": 20, "craft": 20, "presentation": 10, "impact": 10},
        "reason": "walk the table",
    },
    ("POST", "/api/shows/{show}/results/{category}/preview"): {"combine": {"expert_weight": 1}},
    ("POST", "/api/shows/{show}/results/{category}/publish"): {"note": "walk"},
    ("POST", "/api/shows/{show}/voids"): {
        "op": "void",
        "vote_ids": ["walk-0001"],
        "reason": "walk",
    },
    ("POST", "/api/shows/{show}/voids/preview"): {"op": "void", "vote_ids": ["walk-0001"]},
    ("POST", "/api/shows"): {"id": "walk", "title": "走", "title_en": "Walk"},
    ("POST", "/api/shows/{show}/definition"): {"rev": "", "show": {}},
    ("POST", "/api/shows/{show}/rules-preview"): {
        "category": {"id": "x", "name": "奖", "name_en": "Award", "rules": {"preset": "weighted"}}
    },
    ("POST", "/api/shows/{show}/staff"): {"op": "invite", "name": "walk", "role": "judge"},
    ("POST", "/api/shows/{show}/comments/{id}"): {"op": "approve"},
    ("POST", "/api/shows/{show}/wordlist"): {"add": ["walk"]},
    ("POST", "/api/shows/{show}/danmaku"): {"density": 5},
}
ROSTER_CSV = (
    "number,name,name_en,organisation,organisation_en,field,innovation,innovation_en\n"
    "01,甲,Jia,厂,Works,craft,成果,Result\n"
).encode()


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "#c00").save(out, format="PNG")
    return out.getvalue()


A, J, M, S = "admin", "judge", "moderator", "streamer"
EXPECTED: dict[tuple[str, str], set[str]] = {
    # Written out by hand, independently of live.domain.access: the oracle of the walk below.
    ("GET", "/admin/{show}"): {A},
    ("GET", "/judge/{show}"): {A, J},
    ("GET", "/moderate/{show}"): {A, M},
    ("GET", "/api/shows/{show}/staff-state"): {A, J, M},
    ("POST", "/api/shows/{show}/stage"): {A},
    ("POST", "/api/shows/{show}/display"): {A},
    ("POST", "/api/shows/{show}/categories/{category}/rules"): {A},
    ("POST", "/api/shows/{show}/contestants/{contestant}"): {A},
    ("POST", "/api/shows/{show}/running-order"): {A},
    ("POST", "/api/shows/{show}/contestants/{contestant}/photo"): {A},
    ("GET", "/api/shows/{show}/overlay-key"): {A, S},
    ("POST", "/api/shows/{show}/overlay-key"): {A},
    ("GET", "/api/shows/{show}/sheets/{category}"): {A, J},
    ("POST", "/api/shows/{show}/sheets/{category}/{contestant}"): {J},
    ("POST", "/api/shows/{show}/approvals/{category}/{contestant}"): {J},
    ("POST", "/api/shows/{show}/corrections/{category}/{contestant}"): {A},
    ("GET", "/api/shows/{show}/results/{category}"): {A, J, M},
    ("POST", "/api/shows/{show}/results/{category}/preview"): {A},
    ("POST", "/api/shows/{show}/results/{category}/publish"): {A},
    ("GET", "/api/shows/{show}/flags"): {A, M},
    ("POST", "/api/shows/{show}/voids/preview"): {A, M},
    ("POST", "/api/shows/{show}/voids"): {A, M},
    ("GET", "/api/shows/{show}/moderation-log"): {A, M},
    ("GET", "/api/shows/{show}/activity"): {A, M},
    ("GET", "/api/shows/{show}/ingest"): {A},
    ("GET", "/api/shows/{show}/comments"): {A, M},
    ("POST", "/api/shows/{show}/comments/{id}"): {A, M},
    ("GET", "/api/shows/{show}/wordlist"): {A, M},
    ("POST", "/api/shows/{show}/wordlist"): {A},
    ("POST", "/api/shows/{show}/danmaku"): {A},
    ("GET", "/admin/{show}/setup"): {A},
    ("POST", "/api/shows"): {A},
    ("GET", "/api/shows/{show}/definition"): {A},
    ("POST", "/api/shows/{show}/definition"): {A},
    ("POST", "/api/shows/{show}/roster"): {A},
    ("POST", "/api/shows/{show}/rules-preview"): {A},
    ("GET", "/api/shows/{show}/staff"): {A},
    ("POST", "/api/shows/{show}/staff"): {A},
    ("POST", "/staff/logout"): {A, J, M, S},
}


def test_the_table_is_the_expected_matrix() -> None:
    assert {route: set(roles) for route, roles in ROUTES.items()} == EXPECTED


def test_every_route_of_the_app_is_in_the_table(server: LiveServer) -> None:
    seen = set()
    for route in server.app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    seen.add((method, route.path))
        elif isinstance(route, WebSocketRoute):
            assert route.path in SOCKETS
        else:
            assert isinstance(route, Mount) and route.path == "/static"
    assert seen == set(ROUTES) | set(PUBLIC)


@pytest.mark.parametrize("role", [*ROLES, None])
async def test_every_staff_route_for_every_role(server: LiveServer, role: str | None) -> None:
    results = {}
    async with server.client(server.cookie()) as phone:  # a comment to decide on
        posted = await phone.post(
            "/api/shows/t/comments", json={"text": "走", "comment_id": "walk-1234"}
        )
    comment = posted.json()["id"]
    for (method, path), _roles in sorted(ROUTES.items()):
        # Creating a show also needs the operator's organiser grant (not a role): given here,
        # so that this walk tests the roles alone.
        grant = 5 if path == "/api/shows" else 0
        cookie, csrf = await staff_login(server, role, organiser=grant) if role else ("", "")
        async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
            url = path.format(show="t", category="shut", contestant="p1", id=comment)
            if method == "GET":
                reply = await http.get(url)
            elif path.endswith("/photo"):  # the body is an image
                reply = await http.post(url, content=tiny_png())
            elif path.endswith("/roster"):  # the body is a sheet
                reply = await http.post(url + "?name=walk.csv", content=ROSTER_CSV)
            else:
                reply = await http.post(url, json=BODIES[(method, path)])
        results[(method, path)] = reply.status_code
        assert allowed(method, path, role) == (role in EXPECTED[(method, path)])
        if role in EXPECTED[(method, path)]:
            assert reply.status_code < 400 or reply.status_code == 409, (method, path, reply.text)
        else:
            expected = 401 if role is None else 403
            assert reply.status_code == expected, (method, path, role, reply.status_code)
            assert reply.json()["error"]["code"] in ("not_signed_in", "forbidden")
    assert len(results) == len(ROUTES)


async def _socket_for(server: LiveServer, who: str) -> tuple[str, dict[str, str]]:
    """The socket URL and headers for each kind of client in the tables."""
    origin = f"http://127.0.0.1:{server.port}"
    if who == "viewer":
        return "/ws/shows/t", {"Origin": origin}
    if who == "device":
        return "/ws/shows/t", {"Origin": origin, "Cookie": f"live_device={server.cookie()}"}
    if who == "overlay-key":
        key = await server.rt.sessions.overlay_key("t")
        return f"/ws/overlay/t?key={key}", {"Origin": origin}
    cookie, _ = await staff_login(server, who)
    return "", {"Origin": origin, "Cookie": f"live_staff={cookie}"}


WHO = ["viewer", "device", "overlay-key", *ROLES]
OPS = sorted({op for ops in WS_OPS.values() for op in ops})
MESSAGES: dict[str, dict[str, Any]] = {
    "ping": {"type": "ping"},
    "like": {"type": "like", "n": 1},
    "comment": {"type": "comment", "text": "走一走", "comment_id": "walk-comment"},
    "vote": {"type": "vote", "category": "cap20", "contestant": "p1", "vote_id": "walk-vote-1"},
}


@pytest.mark.parametrize("who", WHO)
async def test_every_socket_and_operation_for_every_client(server: LiveServer, who: str) -> None:
    for endpoint in SOCKETS:
        path, headers = await _socket_for(server, who)
        if not path or (who in ("viewer", "device") and endpoint != "/ws/shows/{show}"):
            path = endpoint.format(show="t")
        if who == "overlay-key" and endpoint != "/ws/overlay/{show}":
            path = endpoint.format(show="t")
        if "viewer" in SOCKETS[endpoint]:  # public: everyone is seen as a viewer or a device
            seen_as: str | None = "device" if who == "device" else "viewer"
        else:
            seen_as = who if who in SOCKETS[endpoint] else None
        may_connect = seen_as is not None
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}{path}", additional_headers=headers
        ) as ws:
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), 3))
            except ConnectionClosed as closed:
                assert not may_connect, (endpoint, who, closed.rcvd)
                assert closed.rcvd is not None and closed.rcvd.code in (4401, 4003)
                continue
            assert may_connect, (endpoint, who)
            assert first["type"] == "show"  # then the first snapshot
            assert json.loads(await asyncio.wait_for(ws.recv(), 3))["type"] == "snapshot"
            for op in OPS:
                await ws.send(
                    json.dumps(
                        {**MESSAGES[op], "vote_id": f"walk-{who}-{op}"}
                        if op == "vote"
                        else MESSAGES[op]
                    )
                )
                while (reply := json.loads(await asyncio.wait_for(ws.recv(), 3)))[
                    "type"
                ] == "snapshot":
                    pass
                refused = reply["type"] == "error" and reply["code"] in (
                    "forbidden",
                    "device_required",
                )
                assert seen_as is not None
                assert refused is not op_allowed(endpoint, op, seen_as), (endpoint, who, op, reply)
