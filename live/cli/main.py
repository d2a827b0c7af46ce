"""The ``live`` command (also ``python -m live``).

- ``live serve``: serve shows (host, port, show files, workers).
- ``live demo``: what ``make run`` calls: the demo show on http://127.0.0.1:8000, with a
  ``live flagger`` process beside it.
- ``live flagger``: the fraud detector in its own process (see :mod:`live.cli.flagger`).
- ``live stage ACTION``: move the stage (present, next, open_voting, ...), pushed at once.
- ``live voting open|close``: open or close voting in a category.
- ``live recount``: rebuild every tally from the ledger and compare it with the live one.
- ``live verify``: check the ledger's hash chain (the first bad entry's position), recount
  every tally and compare it with the live one, print the chain head. Exit 1 on any failure.
- ``live staff invite|list|role|revoke|organiser``: staff and their one-time login links;
  ``organiser`` grants the server-level right to create shows in the browser, with a quota.
- ``live overlay-key [--rotate]``: the overlay URL for OBS.
- ``live reconcile --preset eurovision --points FILE.csv --year Y --round R``: offline, rank a
  points file (``place,entry,expert,audience,total``, best first) for auditors.
- ``live export --show demo --out DIR``: an anonymised ledger, the show file and the published
  results, with a manifest; ``live verify --export DIR`` and ``live reconcile --export DIR
  --category C`` check it offline.

Commands run beside a server find its embedded Redis through the data folder.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

from live.cli import backup, showfile
from live.cli.audit import reconcile_export, reconcile_points
from live.cli.cluster import run_cluster
from live.cli.flagger import run_flagger
from live.cli.serve import login_link, serve
from live.domain.access import ROLES
from live.domain.errors import ConfigError, LiveError
from live.domain.reconcile import PRESETS
from live.domain.setup import parse_show_text, show_toml
from live.domain.show import Show, effective, load_show, load_shows
from live.domain.stage import ACTIONS, Action
from live.redis.backup import Backups
from live.redis.embedded import APP_USER, app_acl, find_running
from live.redis.embedded_cluster import apply_acl_everywhere, cluster_acl
from live.redis.identity import IdentityStore
from live.redis.personal import Personal
from live.redis.registry import Registry
from live.redis.sessions import Sessions
from live.redis.store import Store, close_client, open_store
from live.services.export import export, verify_export
from live.services.shows import Service
from live.settings import DEMO_SHOW, Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "show_file", None):
        settings = replace(settings, show_files=tuple(Path(p) for p in args.show_file))
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=Path(args.data_dir))
    return settings


async def _with_store(
    settings: Settings, work: Callable[[Store, dict[str, Show]], Awaitable[int]]
) -> int:
    url = settings.redis_url or find_running(settings.data_dir)
    if url is None:
        raise ConfigError(f"no REDIS_URL and no running server with data in {settings.data_dir}")
    store = open_store(settings, url, 4)
    try:
        shows = load_shows(settings.show_files)
        # And the shows set up in the browser (a file's show of the same id wins).
        registry = Registry(store)
        for show_id in await registry.ids():
            definition = await registry.definition(show_id)
            if show_id not in shows and definition is not None:
                shows[show_id] = parse_show_text(definition.toml, f"registry:{show_id}")
        store.register(shows.values())  # every command knows each show's partitions
        return await work(store, shows)
    finally:
        await close_client(store.client)


async def _organiser(store: Store, show: str, staff: str, quota: int) -> None:
    """Grant ``show``'s staff member ``staff`` the server-level right to create up to ``quota``
    shows in the browser (0 takes it back; shows already created still count)."""
    if not 0 <= quota <= 1000:
        raise ConfigError("--quota: 0 to 1000")
    _, used, granted = await Registry(store).quota("grant", show, staff, quota)
    print(f"organiser {staff} of show {show}: may create {granted} show(s), {used} created")


def _write_definition(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _acl(args: argparse.Namespace) -> int:
    rules = cluster_acl() if args.cluster else app_acl()
    if not args.apply:
        print(
            "ACL SETUSER live reset on ><app password> " + " ".join(shlex.quote(r) for r in rules)
        )
        return 0
    password = sys.stdin.readline().strip()
    if not password:
        raise ConfigError("give the app user's password on stdin (one line)")
    for node in apply_acl_everywhere(args.apply, password, args.cluster):
        print(f"app user {APP_USER!r} set on {node}")
    return 0


async def _id_by_name(sessions: Sessions, show: str, name: str) -> str:
    matches = [m.id for m in await sessions.members(show) if m.name == name]
    if len(matches) != 1:
        raise ConfigError(f"give --id: {len(matches)} staff members are called {name!r}")
    return matches[0]


def _pick(shows: dict[str, Show], show_id: str) -> Show:
    if show_id not in shows:
        raise ConfigError(f"no show {show_id!r}; known: {', '.join(sorted(shows))}")
    return shows[show_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live", description="live-streamed award events")
    sub = parser.add_subparsers(dest="command", required=True)
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("--show-file", action="append", help="a TOML show file (repeatable)")
    files.add_argument("--data-dir")
    one_show = argparse.ArgumentParser(add_help=False, parents=[files])
    one_show.add_argument("--show", default="demo")
    linked = argparse.ArgumentParser(add_help=False, parents=[one_show])
    linked.add_argument("--base-url", default="http://127.0.0.1:8000")

    p_serve = sub.add_parser("serve", parents=[files], help="serve shows over HTTP and websockets")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--workers", type=int, default=1)
    p_serve.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="also serve GET /metrics (every worker's, no token) on this port",
    )
    p_serve.add_argument("--metrics-host", default="127.0.0.1")
    p_serve.add_argument(
        "--no-access-log",
        action="store_true",
        help="no line per request (a line per vote costs CPU at thousands of votes a second)",
    )

    sub.add_parser(
        "flagger", parents=[files], help="run the fraud detector (its own process; see README)"
    )

    p_cluster = sub.add_parser(
        "cluster",
        parents=[files],
        help="try the scaled-out shape: a loopback Redis Cluster, app processes, nginx",
    )
    p_cluster.add_argument("--apps", type=int, default=2, help="app processes (default 2)")
    p_cluster.add_argument("--port", type=int, default=8000, help="nginx's port")

    p_acl = sub.add_parser(
        "acl", help="print the app user's Redis ACL, or apply it (every node of a cluster)"
    )
    p_acl.add_argument("--cluster", action="store_true", help="the rules a cluster node needs")
    p_acl.add_argument(
        "--apply",
        metavar="ADMIN_URL",
        help="a node's URL as an admin user; the app user's password is read from stdin",
    )

    p_demo = sub.add_parser("demo", help="serve the demo show on http://127.0.0.1:8000")
    p_demo.add_argument("--port", type=int, default=8000)
    p_demo.add_argument("--data-dir")

    p_stage = sub.add_parser(
        "stage", parents=[one_show], help="move the show's stage (the same rules as the console)"
    )
    p_stage.add_argument("action", choices=ACTIONS)
    p_stage.add_argument("--contestant", default="")
    p_stage.add_argument("--category", default="")
    p_stage.add_argument("--for-contestant", action="store_true")
    p_stage.add_argument("--seconds", type=int, default=0)

    p_vote = sub.add_parser("voting", parents=[one_show], help="open or close a category")
    p_vote.add_argument("action", choices=["open", "close"])
    p_vote.add_argument("--category", required=True)
    p_vote.add_argument("--contestant", default="", help="open for this contestant only")

    p_staff = sub.add_parser("staff", parents=[linked], help="invite, list, change, revoke staff")
    p_staff.add_argument("op", choices=["invite", "list", "role", "revoke", "organiser"])
    p_staff.add_argument(
        "--organiser",
        action="store_true",
        help="invite: also make the member an organiser (may create shows, up to --quota)",
    )
    p_staff.add_argument(
        "--quota", type=int, default=5, help="organiser: shows they may create (0 revokes)"
    )
    p_staff.add_argument("--role", choices=list(ROLES))
    p_staff.add_argument("--name", default="")
    p_staff.add_argument("--id", default="", help="the staff id (see `live staff list`)")

    p_key = sub.add_parser("overlay-key", parents=[linked], help="print or rotate the overlay URL")
    p_key.add_argument("--rotate", action="store_true")

    sub.add_parser("recount", parents=[one_show], help="rebuild tallies from the ledger, compare")
    p_verify = sub.add_parser(
        "verify", parents=[one_show], help="check the ledger's hash chain, recount, print the head"
    )
    p_verify.add_argument("--export", help="check an export folder instead of the live ledger")
    p_export = sub.add_parser(
        "export", parents=[one_show], help="write an anonymised ledger and the published results"
    )
    p_export.add_argument("--out", required=True)
    p_export.add_argument("--no-progress", action="store_true")

    p_backup = sub.add_parser(
        "backup", parents=[one_show], help="everything of a show in one file (consistent)"
    )
    p_backup.add_argument("--out", required=True)
    p_backup.add_argument("--no-progress", action="store_true")
    p_backup.add_argument(
        "--encrypt",
        action="store_true",
        help="seal the file under LIVE_BACKUP_PASSPHRASE (scrypt + AES-256-GCM)",
    )
    p_restore = sub.add_parser(
        "restore", parents=[files], help="a backup into an empty Redis (or a new prefix)"
    )
    p_restore.add_argument("file")
    p_restore.add_argument("--no-progress", action="store_true")

    sub.add_parser(
        "purge", parents=[one_show], help="delete a show's raw device ids, addresses, user agents"
    )

    p_show = sub.add_parser(
        "show", parents=[one_show], help="create a show file, import contestants, export a show"
    )
    p_show.add_argument("op", choices=["create", "import", "export"])
    p_show.add_argument("--out", help="the show file to write (export, create; import: optional)")
    p_show.add_argument("--file", help="import: the CSV or XLSX sheet of contestants")
    p_show.add_argument("--into", help="import: the show file to put them in")
    p_show.add_argument("--id", help="create: the show's id")
    p_show.add_argument("--title", help="create: the title (zh)")
    p_show.add_argument("--title-en", help="create: the title (en)")

    p_rec = sub.add_parser("reconcile", help="rank a points file under a preset (offline)")
    p_rec.add_argument("--preset", choices=sorted(PRESETS), default="eurovision")
    source = p_rec.add_mutually_exclusive_group(required=True)
    source.add_argument("--points", help="CSV: year, round, from_country, ...")
    source.add_argument("--export", help="an export folder (see `live export`)")
    p_rec.add_argument("--year")
    p_rec.add_argument("--round")
    p_rec.add_argument("--category", help="with --export: the category")
    p_rec.add_argument("--format", choices=["csv", "json"], default="csv")

    args = parser.parse_args(argv)
    if args.command == "reconcile":
        if args.export:
            if not args.category:
                parser.error("--export needs --category")
            return reconcile_export(Path(args.export), args.category, args.format)
        if not args.year or not args.round:
            parser.error("--points needs --year and --round")
        return reconcile_points(args.preset, Path(args.points), args.year, args.round, args.format)
    if args.command == "show" and args.op != "export":
        if args.op == "create":
            if not (args.id and args.title and args.title_en and args.out):
                parser.error("show create needs --id, --title, --title-en and --out")
            return showfile.create(args.id, args.title, args.title_en, Path(args.out))
        if not (args.file and args.into):
            parser.error("show import needs --file and --into")
        out = Path(args.out) if args.out else None
        return showfile.import_sheet(Path(args.file), Path(args.into), out)
    if args.command == "verify" and args.export:
        try:
            check = verify_export(Path(args.export))
        except (OSError, ValueError, KeyError, LiveError) as exc:
            print(f"live: {args.export}: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 2
        print("\n".join(check.lines()))
        return 0 if check.ok else 1
    try:
        return _dispatch(args)
    except LiveError as exc:
        print(f"live: {exc.message}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "serve":
        return serve(
            settings,
            args.host,
            args.port,
            args.workers,
            banner=True,
            access_log=not args.no_access_log,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
        )
    if args.command == "flagger":
        return asyncio.run(run_flagger(settings))
    if args.command == "acl":
        return _acl(args)
    if args.command == "cluster":
        if args.apps < 1:
            raise ConfigError("--apps: at least 1")
        return run_cluster(settings, args.apps, args.port)
    if args.command == "demo":
        settings = replace(settings, show_files=(DEMO_SHOW,))
        return serve(
            settings, "127.0.0.1", args.port, 1, banner=True, admin_link=True, flagger=True
        )

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
        version = await Service(shows, store).set_voting(
            show.id, args.category, args.action == "open", args.contestant
        )
        print("version", version)
        return 0

    async def recount(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        counted, state = await Service(shows, store).recount(show.id)
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

    async def verify(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        verdict = await Service(shows, store).verify(show.id)
        print("\n".join(verdict.lines()))
        return 0 if verdict.ok else 1

    async def export_show(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        out = Path(args.out)
        files = [p for p in settings.show_files if load_show(p).id == show.id]
        if files:
            source = files[0]
        else:  # set up in the browser: its show file is the definition kept in Redis
            source = out / ".definition.toml"
            await asyncio.to_thread(_write_definition, source, show_toml(show))
        manifest = await export(store, show, source, out, progress=not args.no_progress)
        head = manifest["chain_head"]
        print(f"exported {manifest['entries']} entries to {out}")
        print(f"chain head      #{head['n']} {head['h']}")
        return 0

    async def show_export(store: Store, shows: dict[str, Show]) -> int:
        """The show as it stands: its file with the edits made before the show."""
        if not args.out:
            raise ConfigError("show export needs --out")
        show = effective(_pick(shows, args.show), await store.read_edits(args.show))
        showfile.write_show(show, Path(args.out))
        print(f"exported show {show.id} to {args.out}")
        return 0

    async def staff(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        sessions = Sessions(store)
        if args.op == "invite":
            if not args.role or not args.name:
                raise ConfigError("invite needs --role and --name")
            member, token = await sessions.invite(show.id, args.role, args.name)
            print(f"{member.id} {member.role} {member.name}")
            if args.organiser:
                await _organiser(store, show.id, member.id, args.quota)
            print(login_link(args.base_url, show.id, token))
            return 0
        if args.op == "list":
            for m in await sessions.members(show.id):
                print(f"{m.id}  {m.role:10} {'active ' if m.active else 'revoked'}  {m.name}")
            return 0
        staff_id = args.id or await _id_by_name(sessions, show.id, args.name)
        if args.op == "organiser":
            await sessions.member(show.id, staff_id)  # a member of the show, or NotFound
            await _organiser(store, show.id, staff_id, args.quota)
            return 0
        if args.op == "role":
            if not args.role:
                raise ConfigError("role needs --role")
            member = await sessions.set_role(show.id, staff_id, args.role)
        else:
            member = await sessions.revoke(show.id, staff_id)
        state = "active" if member.active else "revoked"
        print(f"{member.id} {member.role} {state} {member.name}")
        return 0

    async def overlay_key(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        key = await Sessions(store).overlay_key(show.id, rotate=args.rotate)
        print(f"{args.base_url.rstrip('/')}/overlay/{show.id}?{urlencode({'key': key})}")
        return 0

    async def backup_show(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        out = Path(args.out)
        passphrase = settings.backup_passphrase if args.encrypt else None
        if args.encrypt and not passphrase:
            raise ConfigError("--encrypt: set LIVE_BACKUP_PASSPHRASE (at least 12 characters)")
        done = await backup.backup(
            store, show.id, show.partitions, out, not args.no_progress, passphrase
        )
        heads = await Backups(store).heads(show.id)
        print(f"backed up show {show.id}: {done['keys']} keys, {done['entries']} stream entries")
        for part, (n, h) in enumerate(heads):
            print(f"chain {part} head    #{n} {h}")
        return 0

    async def restore_show(store: Store, shows: dict[str, Show]) -> int:
        done = await backup.restore(
            store, Path(args.file), not args.no_progress, settings.backup_passphrase
        )
        print(
            f"restored show {done['show']} under prefix {store.prefix!r}: "
            f"{done['keys']} keys, {done['entries']} stream entries; check it with live verify"
        )
        return 0

    async def purge(store: Store, shows: dict[str, Show]) -> int:
        show = _pick(shows, args.show)
        done = await Personal(store).purge(show.id)
        print(f"purged show {show.id}: {done.raw_values} raw values, {done.keys} keys deleted")
        senders = await IdentityStore(store).forget_senders()
        print(f"phone-code send logs of addresses, subnets and devices deleted: {senders}")
        if done.raw_entries:
            print(
                f"{done.raw_entries} ledger entries written before pseudonymous ledgers keep "
                "their raw values (an append-only ledger is not rewritten)"
            )
        else:
            print("the ledger holds pseudonyms only")
        return 0

    work = {
        "purge": purge,
        "backup": backup_show,
        "restore": restore_show,
        "stage": stage,
        "voting": voting,
        "recount": recount,
        "verify": verify,
        "export": export_show,
        "show": show_export,
        "staff": staff,
        "overlay-key": overlay_key,
    }[args.command]
    return asyncio.run(_with_store(settings, work))
