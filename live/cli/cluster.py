"""``live cluster`` (``make cluster``): the scaled-out shape on one machine, for trying it.

A loopback Redis Cluster (3 masters, 3 replicas: :class:`EmbeddedCluster`), two or more
``live serve`` processes on it (``LIVE_REDIS_CLUSTER=1``), one ``live flagger``, and Debian's
nginx in front with ``deploy/nginx/live.conf`` (:class:`Balancer`). Ctrl-C stops everything it
started, in reverse order. The tests start the same :class:`Stack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from live.cli.balancer import Balancer
from live.cli.serve import demo_links
from live.domain.errors import ConfigError
from live.domain.show import load_shows
from live.redis.embedded import free_port
from live.redis.embedded_cluster import EmbeddedCluster
from live.settings import Settings
from live.web.identity import load_or_create_secret


@dataclass
class Stack:
    """Cluster, app processes, a flagger and nginx, owned by this object."""

    folder: Path
    settings: Settings
    apps: int = 2
    port: int = 8000
    """nginx's port; 0: a free one, picked once the cluster and the apps hold theirs."""
    quiet: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    """More environment for the app processes (say ``LIVE_REDIS_WAIT_REPLICAS=0``)."""
    supervise: bool = True
    """Start a dead Redis node again at once (as a service manager would); off in the failover
    test, which starts it again itself once its replica has taken over."""
    cluster: EmbeddedCluster | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    app_ports: list[int] = field(default_factory=list)
    balancer: Balancer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of every app process (and of CLI commands run against them)."""
        assert self.cluster is not None
        secret = self.settings.secret_key or load_or_create_secret(self.folder)
        return {
            **os.environ,
            "REDIS_URL": self.cluster.url,
            "LIVE_REDIS_CLUSTER": "1",
            "LIVE_SECRET_KEY": secret,
            "LIVE_KEY_PREFIX": self.settings.key_prefix,
            "LIVE_SHOW_FILES": ",".join(str(p) for p in self.settings.show_files),
            "LIVE_DATA_DIR": str(self.folder),
            "LIVE_TRUSTED_PROXIES": "127.0.0.1",
            **self.extra_env,
        }

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cluster = EmbeddedCluster(self.folder / "redis")
        self.cluster.start()
        if self.supervise:
            self.cluster.supervise()
        env = self.env()
        for i in range(self.apps):
            port = free_port()
            cmd = [sys.executable, "-m", "live", "serve", "--port", str(port), "--no-access-log"]
            self.processes.append(self._spawn(cmd, env, f"app{i}.log"))
            self.app_ports.append(port)
        flagger = [sys.executable, "-m", "live", "flagger"]
        self.processes.append(self._spawn(flagger, env, "flagger.log"))
        for port in self.app_ports:
            wait_healthy(port, self.processes)
        if self.port == 0:
            # Chosen now, not before: a Redis node's cluster bus (its port + 10000) or an app
            # started since could have taken a port picked earlier (seen once in CI).
            self.port = free_port()
        self.balancer = Balancer(self.folder / "nginx", self.app_ports, self.port)
        self.balancer.start()

    def _spawn(self, cmd: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        """A child process; ``quiet``: its output goes to ``log`` in the folder, not the
        terminal."""
        if not self.quiet:
            return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        with (self.folder / log).open("ab") as out:
            return subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of every child's log (``quiet``), for a failing test to show."""
        out = []
        for path in sorted(self.folder.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(out)

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
            self.balancer = None
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


def wait_healthy(port: int, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    """Until the app on ``port`` answers ``GET /healthz`` with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        if any(p.poll() is not None for p in processes):
            raise ConfigError(f"a process exited before 127.0.0.1:{port} answered")
        time.sleep(0.1)
    raise ConfigError(f"127.0.0.1:{port} did not become healthy in time")


def run_cluster(settings: Settings, apps: int, port: int) -> int:
    """Start a :class:`Stack`, print where it is, and run until Ctrl-C or SIGTERM."""
    folder = settings.data_dir / "cluster"
    shutil.rmtree(folder, ignore_errors=True)  # a fresh cluster each time: this is for trying
    stack = Stack(folder, settings, apps=apps, port=port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        stack.start()
        assert stack.cluster is not None
        print(f"redis cluster    127.0.0.1:{', '.join(map(str, stack.cluster.ports))}")
        print(f"app processes    127.0.0.1:{', '.join(map(str, stack.app_ports))}")
        print(f"nginx            {stack.url}/  (deploy/nginx/live.conf)")
        linked = replace(settings, redis_url=stack.cluster.url, redis_cluster=True)
        for show in _show_ids(settings):
            login, overlay = asyncio.run(demo_links(linked, show, stack.url))
            print(f"viewer page      {stack.url}/s/{show}")
            print(f"admin login      {login}")
            print(f"overlay (OBS)    {overlay}")
        print("Ctrl-C stops nginx, the app processes and the cluster.", flush=True)
        while all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
        print("live cluster: a process exited; stopping everything", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _show_ids(settings: Settings) -> list[str]:
    return list(load_shows(settings.show_files))
