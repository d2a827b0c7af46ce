"""``create_app``: wires settings, Redis, the hub and the edges; owns every task's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from live import guard, ws
from live.broker import Broker
from live.embedded import EmbeddedRedis, find_running
from live.errors import LiveError
from live.flagger import Flagger
from live.flood import Addresses
from live.http import api, judging, moderation, pages, staff
from live.http.headers import SecurityHeaders
from live.http.shed import Shed
from live.hub import Hub
from live.identity import Devices, load_or_create_secret
from live.judging_service import Judging
from live.keys import events_channel
from live.likes import LikeBuffer
from live.moderation import Moderation
from live.moderation_store import ModerationStore
from live.refusals import ANONYMOUS, refused
from live.runtime import Runtime
from live.service import Service
from live.sessions import Sessions
from live.settings import Settings
from live.show import load_shows
from live.store import Store, make_client

log = logging.getLogger("live.app")
FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


async def on_live_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LiveError)
    who = getattr(request.state, "who", ANONYMOUS)
    refused(
        who,
        f"{request.method} {request.url.path}",
        exc.code,
        request.client.host if request.client else "unknown",
        warn=exc.status in (401, 403) or who != ANONYMOUS,
    )
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only the first
    route's, and GET and POST of one path are separate routes here)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "\0"})
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(
        {"error": {"code": code, "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=headers,
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return JSONResponse(
        {"error": {"code": "internal", "message": "unexpected server error"}}, status_code=500
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. Without ``REDIS_URL`` it uses (or starts) the embedded Redis."""
    settings = settings or Settings.from_env()
    shows = load_shows(settings.show_files)  # refuse a bad show file before serving anything
    templates = Jinja2Templates(directory=str(FRONTEND / "templates"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        embedded: EmbeddedRedis | None = None
        url = settings.redis_url or find_running(settings.data_dir)
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir)
            await asyncio.to_thread(embedded.start)
            url = embedded.url
        secret = settings.secret_key or load_or_create_secret(settings.data_dir)
        client = make_client(url, settings.redis_pool_size, settings.redis_timeout_ms)
        store = Store(client, settings.key_prefix, settings.redis_timeout_ms)
        service = Service(shows, store)
        hub = Hub(service.load, service.encode, store.versions, settings.push_interval_ms / 1000)
        likes = LikeBuffer(service.flush_likes, settings.like_flush_ms / 1000)
        service.hub, service.likes = hub, likes
        broker = Broker(client, events_channel(settings.key_prefix), hub.poke)
        for show in shows.values():
            await store.init_show(show)
        sessions = Sessions(store)
        judging_ = Judging(service, store, sessions)
        moderation_store = ModerationStore(store)
        flagger = Flagger(shows, store, moderation_store)
        app.state.runtime = Runtime(
            settings,
            store,
            service,
            hub,
            Devices(secret),
            templates,
            sessions,
            judging_,
            Moderation(service, judging_, moderation_store),
            Addresses(settings.ws_per_ip),
        )
        tasks = [
            asyncio.create_task(hub.run(), name="hub"),
            asyncio.create_task(likes.run(), name="likes"),
            asyncio.create_task(broker.run(), name="broker"),
            asyncio.create_task(service.run_stage_clock(), name="stage-clock"),
            asyncio.create_task(guard.run(hub, sessions), name="socket-guard"),
            asyncio.create_task(flagger.run(), name="flagger"),
        ]
        # Everything made so far lives as long as the process: keep it out of the collector's
        # scans, and collect young objects less often. With thousands of sockets, each holding
        # tasks and frames, a full collection otherwise pauses every push for tens of ms.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        try:
            yield
        finally:
            for task in reversed(tasks):
                task.cancel()
            # Bounded: a task that does not stop must not hold the whole shutdown hostage.
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:
                log.error("background task %s did not stop within 5 s", task.get_name())
            with contextlib.suppress(LiveError):
                await likes.flush()
            await client.aclose()
            await client.connection_pool.disconnect()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    return Starlette(
        routes=[
            *api.routes,
            *pages.routes,
            *staff.routes,
            *judging.routes,
            *moderation.routes,
            *ws.routes,
            Mount("/static", StaticFiles(directory=str(FRONTEND / "static")), name="static"),
        ],
        lifespan=lifespan,
        middleware=[Middleware(Shed, limit=settings.max_inflight), Middleware(SecurityHeaders)],
        exception_handlers={
            LiveError: on_live_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
