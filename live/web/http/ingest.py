"""Platform receivers and the ingest panel: ``POST /ingest/douyin/{show}`` (Douyin's live data
push, signed) and ``GET /api/shows/{show}/ingest`` (each source's state, admin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from live.domain.errors import BadRequest, BadSignature, IngestDisabled
from live.domain.ingest import douyin
from live.redis.sessions import Session
from live.web.http.common import read_body
from live.web.http.staff import staff_route
from live.web.runtime import Runtime, runtime


async def douyin_push(request: Request) -> JSONResponse:
    """Answered at once: the events are queued and counted right after (the platform wants a
    2xx within 2 s, and retries what it does not get)."""
    rt = runtime(request.app)
    show_id = request.path_params["show"]
    show = rt.service.show(show_id)
    headers = {k.lower(): v for k, v in request.headers.items()}
    src = rt.ingest.source(show, "douyin", headers.get("x-roomid", ""))
    secret = rt.ingest.credential(src, "secret_env") if src is not None else ""
    if src is None or not secret:
        # One answer for an unknown room and a receiver without its secret: no probing.
        raise IngestDisabled(f"show {show_id!r} receives no Douyin pushes for this room")
    body = await read_body(request, douyin.MAX_BODY)
    if not douyin.signed(headers, body, secret):
        rt.ingest.bad_signature(show_id, src)
        raise BadSignature("x-signature does not match the push")
    try:
        events = douyin.parse_push(headers, body)
    except douyin.BadPush as exc:
        raise BadRequest(str(exc)) from None
    rt.ingest.submit(show_id, events)
    state = rt.ingest.state(show_id, src)
    state.connected = True
    return JSONResponse({"status": "ok", "received": len(events)})


async def ingest_state(request: Request, rt: Runtime, session: Session) -> Response:
    show_id = request.path_params["show"]
    figures = await rt.ingest.store.figures(rt.service.show(show_id))
    return JSONResponse({"sources": rt.ingest.report(show_id), "figures": figures})


routes = [
    Route("/ingest/douyin/{show}", douyin_push, methods=["POST"]),
    staff_route("GET", "/api/shows/{show}/ingest", ingest_state),
]
