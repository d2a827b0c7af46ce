"""Scripted attacks on a running server, one test each: every one is refused (or, for script
injection, rendered inert), and every refusal is logged by ``live.refusals`` with who and what."""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import websockets

from live.web.identity import COOKIE
from tests.conftest import make_settings
from tests.helpers import (
    RATE_LIMITED,
    SHOW,
    LiveServer,
    serve,
    staff_client,
    staff_login,
    vote_body,
)

FOREIGN = "https://evil.example"
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture
async def server(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """Two shows on one server (``t`` and ``rl``), so cross-show attacks can be tried."""
    async with serve(make_settings(redis_url, prefix, tmp_path, SHOW, RATE_LIMITED)) as live:
        yield live


@pytest.fixture
def refusals(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="live.refusals")
    return caplog


def logged(caplog: pytest.LogCaptureFixture, who: str, what: str, code: str | int) -> None:
    """A refusal record naming ``who`` (a prefix), ``what`` (a substring) and ``code``."""
    for rec in caplog.records:
        if rec.name != "live.refusals":
            continue
        r: Any = rec
        if str(r.who).startswith(who) and what in r.what and r.code == code:
            return
    lines = [r.getMessage() for r in caplog.records if r.name == "live.refusals"]
    raise AssertionError(f"no refusal of {who} {what} ({code}) in {lines}")


async def judge_id(server: LiveServer, cookie: str) -> str:
    session = await server.rt.sessions.session("t", cookie.split(".", 1)[1])
    assert session is not None
    return session.staff


async def submit_sheet(server: LiveServer, cookie: str, csrf: str, marks: dict[str, int]) -> None:
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post(
            "/api/shows/t/sheets/cap20/p1",
            json={"op": "submit", "marks": marks, "save_id": "s1"},
        )
    assert reply.status_code == 200, reply.text


MARKS = {"innovation": 20, "craft": 20, "presentation": 10, "impact": 10}

# --- judges, moderators and mass assignment -----------------------------------------------


async def test_judge_cannot_correct_another_judges_sheet(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    victim, victim_csrf = await staff_login(server, "judge", "Judge victim")
    await submit_sheet(server, victim, victim_csrf, MARKS)
    attacker, csrf = await staff_login(server, "judge", "Judge attacker")
    body = {"judge": await judge_id(server, victim), "marks": {**MARKS, "innovation": 0},
            "reason": "I say so"}  # fmt: skip
    async with staff_client(server, attacker, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/corrections/cap20/p1", json=body)
    assert reply.status_code == 403
    async with staff_client(server, victim) as http:
        rows = (await http.get("/api/shows/t/sheets/cap20")).json()["rows"]
    assert next(r for r in rows if r["contestant"] == "p1")["marks"]["innovation"] == "20"
    logged(refusals, "judge:", "/corrections/cap20/p1", "forbidden")


async def test_judge_cannot_name_another_judge_in_their_own_sheet(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    victim, _ = await staff_login(server, "judge", "Judge victim")
    attacker, csrf = await staff_login(server, "judge", "Judge attacker")
    body = {"op": "save", "marks": MARKS, "save_id": "x1", "judge": await judge_id(server, victim)}
    async with staff_client(server, attacker, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/sheets/cap20/p1", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "bad_request"
    async with staff_client(server, victim) as http:
        rows = (await http.get("/api/shows/t/sheets/cap20")).json()["rows"]
    assert all(r["state"] == "empty" for r in rows)
    logged(refusals, "judge:", "/sheets/cap20/p1", "bad_request")


async def test_judge_sees_only_their_own_sheets(server: LiveServer) -> None:
    victim, victim_csrf = await staff_login(server, "judge", "Judge victim")
    await submit_sheet(server, victim, victim_csrf, MARKS)
    other, _ = await staff_login(server, "judge", "Judge other")
    async with staff_client(server, other) as http:
        rows = (await http.get("/api/shows/t/sheets/cap20")).json()["rows"]
    assert all(r["state"] == "empty" for r in rows)


async def test_moderator_of_one_show_cannot_void_in_another(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    async with server.client(server.cookie()) as http:
        vote = await http.post("/api/shows/rl/votes", json=vote_body("many", "p1", "victim-vote-1"))
    assert vote.json()["status"] == "accepted"
    cookie, csrf = await staff_login(server, "moderator")  # a moderator of show t
    body = {"op": "void", "vote_ids": ["victim-vote-1"], "reason": "cross-show"}
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/rl/voids", json=body)
    assert reply.status_code == 401
    assert (await server.state("rl"))["tallies"]["many"]["p1"] == 1
    logged(refusals, "anonymous", "POST /api/shows/rl/voids", "not_signed_in")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/shows/t/contestants/p1", {"name": "x", "role": "admin"}),
        ("/api/shows/t/contestants/p1", {"votes": 100000}),
        ("/api/shows/t/categories/cap20/rules", {"expert_weight": 1, "votes_per_device": 5}),
        ("/api/shows/t/stage", {"action": "next", "by": "admin:root"}),
    ],
    ids=["role", "votes", "weight", "actor"],
)
async def test_mass_assignment_of_unknown_fields_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture, path: str, body: dict[str, Any]
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    before = await server.state()
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post(path, json=body)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "bad_request"
    assert (await server.state())["version"] == before["version"]
    logged(refusals, "admin:", path, "bad_request")


async def test_mass_assignment_of_a_vote_weight_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    body = {**vote_body("cap20", "p1", "weighted-vote-1"), "weight": 1000}
    async with server.client(server.cookie()) as http:
        reply = await http.post("/api/shows/t/votes", json=body)
    assert reply.status_code == 400
    assert (await server.state())["tallies"]["cap20"]["p1"] == 0
    logged(refusals, "anonymous", "/api/shows/t/votes", "bad_request")


async def test_login_form_cannot_choose_its_role(server: LiveServer) -> None:
    _, token = await server.rt.sessions.invite("t", "judge", "Judge climber")
    async with server.client() as http:
        reply = await http.post("/staff/login", data={"show": "t", "token": token, "role": "admin"})
    cookie = reply.cookies["live_staff"]
    session = await server.rt.sessions.session("t", cookie.split(".", 1)[1])
    assert session is not None and session.role == "judge"
    async with staff_client(server, cookie) as http:
        assert (await http.get("/admin/t")).status_code == 403


# --- sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cookie", ["t.forged-session-id-0000000000000000000000000", "t.", "rl.x", "t"]
)
async def test_forged_staff_session_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture, cookie: str
) -> None:
    async with staff_client(server, cookie) as http:
        reply = await http.get("/api/shows/t/staff-state")
    assert reply.status_code == 401
    logged(refusals, "anonymous", "/api/shows/t/staff-state", "not_signed_in")


async def test_tampered_staff_session_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    cookie, _ = await staff_login(server, "admin")
    flipped = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    async with staff_client(server, flipped) as http:
        assert (await http.get("/admin/t")).status_code == 401
    logged(refusals, "anonymous", "GET /admin/t", "not_signed_in")


async def test_expired_staff_session_is_refused(
    server: LiveServer, redis_admin_url: str, refusals: pytest.LogCaptureFixture
) -> None:
    cookie, _ = await staff_login(server, "admin")
    session = await server.rt.sessions.session("t", cookie.split(".", 1)[1])
    assert session is not None
    admin = aioredis.from_url(redis_admin_url)
    try:  # the 12-hour TTL runs out now
        key = f"{server.rt.store.keys('t').base}:sess:{session.key}"
        assert await admin.pexpire(key, 1)
    finally:
        await admin.aclose()
    async with staff_client(server, cookie) as http:
        assert (await http.get("/admin/t")).status_code == 401
    logged(refusals, "anonymous", "GET /admin/t", "not_signed_in")


async def test_staff_cookie_replayed_after_logout_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        assert (await http.post("/staff/logout")).status_code == 200
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/stage", json={"action": "end"})
    assert reply.status_code == 401
    assert (await server.state())["stage"]["phase"] == "waiting"
    logged(refusals, "anonymous", "POST /api/shows/t/stage", "not_signed_in")


async def test_session_fixation_planted_cookie_never_becomes_a_session(server: LiveServer) -> None:
    planted = "t.attacker-chosen-session-id-1234567890"
    _, token = await server.rt.sessions.invite("t", "admin", "Victim admin")
    async with staff_client(server, planted) as http:
        reply = await http.post("/staff/login", data={"show": "t", "token": token})
    issued = reply.cookies["live_staff"]
    assert issued != planted
    async with staff_client(server, planted) as http:
        assert (await http.get("/admin/t")).status_code == 401
    async with staff_client(server, issued) as http:
        assert (await http.get("/admin/t")).status_code == 200


async def test_used_login_link_cannot_be_replayed(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    _, token = await server.rt.sessions.invite("t", "admin", "Once")
    async with server.client() as http:
        first = await http.post("/staff/login", data={"show": "t", "token": token})
        second = await http.post("/staff/login", data={"show": "t", "token": token})
    assert first.status_code == 303
    assert second.status_code == 400 and second.json()["error"]["code"] == "invite_invalid"
    logged(refusals, "anonymous", "POST /staff/login", "invite_invalid")


# --- CSRF and cross-site requests ----------------------------------------------------------


@pytest.mark.parametrize("token", ["", "other"], ids=["without-token", "other-sessions-token"])
async def test_csrf_without_the_sessions_own_token_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture, token: str
) -> None:
    cookie, _ = await staff_login(server, "admin")
    if token == "other":
        _, token = await staff_login(server, "admin", "Other admin")
    headers = {"X-CSRF-Token": token} if token else {}
    async with staff_client(server, cookie, headers=headers) as http:
        reply = await http.post("/api/shows/t/stage", json={"action": "end"})
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "csrf_failed"
    assert (await server.state())["stage"]["phase"] == "waiting"
    logged(refusals, "admin:", "POST /api/shows/t/stage", "csrf_failed")


async def test_staff_post_from_another_site_is_refused_even_with_the_token(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    headers = {"X-CSRF-Token": csrf, "Origin": FOREIGN}
    async with staff_client(server, cookie, headers=headers) as http:
        reply = await http.post("/api/shows/t/stage", json={"action": "end"})
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "forbidden_origin"
    logged(refusals, "admin:", "POST /api/shows/t/stage", "forbidden_origin")


async def test_vote_posted_from_another_site_is_refused(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    async with server.client(server.cookie(), headers={"Origin": FOREIGN}) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p1", "csrf-vote-1"))
    assert reply.status_code == 403
    assert (await server.state())["tallies"]["cap20"]["p1"] == 0
    logged(refusals, "anonymous", "/api/shows/t/votes", "forbidden_origin")


async def test_forged_device_cookie_cannot_vote(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    forged = server.cookie()[:-2] + "xx"
    async with server.client(forged) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p1", "forged-1"))
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "device_required"
    logged(refusals, "anonymous", "/api/shows/t/votes", "device_required")


# --- websockets -----------------------------------------------------------------------------


async def close_code(connect: Any) -> int | None:
    """Connect and read until the server closes: its close code."""
    try:
        async with connect as ws:
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    return None


@pytest.mark.parametrize("origin", [FOREIGN, None, "null"], ids=["foreign", "missing", "null"])
async def test_cross_site_websocket_hijacking_of_the_staff_socket(
    server: LiveServer, refusals: pytest.LogCaptureFixture, origin: str | None
) -> None:
    cookie, _ = await staff_login(server, "admin")
    assert await close_code(server.connect_staff(cookie, origin)) == 4403
    logged(refusals, "anonymous", "ws /ws/staff/t", 4403)


@pytest.mark.parametrize("origin", [FOREIGN, "null"], ids=["foreign", "null"])
async def test_cross_site_websocket_hijacking_of_a_phone(
    server: LiveServer, refusals: pytest.LogCaptureFixture, origin: str
) -> None:
    connect = websockets.connect(
        server.ws_url("t"),
        additional_headers={"Cookie": f"{COOKIE}={server.cookie()}", "Origin": origin},
    )
    assert await close_code(connect) == 4403
    logged(refusals, "anonymous", "ws /ws/shows/t", 4403)


async def test_viewer_sending_staff_operations_gets_errors_and_changes_nothing(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    before = await server.state()
    ops = [
        {"type": "stage", "action": "end"},
        {"type": "void", "vote_ids": ["x" * 8], "reason": "because"},
        {"type": "publish", "category": "cap20"},
        {"type": "display", "op": "freeze"},
    ]
    async with server.connect("t", server.cookie()) as ws:
        await ws.recv()  # the show
        await ws.recv()  # the first snapshot
        for op in ops:
            await ws.send(json.dumps(op))
            reply = json.loads(await ws.recv())
            while reply["type"] in ("show", "snapshot"):
                reply = json.loads(await ws.recv())
            assert reply["type"] == "error" and reply["code"] == "bad_request"
    after = await server.state()
    assert after["stage"] == before["stage"] and after["version"] == before["version"]
    logged(refusals, "device", "ws /ws/shows/{show} 'stage'", "bad_request")


async def test_phone_without_a_session_cannot_open_the_staff_socket(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    origin = server.url
    assert await close_code(server.connect_staff("t.nothing-here", origin)) == 4401
    logged(refusals, "anonymous", "ws /ws/staff/t", 4401)


async def test_streamer_cannot_open_the_staff_socket(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    cookie, _ = await staff_login(server, "streamer")
    assert await close_code(server.connect_staff(cookie, server.url)) == 4003
    logged(refusals, "streamer:", "ws /ws/staff/t", 4003)


# --- addresses and overlay keys --------------------------------------------------------------


async def test_spoofed_forwarded_for_from_an_untrusted_address_is_ignored(
    server: LiveServer,
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9", "User-Agent": "Mozilla/5.0 (iPhone)"}
    async with server.client(server.cookie(), headers=headers) as http:
        reply = await http.post("/api/shows/t/votes", json=vote_body("cap20", "p2", "xff-vote-1"))
    assert reply.json()["status"] == "accepted"
    ledger = server.rt.store.ledger_entries("t")
    entries = [f async for _, f in ledger if f.get("vid") == "xff-vote-1"]
    pseudonym = await server.rt.store.pseudonym("t")
    assert entries and entries[0]["pip"] == pseudonym("127.0.0.1")  # the peer, not the header


async def test_overlay_key_of_one_show_does_not_open_another(
    server: LiveServer, refusals: pytest.LogCaptureFixture
) -> None:
    key = await server.rt.sessions.overlay_key("t")
    async with server.client() as http:
        own = await http.get("/overlay/t", params={"key": key})
        other = await http.get("/overlay/rl", params={"key": key})
    assert own.status_code == 200
    assert other.status_code == 403
    logged(refusals, "anonymous", "GET /overlay/rl", "forbidden")
    connect = websockets.connect(f"ws://127.0.0.1:{server.port}/ws/overlay/rl?key={key}")
    assert await close_code(connect) == 4003
    logged(refusals, "anonymous", "ws /ws/overlay/rl", 4003)


# --- script injection -----------------------------------------------------------------------

FIELDS = ["name", "name_en", "organisation", "organisation_en", "innovation", "innovation_en"]


@pytest.mark.parametrize("field", FIELDS)
async def test_script_in_a_contestant_field_is_escaped_on_every_page(
    server: LiveServer, field: str
) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        edit = await http.post("/api/shows/t/contestants/p1", json={field: XSS})
        assert edit.status_code == 200, edit.text
        pages = [await http.get("/admin/t"), await http.get("/judge/t")]
    key = await server.rt.sessions.overlay_key("t")
    async with server.client() as http:
        pages += [
            await http.get("/s/t"),
            await http.get("/s/t?lang=en"),
            await http.get("/overlay/t", params={"key": key}),
        ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    state = await server.state()
    assert any(c[field] == XSS for c in state["contestants"])  # stored as given, shown as text


async def test_script_in_a_publication_note_and_a_staff_name_is_escaped(
    server: LiveServer,
) -> None:
    cookie, csrf = await staff_login(server, "admin", XSS)
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        console = await http.get("/admin/t")
        published = await http.post("/api/shows/t/results/cap20/publish", json={"note": XSS})
    assert published.status_code == 200, published.text
    async with server.client() as http:
        results = await http.get("/results/t/cap20")
    for page in (console, results):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in results.text


def test_frontend_scripts_never_put_data_into_html() -> None:
    """Pages render server data with textContent; the only innerHTML is a fixed string."""
    root = Path(__file__).resolve().parent.parent / "frontend" / "static"
    for path in root.glob("*.js"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "innerHTML" in line or "insertAdjacentHTML" in line or "outerHTML" in line:
                value = line.split("=", 1)[1].strip() if "=" in line else ""
                assert value.startswith("'") and value.endswith("';") and "${" not in value, (
                    f"{path.name}:{n} builds HTML from data: {line.strip()}"
                )


# --- secrets -----------------------------------------------------------------------------------

SECRET_WORDS = ("secret", "token", "csrf", "password", "key", "sid", "signature", "digest", "mac")
NOT_SECRETS = {"key_prefix", "keys", "keymap", "keyed", "monkey", "hotkey", "api_key"}


def _names(node: ast.expr) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id.lower())
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr.lower())
    return out


def _secret_like(name: str) -> bool:
    if name in NOT_SECRETS:
        return False
    parts = name.strip("_").split("_")
    return any(p in SECRET_WORDS for p in parts)


def test_no_secret_is_compared_with_equality() -> None:
    """Secrets are compared with ``hmac.compare_digest`` (``same_secret``), never ``==``/``!=``:
    an ordinary comparison stops at the first differing byte and leaks it through timing. A
    comparison of a public value whose name looks secret says so: ``# public: why``."""
    root = Path(__file__).resolve().parent.parent / "live"
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Compare) or "# public:" in lines[node.lineno - 1]:
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Constant) and s.value is None for s in sides):
                continue
            names = set().union(*(_names(s) for s in sides))
            if any(_secret_like(n) for n in names):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert found == [], f"secrets compared with == / !=: {found}"


def test_the_secret_grep_catches_a_plain_comparison() -> None:
    tree = ast.parse("if given_token == session.csrf: pass")
    compare = next(n for n in ast.walk(tree) if isinstance(n, ast.Compare))
    names = _names(compare.left) | _names(compare.comparators[0])
    assert any(_secret_like(n) for n in names)
