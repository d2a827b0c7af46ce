"""`live backup` and `live restore`: a show with votes, a void, sheets, a publication, staff and
likes, backed up and restored into a fresh Redis (its ACL'd app user, as in production),
verifies, has the same chain head, and every key compares equal."""

from __future__ import annotations

import asyncio
import gzip
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from live import cli
from live.redis.backup import Backups
from live.redis.embedded import EmbeddedRedis
from live.redis.store import Store, close_client, open_store
from tests.helpers import LiveServer, run_cli, staff_client, staff_login, vote_body
from tests.test_judging import admin, judge, sheet

MARKS = {"innovation": 20, "craft": 20, "presentation": 10, "impact": 10}


async def busy_evening(server: LiveServer) -> None:
    """Votes, likes, a void, two judges' sheets and a published result."""
    for i in range(12):
        async with server.client(server.cookie()) as phone:
            body = vote_body("cap20", f"p{1 + i % 5}", f"backup-{i:04d}")
            assert (await phone.post("/api/shows/t/votes", json=body)).status_code == 200
            assert (await phone.post("/api/shows/t/likes", json={"n": 3})).status_code == 202
    cookie, csrf = await staff_login(server, "moderator", "Mo")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        void = {"op": "void", "vote_ids": ["backup-0000"], "reason": "same farm"}
        assert (await http.post("/api/shows/t/voids", json=void)).status_code == 200
    for name in ("judge one", "judge two"):
        async with await judge(server, name) as http:
            for who in ("p1", "p2"):
                saved = await sheet(http, who, "submit", f"{name[-3:]}-{who}", MARKS)
                assert saved.status_code == 200, saved.text
    async with await admin(server) as http:
        published = await http.post("/api/shows/t/results/cap20/publish", json={"note": "final"})
        assert published.status_code == 200, published.text
    await server.rt.likes.flush()


async def everything(store: Store) -> dict[str, Any]:
    """Every lasting key of show t (hashes, sets, strings, ...) and every stream's entries."""
    backups = Backups(store)
    out: dict[str, Any] = {}
    for part in store.partitions("t"):
        for rec in await backups.read_partition("t", part):
            value = rec.value
            if rec.type in ("hash", "zset"):  # in no order: compared as mappings
                value = dict(zip(value[::2], value[1::2], strict=True))
            elif rec.type == "set":
                value = sorted(value)
            out[rec.key] = (rec.type, value)
            if rec.type == "stream":
                out[rec.key + "#entries"] = [
                    e async for e in backups.stream(store.prefix + rec.key, rec.value)
                ]
    return out


async def cli_on(url: str, prefix: str, server: LiveServer, monkeypatch: Any, capsys: Any,
                 *argv: str) -> tuple[int, str, str]:  # fmt: skip
    """``live ARGV`` against another Redis (``url``) and prefix."""
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("LIVE_KEY_PREFIX", prefix)
    monkeypatch.setenv("LIVE_SHOW_FILES", ",".join(str(p) for p in server.settings.show_files))
    monkeypatch.setenv("LIVE_REDIS_CLUSTER", "")
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_a_show_restored_into_a_fresh_redis_verifies_and_compares_equal(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await busy_evening(server)
    file = tmp_path / "t.backup"
    for _ in range(20):  # a backup taken while nothing moves (the flagger writes a while later)
        before = await everything(server.rt.store)
        code, out, err = await run_cli(
            server, monkeypatch, capsys, "backup", "--show", "t", "--out", str(file),
            "--no-progress",
        )  # fmt: skip
        assert code == 0, err
        if await everything(server.rt.store) == before:
            break
        await asyncio.sleep(0.5)
    head = re.search(r"chain 0 head\s+#(\d+) ([0-9a-f]{40})", out)
    assert head, out
    print("\n" + out.strip())

    fresh = EmbeddedRedis(tmp_path / "fresh")
    await asyncio.to_thread(fresh.start)
    try:
        prefix = server.settings.key_prefix
        code, out, err = await cli_on(fresh.url, prefix, server, monkeypatch, capsys,
                                      "restore", str(file), "--no-progress")  # fmt: skip
        assert code == 0, err
        print(out.strip())
        code, verified, err = await cli_on(fresh.url, prefix, server, monkeypatch, capsys,
                                           "verify", "--show", "t")  # fmt: skip
        assert code == 0, verified + err
        assert f"#{head.group(1)} {head.group(2)}" in verified  # the same chain head
        print(verified.strip())
        target = open_store(replace(server.settings, redis_url=fresh.url), fresh.url, 2)
        target.register(server.rt.service.shows.values())
        try:
            assert await everything(target) == before
            state = await target.read_state(server.rt.service.show("t"))
        finally:
            await close_client(target.client)
        live = await server.rt.store.read_state(server.rt.service.show("t"))
        assert state.tallies == live.tallies and state.voided == live.voided
        assert state.likes == live.likes and state.published == live.published

        # Into a Redis that holds the show already: refused, nothing written.
        code, _, err = await cli_on(fresh.url, prefix, server, monkeypatch, capsys,
                                    "restore", str(file), "--no-progress")  # fmt: skip
        assert code != 0 and "restore into an empty Redis" in err
    finally:
        await asyncio.to_thread(fresh.stop)


async def test_a_backup_cut_short_is_refused_before_anything_is_written(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await busy_evening(server)
    file = tmp_path / "t.backup"
    code, _, err = await run_cli(
        server, monkeypatch, capsys, "backup", "--show", "t", "--out", str(file), "--no-progress"
    )
    assert code == 0, err
    lines = gzip.decompress(file.read_bytes()).splitlines(keepends=True)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(gzip.compress(b"".join(lines[: len(lines) // 2])))
    new = server.settings.key_prefix + "r"
    code, _, err = await cli_on(server.settings.redis_url or "", new, server, monkeypatch, capsys,
                                "restore", str(cut), "--no-progress")  # fmt: skip
    assert code != 0 and "cut short" in err
    found = [k async for k in server.rt.store.client.scan_iter(match=f"{new}:*")]
    assert found == []
