"""The servers under load: a ``live serve`` process (with its own embedded Redis) or a baseline,
started as child processes on loopback, watched for CPU and memory, stopped by their PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psutil

BENCH_SHOW = Path(__file__).parent / "bench.toml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_fd_limit() -> int:
    """Lift the open-file limit to its hard maximum (thousands of sockets); the new limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        return soft
    return want


class Watched:
    """Processes to watch by name: ``server`` (the app, with its worker processes), ``redis``.

    A name's figures are summed over the process and its children, less those watched under
    another name (the embedded Redis is a child of ``live serve``).
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.groups: dict[str, list[psutil.Process]] = {}
        named = set(pids.values())
        for name, pid in pids.items():
            root = psutil.Process(pid)
            kids = [k for k in root.children(recursive=True) if k.pid not in named]
            self.groups[name] = [root, *kids]
        self.procs = {name: group[0] for name, group in self.groups.items()}
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()
        self.rss_peak: dict[str, int] = {}

    def _sum(self, read: Callable[[psutil.Process], float]) -> dict[str, float]:
        """``read`` summed over each group; a process that has gone counts 0."""
        out = {}
        for name, group in self.groups.items():
            total = 0.0
            for proc in group:
                with contextlib.suppress(psutil.Error):
                    total += read(proc)
            out[name] = total
        return out

    def _cpu(self) -> dict[str, float]:
        return self._sum(lambda p: sum(p.cpu_times()[:2]))  # user + system

    def rss(self) -> dict[str, int]:
        out = {name: int(b) for name, b in self._sum(lambda p: p.memory_info().rss).items()}
        for name, b in out.items():
            self.rss_peak[name] = max(self.rss_peak.get(name, 0), b)
        return out

    def reset(self) -> None:
        self._cpu0 = self._cpu()
        self._t0 = time.monotonic()

    def cores(self) -> dict[str, float]:
        """CPU used since the last reset, in cores (1.0 = one core busy all the time)."""
        now = self._cpu()
        wall = max(time.monotonic() - self._t0, 1e-9)
        return {name: (now[name] - self._cpu0[name]) / wall for name in now}


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback URL)
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class Process:
    """A child process in its own process group; stopped by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, log: Path | None = None):
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        self._out = out
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._out is not subprocess.DEVNULL:
            self._out.close()  # type: ignore[union-attr]
        return self.proc.returncode


class LiveTarget:
    """``live serve`` on a free loopback port with a fresh data folder and its own Redis.

    ``LIVE_PUSH_INTERVAL_MS`` and other settings pass through ``env``. The embedded Redis runs
    with ``appendfsync always``, as in production.
    """

    def __init__(
        self,
        show_file: Path = BENCH_SHOW,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        workers: int = 1,
    ) -> None:
        self.workers = workers
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="live-load-") if data_dir is None else None
        self.data_dir = Path(self._tmp.name) if self._tmp else Path(data_dir or ".")
        self.show_file = show_file
        self.env = {"LIVE_SECRET_KEY": "loadtest-" + os.urandom(8).hex(), **(env or {})}
        self.server: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveTarget:
        raise_fd_limit()  # inherited by the child
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "live", "serve", "--port", str(self.port)]
        argv += ["--show-file", str(self.show_file), "--data-dir", str(self.data_dir)]
        argv += ["--no-access-log", "--workers", str(self.workers)]
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        self.server = Process(argv, {**env, **self.env}, self.data_dir / "server.log")
        wait_http(self.url + "/healthz", proc=self.server.proc)
        if self.workers > 1:  # every worker answers before the load starts
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                kids = psutil.Process(self.server.pid).children()
                if len(kids) >= self.workers + 1:  # the workers and Redis
                    break
                time.sleep(0.2)
            time.sleep(1.0)
        return self

    def redis_info(self) -> dict[str, str | int]:
        info: dict[str, str | int] = json.loads((self.data_dir / "redis.json").read_text())
        return info

    def pids(self) -> dict[str, int]:
        assert self.server is not None
        return {"server": self.server.pid, "redis": int(self.redis_info()["pid"])}

    def log_tail(self, lines: int = 20) -> str:
        path = self.data_dir / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LiveTarget:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
