"""Staff: one-time invites, server-side sessions, CSRF, revocation, security headers."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers import LiveServer, next_snapshot, staff_client, staff_login


async def test_invite_link_signs_in_once_with_a_strict_httponly_cookie(server: LiveServer) -> None:
    _, token = await server.rt.sessions.invite("t", "admin", "Ada")
    async with server.client() as http:
        page = await http.get("/staff/login", params={"show": "t", "token": token})
        first = await http.post("/staff/login", data={"show": "t", "token": token})
        again = await http.post("/staff/login", data={"show": "t", "token": token})
    assert page.status_code == 200 and 'name="token"' in page.text
    assert first.status_code == 303 and first.headers["location"] == "/admin/t"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invite_invalid"


async def test_login_rotates_the_session_and_ends_the_previous_one(server: LiveServer) -> None:
    old_cookie, _ = await staff_login(server, "judge")
    _, token = await server.rt.sessions.invite("t", "judge", "Judge two")
    async with staff_client(server, old_cookie) as http:
        reply = await http.post("/staff/login", data={"show": "t", "token": token})
        new_cookie = reply.cookies["live_staff"]
    assert new_cookie != old_cookie
    async with staff_client(server, old_cookie) as http:
        assert (await http.get("/judge/t")).status_code == 401
    async with staff_client(server, new_cookie) as http:
        assert (await http.get("/judge/t")).status_code == 200


async def test_staff_commands_need_the_sessions_own_csrf_token(server: LiveServer) -> None:
    cookie, csrf = await staff_login(server, "admin")
    _, other_csrf = await staff_login(server, "admin", "Other admin")
    body = {"action": "next"}
    async with staff_client(server, cookie) as http:
        missing = await http.post("/api/shows/t/stage", json=body)
        foreign = await http.post(
            "/api/shows/t/stage", json=body, headers={"X-CSRF-Token": other_csrf}
        )
        cross_site = await http.post(
            "/api/shows/t/stage",
            json=body,
            headers={"X-CSRF-Token": csrf, "Origin": "http://evil.test"},
        )
        good = await http.post("/api/shows/t/stage", json=body, headers={"X-CSRF-Token": csrf})
    assert (missing.status_code, missing.json()["error"]["code"]) == (403, "csrf_failed")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "csrf_failed")
    assert cross_site.status_code == 403
    assert good.status_code == 200 and good.json()["stage"]["phase"] == "presenting"


async def test_cookie_replayed_after_logout_is_refused(server: LiveServer) -> None:
    cookie, csrf = await staff_login(server, "moderator")
    async with staff_client(server, cookie) as http:
        out = await http.post("/staff/logout", headers={"X-CSRF-Token": csrf})
    async with staff_client(server, cookie) as http:
        replay = await http.get("/moderate/t")
    assert out.status_code == 200
    assert replay.status_code == 401


async def test_illegal_stage_action_is_a_409_with_a_clear_error(server: LiveServer) -> None:
    cookie, csrf = await staff_login(server, "admin")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await http.post("/api/shows/t/stage", json={"action": "close_voting"})
        bad = await http.post("/api/shows/t/stage", json={"action": "next", "seconds": "x"})
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "illegal_transition"
    assert "waiting" in reply.json()["error"]["message"]
    assert bad.status_code == 400


async def test_revoked_staff_sockets_close_within_a_second(server: LiveServer) -> None:
    cookie, _ = await staff_login(server, "judge", "Judge to revoke")
    session = await server.rt.sessions.session("t", cookie.split(".", 1)[1])
    assert session is not None
    origin = f"http://127.0.0.1:{server.port}"
    async with server.connect_staff(cookie, origin=origin) as ws:
        await next_snapshot(ws)
        await server.rt.sessions.revoke("t", session.staff)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
        took = asyncio.get_running_loop().time() - started
    print(f"revoked staff socket closed after {took * 1000:.0f} ms")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert took < 1.5, f"closed after {took:.2f}s"


async def test_downgraded_staff_sockets_close_with_4003(server: LiveServer) -> None:
    cookie, _ = await staff_login(server, "moderator", "Mod to downgrade")
    session = await server.rt.sessions.session("t", cookie.split(".", 1)[1])
    assert session is not None
    async with server.connect_staff(cookie, origin=f"http://127.0.0.1:{server.port}") as ws:
        await next_snapshot(ws)
        await server.rt.sessions.set_role("t", session.staff, "streamer")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003


@pytest.mark.parametrize("origin", [None, "null", "http://evil.test"])
async def test_staff_socket_refuses_foreign_missing_and_null_origin(
    server: LiveServer, origin: str | None
) -> None:
    cookie, _ = await staff_login(server, "admin")
    async with server.connect_staff(cookie, origin=origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


@pytest.mark.parametrize(
    ("path", "frame"),
    [("/s/t", "'none'"), ("/admin/t", "'none'"), ("/", "'none'"), ("/overlay/t", "*")],
)
async def test_pages_send_security_headers(server: LiveServer, path: str, frame: str) -> None:
    cookie, _ = await staff_login(server, "admin")
    if path.startswith("/overlay"):
        path += "?key=" + await server.rt.sessions.overlay_key("t")
    async with staff_client(server, cookie) as http:
        reply = await http.get(path)
    assert reply.status_code == 200
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert f"frame-ancestors {frame}" in csp
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "same-origin"
    assert ("x-frame-options" in reply.headers) is (frame == "'none'")


def test_staff_cli_invites_lists_and_revokes(redis_url: str, prefix: str) -> None:
    env = {"REDIS_URL": redis_url, "LIVE_KEY_PREFIX": prefix, "PATH": "/usr/bin:/bin"}

    def live(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "live", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    out = live("staff", "invite", "--show", "demo", "--role", "judge", "--name", "Judge 3")
    staff_id = out.split()[0]
    assert "/staff/login?show=demo&token=" in out
    assert f"{staff_id}  judge      active   Judge 3" in live("staff", "list", "--show", "demo")
    live("staff", "revoke", "--show", "demo", "--name", "Judge 3")
    assert "revoked  Judge 3" in live("staff", "list", "--show", "demo")
