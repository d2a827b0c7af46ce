"""The ledger is hash-chained and guarded: `live verify` finds tampering; the app cannot delete."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError, ResponseError

from live.domain.ballot import Voter
from live.domain.ledger.chain import GENESIS, ChainCheck, entry_hash, pseudonymiser
from tests.helpers import LiveServer, run_cli, vote_body


def test_entry_hash_covers_every_field_and_the_previous_hash() -> None:
    fields = {"k": "vote", "c": "p1"}
    h = entry_hash(GENESIS, 1, fields, None)
    assert h != entry_hash(GENESIS, 1, {"k": "vote", "c": "p2"}, None)
    assert h != entry_hash("1" * 40, 1, fields, None)
    assert h != entry_hash(GENESIS, 2, fields, None)
    # Lengths delimit fields, so moving a character across a boundary changes the hash.
    assert entry_hash(GENESIS, 1, {"a": "bc"}, None) != entry_hash(GENESIS, 1, {"ab": "c"}, None)


def test_personal_fields_enter_the_hash_as_their_keyed_hashes() -> None:
    pseudonym = pseudonymiser(b"k" * 32)
    raw = {"k": "vote", "dev": "device-1", "ip": "10.0.0.1"}
    anonymised = {"k": "vote", "dev": pseudonym("device-1"), "ip": pseudonym("10.0.0.1")}
    assert entry_hash(GENESIS, 1, raw, pseudonym) == entry_hash(GENESIS, 1, anonymised, None)
    assert pseudonym("device-1") != pseudonymiser(b"j" * 32)("device-1")


async def _cast(server: LiveServer, n: int) -> None:
    async with server.client(server.cookie()) as http:
        for i in range(n):
            body = vote_body("cap20", "p1" if i % 2 else "p2", f"chain-{i:04d}")
            assert (await http.post("/api/shows/t/votes", json=body)).status_code == 200


async def _verify(
    monkeypatch: pytest.MonkeyPatch, server: LiveServer, capsys: Any
) -> tuple[int, str]:
    code, out, _ = await run_cli(server, monkeypatch, capsys, "verify", "--show", "t")
    return code, out


async def _rewrite(admin: Any, key: str, change: Callable[[list[Any]], list[Any]]) -> list[Any]:
    """Rebuild the stream with the same ids but changed contents, as a tamperer with the
    admin password could; returns the original entries."""
    original: list[Any] = await admin.xrange(key)
    await admin.delete(key)
    for entry_id, fields in change([(i, dict(f)) for i, f in original]):
        await admin.xadd(key, fields, id=entry_id)
    return original


async def _restore(admin: Any, key: str, original: list[Any]) -> None:
    await admin.delete(key)
    for entry_id, fields in original:
        await admin.xadd(key, fields, id=entry_id)


async def test_verify_prints_the_head_of_an_intact_chain(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    await _cast(server, 6)
    code, out = await _verify(monkeypatch, server, capsys)
    newest: Any = await server.rt.store.client.xrevrange(server.rt.store.keys("t").ledger, count=1)
    last = newest[0]
    assert code == 0, out
    assert "chain           intact" in out
    assert f"chain head      #{last[1]['n']} {last[1]['h']}" in out
    # The Python check agrees with what the Lua appends wrote.
    check = ChainCheck(await server.rt.store.pseudonym("t"))
    async for entry_id, fields in server.rt.store.ledger_entries("t"):
        check.feed(entry_id, fields)
    assert check.ok and check.head == last[1]["h"]


@pytest.mark.parametrize(
    ("how", "position"),
    [
        ("edit", 4),  # one vote's contestant changed in place
        ("remove", 4),  # one entry taken out
        ("swap", 3),  # two entries' contents exchanged
    ],
)
async def test_verify_reports_the_first_tampered_entry(
    server: LiveServer,
    redis_admin_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    how: str,
    position: int,
) -> None:
    await _cast(server, 8)
    key = server.rt.store.keys("t").ledger

    def tamper(entries: list[Any]) -> list[Any]:
        i = position - 1
        if how == "edit":
            fields = entries[i][1]
            fields["c"] = "p2" if fields.get("c") == "p1" else "p1"
        elif how == "remove":
            del entries[i]
        else:
            entries[i], entries[i + 1] = (
                (entries[i][0], entries[i + 1][1]),
                (
                    entries[i + 1][0],
                    entries[i][1],
                ),
            )
        return entries

    admin: Any = aioredis.Redis.from_url(redis_admin_url, decode_responses=True)
    try:
        original = await _rewrite(admin, key, tamper)
        code, out = await _verify(monkeypatch, server, capsys)
        assert code == 1
        assert f"BROKEN at entry #{position} " in out, out
        await _restore(admin, key, original)
        code, out = await _verify(monkeypatch, server, capsys)
        assert code == 0, out
    finally:
        await admin.aclose()


async def test_the_app_user_cannot_delete_trim_or_overwrite_the_ledger(
    server: LiveServer, redis_url: str, redis_admin_url: str
) -> None:
    assert redis_url != redis_admin_url, "the embedded Redis must run the app as its own user"
    await _cast(server, 3)
    key = server.rt.store.keys("t").ledger
    app: Any = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        before = await app.xlen(key)
        attempts = [
            app.delete(key),
            app.unlink(key),
            app.xtrim(key, maxlen=0),
            app.xdel(key, (await app.xrange(key, count=1))[0][0]),
            app.set(key, "x"),
            app.expire(key, 1),
            app.pexpire(key, 1),
            app.rename(key, key + ":gone"),
            app.flushall(),
            app.flushdb(),
            app.execute_command("ACL", "SETUSER", "live", "+@all"),
            app.config_set("appendonly", "no"),
        ]
        for attempt in attempts:
            with pytest.raises((NoPermissionError, ResponseError)) as refused:
                await attempt
            assert "permission" in str(refused.value).lower() or "NOPERM" in str(refused.value)
        # Inside a script the same rules hold.
        with pytest.raises(ResponseError, match=r"(?i)permission|noperm|can.t access"):
            await app.eval("return redis.call('DEL', KEYS[1])", 1, key)
        assert await app.xlen(key) == before
        # The ephemeral families stay usable (a session can still be ended).
        session_key = server.rt.store.keys("t").base + ":sess:probe"
        await app.hset(session_key, "x", "1")
        assert await app.delete(session_key) == 1
    finally:
        await app.aclose()


async def test_verify_and_recount_agree_while_votes_keep_coming(server: LiveServer) -> None:
    """The live figures and the ledger are compared at one point (the state's MULTI names the
    ledger's last entry), so a vote landing during the check is not a mismatch."""
    rt = server.rt
    voter = Voter("d-verify", "10.9.0.1")
    stop = asyncio.Event()
    landed = asyncio.Event()
    cast = 0

    async def keep_voting() -> None:
        nonlocal cast
        while not stop.is_set():
            body = {"category": "cap20", "contestant": "p1", "vote_id": f"live-{cast:05d}"}
            await rt.service.vote("t", body, Voter(f"{voter.device}-{cast}", voter.ip))
            cast += 1
            landed.set()

    voting = asyncio.create_task(keep_voting())
    try:
        for _ in range(8):
            for _ in range(3):  # some votes land between every two checks
                landed.clear()
                await asyncio.wait_for(landed.wait(), 5)
            verdict = await rt.service.verify("t")
            assert verdict.ok, verdict.lines()
            counted, state = await rt.service.recount("t")
            assert counted.tally_dict().get("cap20", {}) == {
                c: n for c, n in state.tallies["cap20"].items() if n
            }
    finally:
        stop.set()
        await voting
    assert cast >= 24  # votes really did land during the checks
