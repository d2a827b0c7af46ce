"""WAIT on a single Redis with a replica (``LIVE_REDIS_WAIT_REPLICAS=1``): a vote is answered
``accepted`` only once the replica holds it; without the replica it is answered 503
``not_replicated``, and its retry with the same vote_id is accepted once the replica is back,
counted once."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from live.domain.ballot import Ballot, Voter, make_ballot, parse_vote
from live.domain.errors import NotReplicated
from live.domain.show import load_show
from live.domain.state import VoteOutcome
from live.redis.embedded import EmbeddedRedis, free_port, redis_server_binary
from live.redis.store import Store, close_client, make_client
from tests.helpers import SHOW, vote_body

SHOW_T = load_show(SHOW)


class Replica:
    """A redis-server following ``master`` (started and stopped by the test)."""

    def __init__(self, master: EmbeddedRedis, folder: Path) -> None:
        self.master = master
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--save", "", "--appendonly", "no"]
        args += ["--replicaof", "127.0.0.1", str(self.master.port)]
        args += ["--masterauth", self.master.password]
        with redis.Redis.from_url(self.master.admin_url) as admin:
            admin.config_set("repl-diskless-sync-delay", 0)  # sync at once, not after 5 s
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        # Ready when it confirms a write: for about a second after its sync a new replica is
        # online but not yet counted by WAIT (votes then get 503 and the phone retries).
        with redis.Redis.from_url(self.master.admin_url) as admin:
            for _ in range(200):
                admin.set("wait-probe", "1")
                if admin.execute_command("WAIT", 1, 50) == 1:
                    return
                time.sleep(0.05)
        raise AssertionError("the replica never confirmed a write")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def master_and_replica(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, Replica]]:
    master = EmbeddedRedis(tmp_path / "master")
    master.start()
    replica = Replica(master, tmp_path / "replica")
    try:
        replica.start()
        yield master, replica
    finally:
        replica.kill()
        master.stop()


async def test_a_vote_waits_for_its_replica_and_is_retried_safely(
    master_and_replica: tuple[EmbeddedRedis, Replica],
) -> None:
    master, replica = master_and_replica
    client = make_client(master.url, 4, 2000)
    store = Store(client, "w" + uuid.uuid4().hex[:8], 2000, wait_replicas=1, wait_ms=200)

    def ballot(vote_id: str) -> Ballot:
        body = parse_vote(vote_body("cap20", "p1", vote_id))
        return make_ballot(SHOW_T, body, Voter("d", "10.1.1.1"))

    async def confirmed(vote_id: str) -> VoteOutcome:
        """As a phone votes: the same vote_id again after a 503, for up to 5 s. (For about a
        second after a replica's sync the master may not count it yet.)"""
        for _ in range(50):
            try:
                return await store.cast_vote(ballot(vote_id), None, SHOW_T)
            except NotReplicated:
                await asyncio.sleep(0.1)
        raise AssertionError(f"{vote_id} was never confirmed")

    try:
        await store.init_show(SHOW_T)
        first = await confirmed("wait-first-1")
        assert first.status == "accepted"
        replica.kill()
        with pytest.raises(NotReplicated):  # written on the master, not confirmed: not accepted
            await store.cast_vote(ballot("wait-second"), None, SHOW_T)
        replica.start()
        again = await confirmed("wait-second")
        assert (again.status, again.reason) == ("accepted", "replay")
        entries = [f async for _, f in store.ledger_entries(SHOW_T.id)]
        second = [e for e in entries if e.get("vid") == "wait-second" and e["st"] == "accepted"]
        assert len(second) == 1  # written once, acknowledged once (on the retry)
    finally:
        await close_client(client)
