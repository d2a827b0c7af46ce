"""The ``live`` command (also ``python -m live``).

- ``live serve``: serve shows (host, port, show files, workers).
- ``live demo``: what ``make run`` calls: the demo show on http://127.0.0.1:8000.
- ``live stage ACTION``: move the stage (present, next, open_voting, ...), pushed at once.
- ``live voting open|close``: open or close voting in a category.
- ``live recount``: rebuild every tally from the ledger and compare it with the live one.

Commands run beside a server find its embedded Redis through the data folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from live.embedded import EmbeddedRedis, find_running
from live.errors import ConfigError, LiveError
from live.service import Service
from live.settings import DEMO_SHOW, Settings
from live.show import Show, load_shows
from live.stage import ACTIONS, Action
from live.store import Store, make_client


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "show_file", None):
        settings = replace(settings, show_files=tuple(Path(p) for p in args.show_file))
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=Path(args.data_dir))
    return settings


def serve(settings: Settings, host: str, port: int, workers: int, banner: bool) -> int:
    import uvicorn

    shows = load_shows(settings.show_files)  # fail before starting anything
    embedded: EmbeddedRedis | None = None
    if not settings.redis_url:
        url = find_running(settings.data_dir)
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir)
            embedded.start()
            url = embedded.url
            print(
                f"embedded redis-server on 127.0.0.1:{embedded.port}, data in {settings.data_dir}"
            )
        # Workers are separate processes: they inherit the address through the environment.
        os.environ["REDIS_URL"] = url
    os.environ["LIVE_DATA_DIR"] = str(settings.data_dir)
    os.environ["LIVE_SHOW_FILES"] = ",".join(str(p) for p in settings.show_files)
    if banner:
        base = f"http://{host}:{port}"
        print("live is serving:")
        print(f"  show index      {base}/")
        for sid in shows:
            print(f"  viewer page     {base}/s/{sid}")
            print(f"  show state      {base}/api/shows/{sid}")
            print(f"  vote (POST)     {base}/api/shows/{sid}/votes")
            print(f"  likes (POST)    {base}/api/shows/{sid}/likes")
            print(f"  websocket       ws://{host}:{port}/ws/shows/{sid}")
        print(f"  health          {base}/healthz")
        print("Ctrl-C stops the server" + (" and its Redis." if embedded else "."), flush=True)
    try:
        uvicorn.run(
            "live.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            ws="websockets-sansio",
            ws_max_size=settings.ws_max_bytes,
            ws_per_message_deflate=False,
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=settings.trusted_proxies or "",
            server_header=False,
            timeout_graceful_shutdown=5,
            log_level="info",
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


async def _with_store(
    settings: Settings, work: Callable[[Store, dict[str, Show]], Awaitable[int]]
) -> int:
    url = settings.redis_url or find_running(settings.data_dir)
    if url is None:
        raise ConfigError(f"no REDIS_URL and no running server with data in {settings.data_dir}")
    client = make_client(url, 4, settings.redis_timeout_ms)
    try:
        return await work(
            Store(client, settings.key_prefix, settings.redis_timeout_ms),
            load_shows(settings.show_files),
        )
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()


def _pick(shows: dict[str, Show], show_id: str) -> Show:
    if show_id not in shows:
        raise ConfigError(f"no show {show_id!r}; known: {', '.join(sorted(shows))}")
    return shows[show_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live", description="live-streamed award events")
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="serve shows over HTTP and websockets")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--show-file", action="append", help="a TOML show file (repeatable)")
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.add_argument("--data-dir")

    p_demo = sub.add_parser("demo", help="serve the demo show on http://127.0.0.1:8000")
    p_demo.add_argument("--port", type=int, default=8000)
    p_demo.add_argument("--data-dir")

    p_stage = sub.add_parser("stage", help="move the show's stage (the same rules as the console)")
    p_stage.add_argument("action", choices=ACTIONS)
    p_stage.add_argument("--show", default="demo")
    p_stage.add_argument("--contestant", default="")
    p_stage.add_argument("--category", default="")
    p_stage.add_argument("--for-contestant", action="store_true")
    p_stage.add_argument("--seconds", type=int, default=0)
    p_stage.add_argument("--show-file", action="append")
    p_stage.add_argument("--data-dir")

    p_vote = sub.add_parser("voting", help="open or close voting in a category")
    p_vote.add_argument("action", choices=["open", "close"])
    p_vote.add_argument("--show", default="demo")
    p_vote.add_argument("--category", required=True)
    p_vote.add_argument("--contestant", default="", help="open for this contestant only")
    p_vote.add_argument("--show-file", action="append")
    p_vote.add_argument("--data-dir")

    p_rc = sub.add_parser("recount", help="rebuild tallies from the ledger and compare")
    p_rc.add_argument("--show", default="demo")
    p_rc.add_argument("--show-file", action="append")
    p_rc.add_argument("--data-dir")

    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except LiveError as exc:
        print(f"live: {exc.message}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "serve":
        return serve(settings, args.host, args.port, args.workers, banner=True)
    if args.command == "demo":
        settings = replace(settings, show_files=(DEMO_SHOW,))
        return serve(settings, "127.0.0.1", args.port, 1, banner=True)

    async def stage(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        action = Action(
            args.action, args.contestant, args.category, args.for_contestant, args.seconds
        )
        new = await Service(shows, store).stage_action(show.id, action, actor="cli")
        print(f"{new.phase} {new.contestant} {new.category}".strip())
        return 0

    async def voting(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        show.category(args.category)
        version = await store.set_voting(
            show, args.category, args.action == "open", args.contestant
        )
        print("version", version)
        return 0

    async def recount(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        counted = await store.recount(show.id)
        state = await store.read_state(show)
        live = {cat: {c: n for c, n in t.items() if n} for cat, t in state.tallies.items()}
        live = {cat: t for cat, t in live.items() if t}
        ok = counted.tally_dict() == live and counted.likes_counted == state.likes
        print(f"ledger entries  {counted.entries}")
        for cat in show.categories:
            print(
                f"{cat.id:24} ledger {sum(counted.tallies.get(cat.id, {}).values()):>9}"
                f"  live {sum(state.tallies.get(cat.id, {}).values()):>9}"
            )
        print(f"likes counted   ledger {counted.likes_counted}  live {state.likes}")
        print("recount matches" if ok else "RECOUNT MISMATCH")
        return 0 if ok else 1

    work = {"stage": stage, "voting": voting, "recount": recount}[args.command]
    return asyncio.run(_with_store(settings, work))
