"""Test helpers: a real uvicorn server in the test's event loop, clients, recount checks."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import websockets
from starlette.applications import Starlette

from live.redis.sessions import Session
from live.settings import Settings
from live.web.app import create_app
from live.web.identity import COOKIE, Devices
from live.web.runtime import Runtime, runtime
from live.web.server import uvicorn_options

DATA = Path(__file__).parent / "data"
SHOW = DATA / "show.toml"
RATE_LIMITED = DATA / "ratelimited.toml"
BIG = DATA / "big.toml"
SECRET = "test-secret-key"


def bound_socket(send_buffer: int = 0) -> socket.socket:
    """A listening address on a free port; ``send_buffer``: the kernel send buffer of every
    accepted connection (Linux copies it from the listener), 0 for the system's default."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class LiveServer:
    app: Starlette
    port: int
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, show: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/shows/{show}"

    @property
    def rt(self) -> Runtime:
        return runtime(self.app)

    def cookie(self) -> str:
        """A fresh device cookie, as the show page would set it."""
        return Devices(SECRET).issue()[1]

    def client(self, cookie: str | None = None, **kw: Any) -> httpx.AsyncClient:
        cookies = {COOKIE: cookie} if cookie else None
        kw.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, cookies=cookies, **kw)

    async def state(self, show: str = "t") -> dict[str, Any]:
        async with self.client() as http:
            reply = await http.get(f"/api/shows/{show}")
        assert reply.status_code == 200
        return dict(reply.json())

    def connect_staff(self, cookie: str, origin: str | None, **kw: Any) -> Any:
        headers = {"Cookie": f"live_staff={cookie}"}
        if origin is not None:
            headers["Origin"] = origin
        return websockets.connect(
            f"ws://127.0.0.1:{self.port}/ws/staff/t",
            additional_headers=headers,
            compression=None,
            **kw,
        )

    def connect(self, show: str, cookie: str | None = None, **kw: Any) -> Any:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else None
        return websockets.connect(
            self.ws_url(show), additional_headers=headers, compression=None, **kw
        )


@contextlib.asynccontextmanager
async def serve(settings: Settings, send_buffer: int = 0) -> AsyncIterator[LiveServer]:
    """A real uvicorn server on a free port, in this event loop; checks the recount at the end."""
    app = create_app(settings)
    sock = bound_socket(send_buffer)
    # The configuration `live serve` uses, quieter and quicker to stop.
    options = uvicorn_options(settings, log_level="warning", timeout_graceful_shutdown=2)
    async with uvicorn_on(uvicorn.Config(app, lifespan="on", **options), sock):
        live = LiveServer(app, sock.getsockname()[1], settings)
        yield live
        await assert_recount(live)


@contextlib.asynccontextmanager
async def uvicorn_on(config: uvicorn.Config, sock: socket.socket) -> AsyncIterator[None]:
    """A uvicorn server with ``config`` on ``sock``, in this event loop, until the block ends."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()


async def assert_recount(live: LiveServer) -> None:
    """The ledger's chain holds, and rebuilding every tally from it gives the live ones."""
    rt = live.rt
    await rt.likes.flush()  # the taps a test's phones sent are counted before the ledger is read
    for show in rt.service.shows.values():
        for _ in range(5):
            verdict = await rt.service.verify(show.id)  # what `live verify` runs
            state = await rt.store.read_state(show)
            if verdict.ok and verdict.recount.likes_taps == state.taps:
                break
            # A flush already in flight when the test ended may land between the two reads
            # (seen once in CI: a like sent just before teardown); read both again.
            await asyncio.sleep(0.2)
        assert verdict.ok, verdict.lines()
        assert verdict.recount.likes_taps == state.taps


async def next_snapshot(ws: Any, wait: float = 5.0) -> dict[str, Any]:
    import json

    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if msg["type"] == "snapshot":
            return dict(msg)


async def snapshot_where(ws: Any, pred: Any, wait: float = 5.0) -> dict[str, Any]:
    """Read snapshots until one satisfies ``pred``."""
    async with asyncio.timeout(wait):
        while True:
            snap = await next_snapshot(ws, wait)
            if pred(snap):
                return snap


def vote_body(category: str, contestant: str, vote_id: str) -> dict[str, str]:
    return {"category": category, "contestant": contestant, "vote_id": vote_id}


async def staff_login(
    live: LiveServer, role: str, name: str = "", show: str = "t", organiser: int = 0
) -> tuple[str, str]:
    """Sign a staff member in through the real login form: (cookie value, CSRF token).
    ``organiser``: the operator also grants them the creation of that many shows."""
    member, token = await live.rt.sessions.invite(show, role, name or f"{role} one")
    if organiser:
        await live.rt.setup.registry.quota("grant", show, member.id, organiser)
    async with live.client() as http:
        reply = await http.post("/staff/login", data={"show": show, "token": token})
    assert reply.status_code == 303, reply.text
    cookie = reply.cookies["live_staff"]
    session = await live.rt.sessions.session(show, cookie.split(".", 1)[1])
    assert session is not None
    return cookie, session.csrf


async def sign_in(live: LiveServer, show: str, token: str) -> tuple[str, Session]:
    """Use a one-time login token through the real form: (cookie value, the session)."""
    async with live.client() as http:
        signed = await http.post("/staff/login", data={"show": show, "token": token})
    cookie = signed.cookies["live_staff"]
    session = await live.rt.sessions.session(show, cookie.split(".", 1)[1])
    assert session is not None, signed.text
    return cookie, session


def staff_client(live: LiveServer, cookie: str, **kw: Any) -> httpx.AsyncClient:
    kw.setdefault("timeout", 10)
    return httpx.AsyncClient(base_url=live.url, cookies={"live_staff": cookie}, **kw)


async def run_cli(
    server: LiveServer, monkeypatch: Any, capsys: Any, *argv: str
) -> tuple[int, str, str]:
    """Run ``live ARGV`` against the server's Redis and shows, as an operator would:
    (exit code, stdout, stderr)."""
    from live import cli

    s = server.settings
    assert s.redis_url is not None
    monkeypatch.setenv("REDIS_URL", s.redis_url)
    monkeypatch.setenv("LIVE_KEY_PREFIX", s.key_prefix)
    monkeypatch.setenv("LIVE_SHOW_FILES", ",".join(str(p) for p in s.show_files))
    monkeypatch.setenv("LIVE_REDIS_CLUSTER", "1" if s.redis_cluster else "")
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def all_entries(live: LiveServer, show: str = "t") -> list[dict[str, str]]:
    """Every ledger entry of ``show``: each partition's chain in turn (one, unless the show
    file sets ``partitions``)."""
    store = live.rt.store
    return [
        fields
        for part in store.partitions(show)
        async for _, fields in store.ledger_entries(show, part=part)
    ]
