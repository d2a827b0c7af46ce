"""Lean HTTP/1.1 and websocket clients on bare asyncio protocols, for simulated phones.

Hand-written for cost, not features: the plain ``websockets`` client spends ~24 µs of Python per
message and a few hundred KB per connection, so thousands of phones in one process would measure
the generator rather than the server. These speak just what the load needs:

- :class:`HttpConn`: one keep-alive connection, one request at a time, bodies framed by
  ``Content-Length`` (what uvicorn sends for JSON and HTML responses);
- :class:`WsConn`: the RFC 6455 client handshake, masked client frames, unmasked server frames,
  ping/pong and close. Incoming text frames go to a callback as bytes, unparsed, so a viewer
  can read two numbers off a snapshot without decoding the whole JSON.

Each connection may bind its own loopback source address (``127.x.y.z``) so that simulated
phones come from many addresses, as on show night, and each address has its own port range.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

CRLF2 = b"\r\n\r\n"


class WireError(Exception):
    """The peer broke the protocol, closed, or did not answer in time; ``kind`` names it."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)


def _parse_head(head: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise WireError("bad_response", lines[0][:80])
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            cname, _, cvalue = pair.partition("=")
            cookies[cname.strip()] = cvalue.strip()
        else:
            headers[name] = value
    return int(parts[1]), headers, cookies


def source_address(index: int) -> str:
    """A loopback source address for phone ``index``: 250 phones per /24, many /24s."""
    return f"127.{1 + (index // 62500) % 250}.{1 + (index // 250) % 250}.{1 + index % 250}"


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are sent one after another."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._need = -1  # body length once the head is read
        self._head: tuple[int, dict[str, str], dict[str, str]] | None = None
        self.closed = False

    @classmethod
    async def open(cls, host: str, port: int, source: str | None = None) -> HttpConn:
        loop = asyncio.get_running_loop()
        local = (source, 0) if source else None
        _, proto = await loop.create_connection(cls, host, port, local_addr=local)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(WireError("connection_reset"))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._head is None:
            end = self._buf.find(CRLF2)
            if end < 0:
                return
            try:
                self._head = _parse_head(bytes(self._buf[:end]))
            except WireError as exc:
                self._fail(exc)
                return
            del self._buf[: end + 4]
            length = self._head[1].get("content-length")
            if length is None or not length.isdigit():
                self._fail(WireError("bad_response", "no content-length"))
                return
            self._need = int(length)
        if len(self._buf) >= self._need and self._head is not None:
            status, headers, cookies = self._head
            body = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._head, self._need = None, -1
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(Response(status, headers, body, cookies))

    def _fail(self, exc: WireError) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    async def request(self, raw: bytes, budget: float) -> Response:
        """Send one complete request (head and body) and wait for its response."""
        if self.closed or self.transport is None:
            raise WireError("connection_reset")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        try:
            async with asyncio.timeout(budget):
                return await self._waiter
        except TimeoutError:
            self.close()
            raise WireError("timeout") from None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def http_request(
    method: str, path: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


OnText = Callable[[bytes], None]


def _mask(payload: bytes, key: bytes) -> bytes:
    # XOR as one big integer: C speed, no per-byte Python loop.
    n = len(payload)
    if n == 0:
        return payload
    pad = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(pad, "little")).to_bytes(n, "little")


def frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (servers must refuse unmasked ones)."""
    key = random.getrandbits(32).to_bytes(4, "little")
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + key + _mask(payload, key)


class WsConn(asyncio.Protocol):
    """A websocket client connection; text messages go to ``on_text`` as raw bytes."""

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._open = False
        self.handshake: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.cookies: dict[str, str] = {}

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        on_text: OnText,
        headers: dict[str, str] | None = None,
        source: str | None = None,
        budget: float = 10.0,
    ) -> WsConn:
        """Open and upgrade; raises :class:`WireError` (``ws_refused``, ``ws_closed``, ...)."""
        loop = asyncio.get_running_loop()
        local = (source, 0) if source else None
        proto: WsConn | None = None
        try:
            async with asyncio.timeout(budget):
                _, proto = await loop.create_connection(
                    lambda: cls(on_text), host, port, local_addr=local
                )
                key = base64.b64encode(os.urandom(16)).decode()
                extra = {
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": key,
                    "Sec-WebSocket-Version": "13",
                    **(headers or {}),
                }
                assert proto.transport is not None
                proto.transport.write(http_request("GET", path, f"{host}:{port}", headers=extra))
                await proto.handshake
        except TimeoutError:
            if proto is not None:
                proto.close_transport()
            raise WireError("connect_timeout") from None
        except OSError as exc:
            raise WireError("connect_error", type(exc).__name__) from None
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(WireError("ws_refused", "closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(1006)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._open:
            if self.handshake.done():  # the caller gave up waiting (timeout): drop the socket
                self.close_transport()
                return
            end = self._buf.find(CRLF2)
            if end < 0:
                return
            status, _, cookies = _parse_head(bytes(self._buf[:end]))
            del self._buf[: end + 4]
            if status != 101:
                self.handshake.set_exception(WireError("ws_refused", f"HTTP {status}"))
                self.close_transport()
                return
            self.cookies = cookies
            self._open = True
            self.handshake.set_result(status)
        self._frames()

    def _frames(self) -> None:
        buf = self._buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = (buf[2] << 8) | buf[3]
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            opcode = b0 & 0x0F
            if opcode == 1:
                self.on_text(payload)
            elif opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(code)
                self.send_raw(frame(payload[:2], 8))
                self.close_transport()
                return
            elif opcode == 9:
                self.send_raw(frame(payload, 10))

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_text(self, text: bytes) -> bool:
        """Queue one text message; False when the socket is already gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(frame(text))
        return True

    def close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def close(self, code: int = 1000, wait: float = 2.0) -> None:
        """Send a close frame and wait (bounded) for the server's; then drop the socket."""
        self.send_raw(frame(struct.pack("!H", code), 8))
        try:
            async with asyncio.timeout(wait):
                await asyncio.shield(self.closed)
        except TimeoutError:
            pass
        self.close_transport()
