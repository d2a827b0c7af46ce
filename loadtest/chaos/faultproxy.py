"""A small TCP fault proxy for loopback experiments: put it between the app and Redis.

Modes, switched at any moment with :meth:`FaultProxy.set`:

- ``pass``: bytes flow both ways;
- ``latency``: every chunk waits ``latency_ms`` before it is forwarded (both directions);
- ``blackhole``: nothing is forwarded and nothing is read, as in a network partition: the
  kernel buffers fill and every caller waits. Healing resumes the flow; no byte is lost;
- ``reset``: every open connection and every new one is cut with a TCP RST.

Only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Literal

Mode = Literal["pass", "latency", "blackhole", "reset"]


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.latency = 0.0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.port = 0
        self.accepted = 0
        self.resets = 0

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.set("pass")
        if self._server is not None:
            self._server.close()
        for a, b in list(self._pairs):
            a.close()
            b.close()
        if self._server is not None:
            await self._server.wait_closed()

    def set(self, mode: Mode, latency_ms: float = 0.0) -> None:
        self.mode = mode
        self.latency = latency_ms / 1000
        if mode == "blackhole":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode == "reset":
            for a, b in list(self._pairs):
                self._reset(a)
                self._reset(b)

    def _reset(self, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        self.resets += 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "reset":
            self._reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._reset(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                return_exceptions=True,
            )  # fmt: skip
        finally:
            self._pairs.discard(pair)
            for w in pair:
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await self._flowing.wait()  # a blackhole stops reading: the sender's buffers fill
            data = await reader.read(65536)
            if not data:
                break
            await self._flowing.wait()
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.mode == "reset":
                break
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
