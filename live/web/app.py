"""``create_app``: wires settings, Redis, the hub and the edges; owns every task's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from live.domain.errors import ConfigError, LiveError
from live.domain.identity import send_policy
from live.domain.ingest.source import endpoint_problems
from live.domain.show import Show, load_shows
from live.ingest.link import adapters
from live.realtime import guard
from live.realtime.flagger import LEASE_MS, Flagger
from live.realtime.flood import Addresses
from live.realtime.hub import Hub
from live.realtime.likes import LikeBuffer
from live.realtime.supervisor import Supervisor
from live.redis.comments import CommentStore
from live.redis.embedded import EmbeddedRedis, find_running
from live.redis.identity import IdentityStore
from live.redis.ingest import IngestStore
from live.redis.moderation import ModerationStore
from live.redis.pubsub import Broker
from live.redis.registry import Registry
from live.redis.sessions import Sessions
from live.redis.store import close_client, open_store
from live.services.activity import ActivityFeed
from live.services.comments import Comments
from live.services.identity import Identity, SiteVerify
from live.services.ingest import Ingest
from live.services.judging import Judging
from live.services.moderation import Moderation
from live.services.setup import Setup
from live.services.shows import Service
from live.services.signin import Oidc, WeChat
from live.services.sms import provider as sms_provider
from live.settings import Settings
from live.web import ws
from live.web.headers import SecurityHeaders
from live.web.http import api, judging, moderation, pages, setup, staff
from live.web.http import comments as comments_http
from live.web.http import identity as identity_http
from live.web.http import ingest as ingest_http
from live.web.identity import Devices, Identities, load_or_create_secret
from live.web.refusals import ANONYMOUS, refused
from live.web.runtime import Runtime
from live.web.shed import Shed

log = logging.getLogger("live.app")
FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


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


def drain(app: Starlette, seconds: float, owned: contextlib.AsyncExitStack) -> None:
    """From the moment SIGTERM arrives, ``/readyz`` answers 503 ``draining``; the server's own
    handler (uvicorn's: stop accepting, close sockets with 1001, end) runs ``seconds`` later,
    so a balancer's probes see the 503 first. Only in the main thread (where signals land);
    the handler found is put back when the app ends."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    loop = asyncio.get_running_loop()

    def on_term(signum: int, frame: FrameType | None) -> None:
        app.state.runtime.draining = True
        log.warning("SIGTERM: draining (not ready) for %.1f s, then stopping", seconds)
        if callable(previous):
            loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)
        else:  # no server handler: the signal's own action, once drained

            def again() -> None:
                signal.signal(signal.SIGTERM, previous)
                signal.raise_signal(signal.SIGTERM)

            loop.call_soon_threadsafe(loop.call_later, seconds, again)

    signal.signal(signal.SIGTERM, on_term)
    owned.callback(signal.signal, signal.SIGTERM, previous)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. Without ``REDIS_URL`` it uses (or starts) the embedded Redis."""
    settings = settings or Settings.from_env()
    shows = load_shows(settings.show_files)  # refuse a bad show file before serving anything
    unreachable = [
        f"show {show.id!r}: {why}"
        for show in shows.values()
        for src in show.ingest
        for why in endpoint_problems(src, settings.ingest_endpoints)
    ]
    if unreachable:
        raise ConfigError("; ".join(unreachable))
    templates = Jinja2Templates(directory=str(FRONTEND / "templates"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Every resource is closed in reverse order of opening, also when start-up fails half
        # way (a show that cannot be seeded must not leave a redis-server or a pool behind).
        async with contextlib.AsyncExitStack() as owned:
            url = settings.redis_url or find_running(settings.data_dir)
            if url is None:
                embedded = EmbeddedRedis(settings.data_dir)
                await asyncio.to_thread(embedded.start)
                owned.push_async_callback(asyncio.to_thread, embedded.stop)
                embedded.supervise()
                url = embedded.url
            secret = settings.secret_key or load_or_create_secret(settings.data_dir)
            store = open_store(settings, url)
            owned.push_async_callback(close_client, store.client)
            service = Service(shows, store)
            hub = Hub(
                service.load, service.encode, store.versions, settings.push_interval_ms / 1000
            )
            likes = LikeBuffer(service.flush_likes, settings.like_flush_ms / 1000)
            service.likes = likes
            service.changed = hub.changed
            channels = [store.keys(show).events for show in shows]
            broker = Broker(store.client, channels, hub.poke)
            for show in shows.values():
                await store.init_show(show)
            sessions = Sessions(store)
            judging_ = Judging(service, store, sessions)
            moderation_store = ModerationStore(store)
            flagger = Flagger(shows, store, moderation_store) if settings.flagger_inline else None
            setup = Setup(
                service,
                Registry(store),
                sessions,
                frozenset(shows),
                endpoints=settings.ingest_endpoints,
            )

            def added(show: Show) -> None:  # a show set up in the browser, or redefined
                broker.add(store.keys(show.id).events)
                hub.redefined(show.id)

            service.added = added
            await setup.sync()  # the shows set up in the browser, served from the start
            # A task that has not beaten for this long counts as down in /healthz: well past
            # its own period and the Redis budget it may spend waiting on one call.
            stale = max(5.0, 3 * settings.redis_timeout_ms / 1000)
            supervisor = Supervisor()
            supervisor.add("hub", hub.run, stale)
            supervisor.add("likes", likes.run, stale)
            supervisor.add("broker", broker.run, stale)
            supervisor.add("stage-clock", lambda beat: service.run_stage_clock(beat=beat), stale)
            supervisor.add("socket-guard", lambda beat: guard.run(hub, sessions, beat=beat), stale)
            supervisor.add("registry", setup.run, stale)
            if flagger is not None:
                supervisor.add("flagger", flagger.run, stale + 2 * LEASE_MS / 1000)
            comments = Comments(service, CommentStore(store))  # word lists: read by load_shows
            supervisor.add("comments", comments.run, stale)
            ingest = Ingest(service, IngestStore(store), endpoints=settings.ingest_endpoints)
            ingest.comments = comments
            supervisor.add("ingest", ingest.run, stale)
            for show in shows.values():
                for adapter in adapters(show.id, show.ingest, ingest):
                    supervisor.add(f"{adapter.lease}-{show.id}", adapter.run, stale)
            http = httpx.AsyncClient(timeout=5.0)  # SMS, captcha and sign-in providers
            owned.push_async_callback(http.aclose)
            identity_store = IdentityStore(store)
            identity_key = settings.identity_key or load_or_create_secret(
                settings.data_dir, "identity.key"
            )
            captcha = (
                SiteVerify(settings.captcha_url, settings.captcha_secret, http)
                if settings.captcha_url
                else None
            )
            identity = Identity(
                identity_store,
                identity_key.encode(),
                sms_provider(settings.sms, http),
                captcha,
                policy=send_policy(
                    per_address=settings.sms.per_address,
                    per_device=settings.sms.per_device,
                    per_subnet=settings.sms.per_subnet,
                    hourly_budget=settings.sms.hourly_budget,
                    captcha_after=settings.sms.captcha_after,
                    countries=settings.sms.countries,
                ),
            )
            wechat = WeChat(settings.wechat_app_id, settings.wechat_secret, http, identity_store)
            oidc = Oidc(
                settings.oidc_issuer,
                settings.oidc_client_id,
                settings.oidc_client_secret,
                http,
                identity_store,
            )
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
                likes,
                broker,
                flagger,
                supervisor,
                setup,
                ActivityFeed(service),
                ingest,
                comments,
                identity,
                Identities(secret),
                wechat,
                oidc,
            )

            async def flush_last_likes() -> None:
                with contextlib.suppress(LiveError):
                    await likes.flush()

            owned.push_async_callback(flush_last_likes)
            # After the tasks stop (pushed below, so run before): pushes already answered 200.
            owned.push_async_callback(ingest.drain)
            supervisor.start()
            drain(app, settings.drain_seconds, owned)
            # Bounded: a task that does not stop must not hold the whole shutdown hostage.
            owned.push_async_callback(supervisor.stop, 5)
            # Everything made so far lives as long as the process: keep it out of the
            # collector's scans, and collect young objects less often. With thousands of
            # sockets, each holding tasks and frames, a full collection otherwise pauses every
            # push for tens of ms.
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            yield

    return Starlette(
        routes=[
            # First: every page's url_for('static', ...) walks the routes in order, and each
            # route that is not it raises NoMatchFound (~40 exceptions a page when it was last).
            Mount("/static", StaticFiles(directory=str(FRONTEND / "static")), name="static"),
            *api.routes,
            *pages.routes,
            *staff.routes,
            *setup.routes,
            *judging.routes,
            *moderation.routes,
            *ingest_http.routes,
            *comments_http.routes,
            *identity_http.routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(ws.SocketsFirst),  # serves ws.routes
            Middleware(Shed, limit=settings.max_inflight),
            Middleware(SecurityHeaders),
        ],
        exception_handlers={
            LiveError: on_live_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
