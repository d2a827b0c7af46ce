"""The JSON API: votes, likes, state, health."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from live import __version__, metrics
from live.domain.access import same_secret
from live.domain.ballot import Voter
from live.domain.errors import LiveError, MetricsDisabled, NotSignedIn
from live.web.http.common import client_ip, device_of, read_body
from live.web.identity import COOKIE, IDENTITY_COOKIE
from live.web.openapi import document
from live.web.runtime import runtime

VOTE_STATUS = {"accepted": 200, "duplicate": 409, "closed": 409, "limited": 429}
MESSAGES = {
    "duplicate": "this vote was already cast, or the device used all its votes here",
    "closed": "voting is closed",
    "limited": "too many votes; try again after Retry-After seconds",
}


async def post_vote(request: Request) -> JSONResponse:
    rt = runtime(request.app)
    show_id = request.path_params["show"]
    rt.service.show(show_id)
    device = device_of(request, rt.devices, rt.settings.allowed_origins)
    body = await read_body(request, rt.settings.max_body_bytes)
    claims = rt.identities.read(request.cookies.get(IDENTITY_COOKIE), device)
    voter = Voter(device, client_ip(request), request.headers.get("user-agent", ""), claims)
    vote_id, outcome = await rt.service.vote(show_id, body, voter)
    payload: dict[str, Any] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "vote_id": vote_id,
        "version": outcome.version,
    }
    if outcome.left >= 0:
        payload["left"] = outcome.left
    headers: dict[str, str] = {}
    if outcome.status != "accepted":
        payload["error"] = {
            "code": outcome.reason or outcome.status,
            "message": MESSAGES[outcome.status],
        }
    if outcome.status == "limited":
        seconds = max(1, math.ceil(outcome.retry_after_ms / 1000))
        payload["retry_after"] = seconds
        headers["Retry-After"] = str(seconds)
    return JSONResponse(payload, status_code=VOTE_STATUS[outcome.status], headers=headers)


async def get_me(request: Request) -> JSONResponse:
    """This device's votes in each category: ``{"categories": {id: {"cap", "used", "left"}}}``
    (what the viewer page shows as votes left and "voted"). Needs the device cookie."""
    rt = runtime(request.app)
    show_id = request.path_params["show"]
    rt.service.show(show_id)
    device = rt.devices.verify(request.cookies.get(COOKIE))
    claims = rt.identities.read(request.cookies.get(IDENTITY_COOKIE), device)
    usage = await rt.service.my_votes(show_id, device, claims)
    return JSONResponse(
        {"categories": usage}, headers={"Cache-Control": "no-store", "Vary": "Cookie"}
    )


async def post_like(request: Request) -> JSONResponse:
    rt = runtime(request.app)
    show_id = request.path_params["show"]
    rt.service.show(show_id)
    device = device_of(request, rt.devices, rt.settings.allowed_origins)
    body = await read_body(request, rt.settings.max_body_bytes)
    n = rt.service.like(show_id, body, device)
    return JSONResponse({"status": "received", "n": n}, status_code=202)


async def get_state(request: Request) -> Response:
    """The viewer snapshot: the very bytes the sockets get (see ``Hub.current``)."""
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    return Response(await rt.hub.current(show.id), media_type="application/json")


async def openapi_json(request: Request) -> JSONResponse:
    """The OpenAPI document, built once per app from the request models (live.openapi)."""
    rt = runtime(request.app)
    shows = tuple(rt.service.shows)  # a show set up in the browser: built again
    cached = getattr(request.app.state, "openapi", None)
    if cached is None or cached[0] != shows:
        cached = request.app.state.openapi = (shows, document(rt.service.shows, __version__))
    return JSONResponse(cached[1])


async def healthz(request: Request) -> JSONResponse:
    """Liveness: 200 ``alive`` while this process answers (restart it only when this fails).
    Whether it should get traffic is ``/readyz``."""
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 ``ok`` when Redis answers, every background task is up and the process
    is not draining; else 503 ``draining`` (SIGTERM arrived), ``unavailable`` (Redis) or
    ``degraded`` (a task is down or stopped beating), with every task's ``up``,
    ``restarts``, last ``error`` and ``beat_ms``."""
    rt = runtime(request.app)
    tasks = rt.supervisor.health()
    retry = {"Retry-After": "1"}
    if rt.draining:
        return JSONResponse({"status": "draining", "tasks": tasks}, 503, headers=retry)
    try:
        await rt.store.ping()
    except LiveError as exc:
        body = {"status": "unavailable", "redis": exc.message, "tasks": tasks}
        return JSONResponse(body, status_code=503, headers=retry)
    if not all(task["up"] for task in tasks.values()):
        return JSONResponse({"status": "degraded", "redis": "ok", "tasks": tasks}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})


async def metrics_text(request: Request) -> Response:
    """Prometheus metrics, for a scraper holding ``LIVE_METRICS_TOKEN`` (a bearer token,
    compared in constant time). Without a configured token: 404 ``metrics_disabled``."""
    rt = runtime(request.app)
    token = rt.settings.metrics_token
    if not token:
        raise MetricsDisabled("set LIVE_METRICS_TOKEN (or use live serve --metrics-port)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(given.strip(), token):
        raise NotSignedIn("GET /metrics needs Authorization: Bearer <LIVE_METRICS_TOKEN>")
    for name, task in rt.supervisor.health().items():  # this process's, as of now
        metrics.TASK_UP.labels(name).set(1 if task["up"] else 0)
    body, kind = metrics.render()
    return Response(body, media_type=kind, headers={"Cache-Control": "no-store"})


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_text, methods=["GET"]),
    Route("/api/shows/{show}", get_state, methods=["GET"]),
    Route("/api/shows/{show}/votes", post_vote, methods=["POST"]),
    Route("/api/shows/{show}/likes", post_like, methods=["POST"]),
    Route("/api/shows/{show}/me", get_me, methods=["GET"]),
]
