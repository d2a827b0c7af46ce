"""Platform receivers and the ingest panel: ``POST /ingest/douyin/{show}`` (Douyin's live data
push, signed) and ``GET /api/shows/{show}/ingest`` (each source's state, admin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from live.domain.ingest import douyin
from live.redis.sessions import Session
from live.web.http.common import client_ip, read_body
from live.web.http.staff import staff_route
from live.web.runtime import Runtime, runtime


async def douyin_push(request: Request) -> JSONResponse:
    """Answered at once: the events are queued and counted right after (the platform wants a
    2xx within 2 s, and retries what it does not get); see :meth:`Ingest.douyin`."""
    rt = runtime(request.app)
    show = rt.service.show(request.path_params["show"])
    headers = {k.lower(): v for k, v in request.headers.items()}
    src = rt.ingest.douyin_source(show, headers)
    body = await read_body(request, douyin.MAX_BODY)
    received = await rt.ingest.douyin(show, src, headers, body, client_ip(request))
    if received is None:
        return JSONResponse({"status": "ok", "received": 0, "replay": True})
    return JSONResponse({"status": "ok", "received": received})


async def ingest_state(request: Request, rt: Runtime, session: Session) -> Response:
    show_id = request.path_params["show"]
    figures = await rt.ingest.store.figures(rt.service.show(show_id))
    return JSONResponse({"sources": rt.ingest.report(show_id), "figures": figures})


routes = [
    Route("/ingest/douyin/{show}", douyin_push, methods=["POST"]),
    staff_route("GET", "/api/shows/{show}/ingest", ingest_state),
]
