"""Debian's nginx in front of several app processes, with the project's own configuration.

``deploy/nginx/live.conf`` is the configuration an operator installs; this runs that very file
(its upstream servers and listen port replaced) under a private prefix: its own pid file, logs
and temp folders, in the foreground, owned by this object. Used by ``live cluster`` and the
tests.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from live.domain.errors import ConfigError

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "live.conf"


def nginx_binary() -> str:
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ConfigError("no nginx found: install Debian's nginx (apt-get install nginx)")


def site_config(upstreams: list[int], port: int, site: Path = SITE) -> str:
    """``site`` with its upstream servers replaced by ``upstreams`` (ports on 127.0.0.1) and its
    listen port by ``port``."""
    text = site.read_text(encoding="utf-8")
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in upstreams)
    text, n = re.subn(
        r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n(?:    server [^\n]*\n)*", servers, text
    )
    text, m = re.subn(r"(?m)^    listen \d+", f"    listen 127.0.0.1:{port}", text)
    if n != 1 or m != 1:
        raise ConfigError(f"{site}: expected one upstream server list and one listen line")
    return text


def main_config(folder: Path, site: Path) -> str:
    return f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {folder}/scratch/body;
    proxy_temp_path {folder}/scratch/proxy;
    fastcgi_temp_path {folder}/scratch/fastcgi;
    uwsgi_temp_path {folder}/scratch/uwsgi;
    scgi_temp_path {folder}/scratch/scgi;
    include {site};
}}
"""


@dataclass
class Balancer:
    """One nginx process listening on ``port`` (127.0.0.1), passing to ``upstreams``."""

    folder: Path
    upstreams: list[int]
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 10.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / "scratch"
        tmp.mkdir(exist_ok=True)
        tmp.chmod(0o777)  # nginx's workers run as an unprivileged user when started as root
        site = self.folder / "live.conf"
        site.write_text(site_config(self.upstreams, self.port))
        conf = self.folder / "nginx.conf"
        conf.write_text(main_config(self.folder.resolve(), site.resolve()))
        binary = nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-q", "-p", str(self.folder), "-c", str(conf.resolve())],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise ConfigError(f"nginx refused its configuration: {check.stderr.strip()}")
        pid = self.folder / "nginx.pid"
        pid.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [binary, "-p", str(self.folder), "-c", str(conf.resolve())], stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while True:
            # Its pid file is written once its sockets are bound: a connection alone could
            # reach another process holding the port (nginx then exits: address in use).
            if pid.exists() and self.process.poll() is None:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
                ):
                    return
            if self.process.poll() is not None:
                raise ConfigError(f"nginx exited; see {self.folder / 'error.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError("nginx did not listen in time")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
