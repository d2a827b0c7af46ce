"""Baseline servers for ``make bench``, each the floor of what ``live`` does on the same stack.

- ``python -m loadtest.baseline starlette --port P``: an empty Starlette app on the same uvicorn
  settings as ``live serve``: ``POST /echo`` reads the body and answers a small JSON, and
  ``WS /ws`` answers every text message with a small JSON.
- ``python -m loadtest.baseline broadcast --port P --payload FILE --hz 4``: a bare
  ``websockets`` server that pushes the payload (a real snapshot) to every client with
  ``websockets.broadcast`` ``hz`` times a second, its ``"server_time":`` stamped each time.
  ``--hz 0`` pushes once on connect and then stays idle (the memory baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

_STAMP = re.compile(rb'"server_time":\d+')


def starlette_app() -> object:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "accepted"})

    async def ws_echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                await ws.send_text(f'{{"type":"echo","n":{len(text)}}}')
        except WebSocketDisconnect:
            pass

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/healthz", health),
            WebSocketRoute("/ws", ws_echo),
        ]
    )


def serve_starlette(port: int) -> None:
    import uvicorn

    uvicorn.run(
        starlette_app(),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        server_header=False,
        access_log=False,
        log_level="warning",
    )


async def serve_broadcast(port: int, payload: bytes, hz: float) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    def stamped() -> str:
        now = b'"server_time":%d' % int(time.time() * 1000)
        return _STAMP.sub(now, payload, count=1).decode()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            await ws.send(stamped())
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=4):
        while True:
            await asyncio.sleep(1 / hz if hz > 0 else 3600)
            if hz > 0:
                broadcast(clients, stamped())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.baseline")
    p.add_argument("kind", choices=("starlette", "broadcast"))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--payload", type=Path)
    p.add_argument("--hz", type=float, default=4.0)
    args = p.parse_args(argv)
    if args.kind == "starlette":
        serve_starlette(args.port)
        return 0
    payload = args.payload.read_bytes() if args.payload else b'{"server_time":0}'
    try:
        asyncio.run(serve_broadcast(args.port, payload, args.hz))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
