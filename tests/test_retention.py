"""Personal data kept only as long as needed: the ledger holds pseudonyms, the raw values live in
an expiring store that `live purge` empties, and every audit keeps working afterwards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from live.domain.ballot import Voter
from live.domain.ledger.chain import GENESIS, entry_hash
from tests.helpers import LiveServer, run_cli, staff_client, staff_login, vote_body

BOT_IP, HUMAN_IP = "198.51.100.7", "203.0.113.5"
BOT_UA, HUMAN_UA = "python-requests/2.31.0", "Mozilla/5.0 (iPhone) Mobile/15E148"


async def _everything(live: LiveServer, show: str = "t") -> str:
    """Every key of the show (each partition) with everything it holds, as one text."""
    store = live.rt.store
    client: Any = store.client
    out = []
    for part in store.partitions(show):
        base = store.keys(show, part).base
        async for key in client.scan_iter(match=f"{base}:*", count=1000):
            kind = await client.type(key)
            if kind == "string":
                value: Any = await client.get(key)
            elif kind == "hash":
                value = await client.hgetall(key)
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "set":
                value = sorted(await client.smembers(key))
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            else:
                value = await client.xrange(key)
            out.append(f"{key} {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(out)


async def _night(live: LiveServer) -> list[str]:
    """40 scripted votes from one address (4 devices), 3 from a phone elsewhere; the raw
    device ids."""
    devices = [live.cookie().rsplit(".", 1)[0] for _ in range(5)]
    for d, device in enumerate(devices[:4]):
        voter = Voter(device, BOT_IP, BOT_UA)
        for i in range(10):
            body = vote_body("cap20", "p2", f"bot-{d}-{i:03d}")
            _, outcome = await live.rt.service.vote("t", body, voter)
            assert outcome.status == "accepted"
    for i in range(3):
        body = vote_body("cap20", "p1", f"human-{i:03d}")
        _, outcome = await live.rt.service.vote("t", body, Voter(devices[4], HUMAN_IP, HUMAN_UA))
        assert outcome.status == "accepted"
    return devices


async def _flags(http: Any, rule: str, flagged: int) -> dict[str, Any]:
    """The cluster of ``rule`` once the flagger wrote ``flagged`` of its votes."""
    async with asyncio.timeout(10):
        while True:
            clusters: list[dict[str, Any]] = (await http.get("/api/shows/t/flags")).json()[
                "clusters"
            ]
            found = [c for c in clusters if c["rule"] == rule and c["flagged"] >= flagged]
            if found:
                return found[0]
            await asyncio.sleep(0.1)


async def test_after_a_purge_no_raw_address_or_device_id_is_left_and_audits_still_pass(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    devices = await _night(server)
    raw = [*devices, BOT_IP, HUMAN_IP, "198.51.100.", "203.0.113.", BOT_UA, HUMAN_UA]
    cookie, csrf = await staff_login(server, "moderator")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        burst = await _flags(http, "ip_burst", 31)
        scripted = await _flags(http, "scripted_agent", 40)
        # While the show keeps them, a moderator reads the raw values.
        assert BOT_IP in burst["reason"] and {v["ip"] for v in burst["votes"]} == {BOT_IP}
        assert BOT_UA in scripted["reason"] and scripted["votes"][0]["ua"] == BOT_UA
        # ... and Redis holds them in one place only: the pii hash of each partition.
        before = await _everything(server)
        outside = [line for line in before.splitlines() if ":pii " not in line]
        for value in raw:
            assert value in before, value
            assert not [line for line in outside if value in line], value

        code, out, _ = await run_cli(server, monkeypatch, capsys, "purge", "--show", "t")
        assert code == 0, out
        assert "purged show t:" in out and "the ledger holds pseudonyms only" in out
        # The fraud consumer notices the purge at its next lease renewal (every ~3.3 s) and
        # rebuilds its flags from pseudonyms; nothing raw may come back.
        await asyncio.sleep(4.5)
        after = await _everything(server)
        for value in raw:
            assert value not in after, value

        # Moderation still works: the queue names the address by its pseudonym, and a
        # cluster is voided.
        burst = await _flags(http, "ip_burst", 31)
        assert BOT_IP not in json.dumps(burst) and "#" in burst["reason"]
        void = {"op": "void", "cluster": burst["id"], "reason": "one address, 40 votes"}
        reply = await http.post("/api/shows/t/voids", json=void)
        assert reply.status_code == 200 and reply.json()["changed"] == 40
    for command in (["verify", "--show", "t"], ["recount", "--show", "t"]):
        code, out, _ = await run_cli(server, monkeypatch, capsys, *command)
        assert code == 0, out
    export = tmp_path / "export"
    args = ["export", "--show", "t", "--out", str(export), "--no-progress"]
    assert (await run_cli(server, monkeypatch, capsys, *args))[0] == 0
    code, out, _ = await run_cli(server, monkeypatch, capsys, "verify", "--export", str(export))
    assert code == 0, out


async def test_raw_values_expire_with_the_shows_retention(server: LiveServer) -> None:
    await _night(server)
    store = server.rt.store
    show = server.rt.service.show("t")
    for part in store.partitions("t"):
        ttl = int(await store.client.pttl(store.keys("t", part).personal))
        assert show.retention == 30
        assert show.retention_ms - 60_000 < ttl <= show.retention_ms


async def test_a_ledger_begun_with_raw_values_verifies_and_purge_says_they_stay(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Entries written before pseudonymous ledgers carry raw values, which the chain hashed
    as their keyed hashes; a ledger that goes on with pseudonymous entries verifies whole."""
    store = server.rt.store
    client: Any = store.client
    pseudonym = await store.pseudonym("t")
    head = GENESIS
    for n in range(1, 4):
        fields = {
            "k": "vote", "st": "limited", "why": "device_rate", "vid": f"old-{n}",
            "dev": "old-device", "ip": "192.0.2.1", "ua": "Old/1.0", "cat": "cap20", "c": "p1",
            "t": str(1_700_000_000_000 + n),
        }  # fmt: skip
        head = entry_hash(head, n, fields, pseudonym)
        await client.xadd(store.keys("t").ledger, fields | {"n": str(n), "h": head})
    await _night(server)
    code, out, _ = await run_cli(server, monkeypatch, capsys, "verify", "--show", "t")
    assert code == 0 and "chain           intact" in out, out
    code, out, _ = await run_cli(server, monkeypatch, capsys, "purge", "--show", "t")
    assert code == 0
    assert "3 ledger entries written before pseudonymous ledgers keep their raw values" in out
