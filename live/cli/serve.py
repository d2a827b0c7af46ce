"""``live serve`` and ``live demo``: the embedded Redis (started, supervised, stopped), the
banner with every URL, and uvicorn with the one configuration of :mod:`live.web.server`."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

from live import metrics
from live.domain.errors import ConfigError
from live.domain.show import load_shows
from live.redis.embedded import EmbeddedRedis, find_running
from live.redis.sessions import Sessions
from live.redis.store import close_client, open_store
from live.settings import Settings
from live.web.server import APP, uvicorn_options


def _print_banner(
    settings: Settings, shows: list[str], host: str, port: int, admin_link: bool, own_redis: bool
) -> None:
    base = f"http://{host}:{port}"
    print("live is serving:")
    print(f"  show index      {base}/")
    for sid in shows:
        print(f"  viewer page     {base}/s/{sid}")
        print(f"  show state      {base}/api/shows/{sid}")
        print(f"  vote (POST)     {base}/api/shows/{sid}/votes")
        print(f"  likes (POST)    {base}/api/shows/{sid}/likes")
        print(f"  websocket       ws://{host}:{port}/ws/shows/{sid}")
        if admin_link:
            login, overlay = asyncio.run(demo_links(settings, sid, base))
            print(f"  admin login     {login}   (one-time link for {sid})")
            print(f"  overlay (OBS)   {overlay}")
    print(f"  health          {base}/healthz")
    print("Ctrl-C stops the server" + (" and its Redis." if own_redis else "."), flush=True)


def shared_metrics(data_dir: Path) -> Path:
    """Workers' metrics in one directory (prometheus-client's multiprocess mode), emptied at
    start so that a restart does not count the last run's: set in the environment before the
    workers start (they are spawned, so they import prometheus-client with it set)."""
    path = Path(os.environ.get(metrics.MULTIPROC_ENV) or data_dir / "metrics").resolve()
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[metrics.MULTIPROC_ENV] = str(path)
    return path


def serve_metrics(port: int, host: str, shared: Path | None) -> None:
    """``--metrics-port``: the metrics on a port of their own (no token; bind it where only
    the scraper reaches), in a thread of this process: every worker's, summed, or this
    process's own when it is the only one."""
    from prometheus_client import REGISTRY, start_http_server

    registry = REGISTRY if shared is None else metrics.workers_registry(str(shared))
    start_http_server(port, addr=host, registry=registry)
    print(f"metrics on http://{host}:{port}/metrics")


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    banner: bool,
    admin_link: bool = False,
    access_log: bool = True,
    flagger: bool = False,
    metrics_port: int = 0,
    metrics_host: str = "127.0.0.1",
) -> int:
    """Serve until stopped. ``flagger``: also run ``live flagger`` as a child process (unless
    ``LIVE_FLAGGER=inline``), stopped before the embedded Redis."""
    import uvicorn

    shows = load_shows(settings.show_files)  # fail before starting anything
    embedded: EmbeddedRedis | None = None
    child: subprocess.Popen[bytes] | None = None
    try:  # from here on, whatever happens (Ctrl-C included), the Redis we started is stopped
        if not settings.redis_url:
            url = find_running(settings.data_dir)
            if url is None:
                embedded = EmbeddedRedis(settings.data_dir)
                embedded.start()
                embedded.supervise()
                url = embedded.url
                print(
                    f"embedded redis-server on 127.0.0.1:{embedded.port}, "
                    f"data in {settings.data_dir}"
                )
            # Workers are separate processes: they inherit the address through the environment.
            os.environ["REDIS_URL"] = url
            settings = replace(settings, redis_url=url)
        os.environ["LIVE_DATA_DIR"] = str(settings.data_dir)
        if workers > 1:
            metrics_dir = shared_metrics(settings.data_dir)
            if metrics_port:
                serve_metrics(metrics_port, metrics_host, metrics_dir)
        elif metrics_port:
            serve_metrics(metrics_port, metrics_host, None)
        os.environ["LIVE_SHOW_FILES"] = ",".join(str(p) for p in settings.show_files)
        if banner:
            _print_banner(settings, list(shows), host, port, admin_link, embedded is not None)
        if flagger and not settings.flagger_inline:
            child = subprocess.Popen([sys.executable, "-m", "live", "flagger"])
            print(f"live flagger running (pid {child.pid})")
        # uvicorn re-raises the signal that stopped it; SIGTERM's default action would end the
        # process before `finally` could stop our Redis, so make it a normal exit instead.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **uvicorn_options(settings, access_log=access_log),
        )
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if embedded is not None:
            embedded.stop()
    return 0


def login_link(base_url: str, show: str, token: str) -> str:
    query = urlencode({"show": show, "token": token})
    return f"{base_url.rstrip('/')}/staff/login?{query}"


async def demo_links(settings: Settings, show_id: str, base_url: str) -> tuple[str, str]:
    """A one-time admin login link and the overlay URL, made before the server starts."""
    if settings.redis_url is None:
        raise ConfigError("no Redis to write the demo links to")
    store = open_store(settings, settings.redis_url, 2)
    try:
        sessions = Sessions(store)
        _, token = await sessions.invite(show_id, "admin", "Demo admin")
        key = await sessions.overlay_key(show_id)
    finally:
        await close_client(store.client)
    overlay = f"{base_url}/overlay/{show_id}?{urlencode({'key': key})}"
    return login_link(base_url, show_id, token), overlay
