"""Scaled out: a loopback Redis Cluster (3 masters, 3 replicas), two app processes on it
(``LIVE_REDIS_CLUSTER=1``) and Debian's nginx in front with ``deploy/nginx/live.conf``.

The same :class:`~live.cli.cluster.Stack` that ``live cluster`` starts; one for the module.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets

from live.cli.cluster import Stack
from live.domain.show import load_shows, partition_of
from live.redis.embedded_cluster import EmbeddedCluster, Node
from live.redis.store import Store, close_client, open_store
from live.services.shows import Service
from live.settings import Settings
from live.web.identity import COOKIE, Devices
from tests.conftest import partitioned
from tests.helpers import SECRET, SHOW, next_snapshot, snapshot_where, vote_body

PARTS = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    # The show's votes over 4 partitions, spread over the 3 masters (2/1/1).
    show = partitioned(SHOW, folder, PARTS)
    settings = Settings(show_files=(show,), key_prefix="c" + uuid.uuid4().hex[:8])
    settings = replace(settings, secret_key=SECRET)
    # port=0: the balancer's port is picked once the cluster and apps hold theirs.
    running = Stack(folder, settings, apps=2, port=0, quiet=True, supervise=False)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def store(stack: Stack) -> AsyncIterator[Store]:
    """A store on the cluster, as an operator's `live recount` would open one."""
    assert stack.cluster is not None
    settings = replace(stack.settings, redis_cluster=True, redis_wait_replicas=0)
    opened = open_store(settings, stack.cluster.url, 4)
    opened.register(load_shows(stack.settings.show_files).values())
    try:
        yield opened
    finally:
        await close_client(opened.client)


def phone() -> dict[str, str]:
    return {COOKIE: Devices(SECRET).issue()[1]}


def app(stack: Stack, i: int) -> str:
    return f"http://127.0.0.1:{stack.app_ports[i]}"


async def cast(
    http: httpx.AsyncClient, url: str, body: dict[str, str], **kw: Any
) -> httpx.Response:
    """One vote as the viewer page casts it: a 503 (a shard just failed over, its replica not
    yet back: not_replicated) is tried again with the same vote_id, for up to 10 s."""
    for _ in range(100):
        reply = await http.post(url, json=body, **kw)
        if reply.status_code != 503:
            return reply
        await asyncio.sleep(0.1)
    return reply


async def test_both_processes_and_nginx_serve_the_same_state(stack: Stack) -> None:
    async with httpx.AsyncClient(cookies=phone(), timeout=10) as http:
        vote = await cast(
            http, f"{stack.url}/api/shows/t/votes", vote_body("cap20", "p1", uuid.uuid4().hex)
        )
        assert vote.json()["status"] == "accepted", vote.text
        seen = []
        for base in (app(stack, 0), app(stack, 1), stack.url):
            for _ in range(50):  # a snapshot served from memory catches up within a push
                snap = (await http.get(f"{base}/api/shows/t")).json()
                if snap["version"] >= vote.json()["version"]:
                    break
                await asyncio.sleep(0.05)
            seen.append((snap["version"] >= vote.json()["version"], snap["tallies"]["cap20"]))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][0] is True


async def test_a_vote_on_one_process_reaches_a_viewer_of_the_other_within_a_second(
    stack: Stack,
) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{stack.app_ports[1]}/ws/shows/t") as ws:
        before = (await next_snapshot(ws))["tallies"]["cap20"].get("p4", 0)
        async with httpx.AsyncClient(cookies=phone(), timeout=10) as http:
            reply = await cast(
                http,
                f"{app(stack, 0)}/api/shows/t/votes",
                vote_body("cap20", "p4", uuid.uuid4().hex),
            )
        assert reply.json()["status"] == "accepted"
        snap = await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p4"] == before + 1, 1.0)
    assert snap["version"] >= reply.json()["version"]


async def test_a_viewer_through_nginx_gets_pushes(stack: Stack) -> None:
    origin = stack.url
    ws_url = f"ws://127.0.0.1:{stack.port}/ws/shows/t"
    async with websockets.connect(ws_url, origin=origin) as ws:  # type: ignore[arg-type]
        before = (await next_snapshot(ws))["tallies"]["cap20"].get("p5", 0)
        async with httpx.AsyncClient(cookies=phone(), timeout=10) as http:
            reply = await cast(
                http,
                f"{stack.url}/api/shows/t/votes",
                vote_body("cap20", "p5", uuid.uuid4().hex),
                headers={"Origin": origin},
            )
        assert reply.json()["status"] == "accepted", reply.text
        await snapshot_where(ws, lambda s: s["tallies"]["cap20"]["p5"] == before + 1, 2.0)


async def test_a_devices_cap_holds_across_processes(stack: Stack) -> None:
    cookies = phone()
    async with httpx.AsyncClient(cookies=cookies, timeout=10) as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    f"{app(stack, i % 2)}/api/shows/t/votes",
                    json=vote_body("cap1", "p2", f"cap-{i}-{uuid.uuid4().hex[:8]}"),
                )
                for i in range(40)
            )
        )
    statuses = [r.json()["status"] for r in replies]
    assert statuses.count("accepted") == 1
    assert statuses.count("duplicate") == 39


async def test_a_stage_change_reaches_every_process(stack: Stack) -> None:
    sockets = [websockets.connect(f"ws://127.0.0.1:{port}/ws/shows/t") for port in stack.app_ports]
    async with sockets[0] as first, sockets[1] as second:
        for ws in (first, second):
            await next_snapshot(ws)
        done = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "live", "stage", "present", "--show", "t", "--contestant", "p3"),
            env=stack.env(),
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await done.wait() == 0
        for ws in (first, second):
            snap = await snapshot_where(ws, lambda s: s["stage"]["contestant"] == "p3", 2.0)
            assert snap["stage"]["phase"] == "presenting"


async def _phone_votes(
    stack: Stack, which: int, until: float, acked: dict[str, float], where: dict[str, int]
) -> None:
    """One phone: votes on process ``which % 2``; a refused-for-now vote (503, a lost
    connection) is retried with the same vote_id, as the viewer page does. ``where``: each
    vote's partition (its device's)."""
    device, cookie = Devices(SECRET).issue()
    async with httpx.AsyncClient(cookies={COOKIE: cookie}, timeout=5) as http:
        n = 0
        while time.monotonic() < until and n < 20:
            vid = f"fo{which}x{n}x{uuid.uuid4().hex[:6]}"
            where[vid] = partition_of(device, PARTS)
            body = vote_body("cap20", f"p{1 + n % 5}", vid)
            while time.monotonic() < until:
                try:
                    reply = await http.post(f"{app(stack, which % 2)}/api/shows/t/votes", json=body)
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
                    continue
                if reply.status_code == 503:
                    await asyncio.sleep(0.1)
                    continue
                assert reply.json().get("status") == "accepted", (reply.status_code, reply.text)
                acked[vid] = time.monotonic()
                break
            n += 1
            await asyncio.sleep(0.15)


async def test_a_master_killed_while_phones_vote_loses_no_acknowledged_vote(
    stack: Stack, store: Store
) -> None:
    cluster = stack.cluster
    assert cluster is not None
    node = cluster.master_of(store.keys("t").version)
    # The partitions the killed master holds: their phones wait for the failover; the others
    # vote on (their masters live).
    hit = {p for p in range(PARTS) if cluster.master_of(store.keys("t", p).version) is node}
    acked: dict[str, float] = {}
    where: dict[str, int] = {}
    until = time.monotonic() + 25
    phones = [asyncio.ensure_future(_phone_votes(stack, i, until, acked, where)) for i in range(16)]
    try:
        await asyncio.sleep(1.5)
        before = len(acked)
        await asyncio.to_thread(cluster.kill, node)
        killed = time.monotonic()
        # The operator's service manager starts it again once its replica has taken over.
        for _ in range(100):
            if await asyncio.to_thread(_promoted, cluster, node):
                break
            await asyncio.sleep(0.1)
        promoted = time.monotonic() - killed
        await asyncio.to_thread(cluster.restart, node)
        restarted = time.monotonic() - killed
        await asyncio.gather(*phones)
    finally:  # whatever happened, the next test gets every phone stopped and a whole cluster
        for task in phones:
            task.cancel()
        await asyncio.gather(*phones, return_exceptions=True)
        if node.process is None or node.process.poll() is not None:
            await asyncio.to_thread(cluster.restart, node)
        await asyncio.to_thread(cluster.wait_healthy, 30)
    after = sorted(t - killed for vid, t in acked.items() if t > killed and where[vid] in hit)
    elsewhere = [t for vid, t in acked.items() if where[vid] not in hit]

    print(
        f"failover: replica promoted {promoted:.2f} s, old master back {restarted:.2f} s, first "
        f"vote of its partitions {sorted(hit)} accepted {after[0]:.2f} s after the kill; "
        f"{len(acked)} acknowledged, {len(elsewhere)} in the other partitions"
    )
    assert before > 0 and after, (before, len(after), stack.log_tail())
    assert after[0] < 10, f"first vote accepted {after[0]:.1f} s after the kill"
    assert len(acked) == 16 * 20
    svc = Service(load_shows(stack.settings.show_files), store)
    verdict = await svc.verify("t")  # every partition's chain
    assert verdict.ok, verdict.lines()
    assert len(verdict.chains) == PARTS
    ledger = [f for part in range(PARTS) async for _, f in store.ledger_entries("t", part=part)]
    counted: dict[str, int] = {}
    for entry in ledger:
        if entry.get("k") == "vote" and entry.get("st") == "accepted":
            counted[entry["vid"]] = counted.get(entry["vid"], 0) + 1
    assert all(counted.get(vid) == 1 for vid in acked), [v for v in acked if counted.get(v) != 1]


def _promoted(cluster: EmbeddedCluster, node: Node) -> bool:
    """Whether another node now serves the killed master's slots."""
    others = [n for n in cluster.nodes if n is not node]
    masters = [n for n in others if cluster.role(n) == "master"]
    return len(masters) == cluster.masters


@pytest.mark.parametrize("command", ["recount", "verify", "export"])
async def test_the_operators_commands_work_on_the_cluster(
    stack: Stack, command: str, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(cookies=phone(), timeout=10) as http:
        reply = await cast(
            http, f"{stack.url}/api/shows/t/votes", vote_body("cap20", "p2", uuid.uuid4().hex)
        )
    assert reply.json().get("status") == "accepted", (reply.status_code, reply.text)
    extra = ["--out", str(tmp_path / "export"), "--no-progress"] if command == "export" else []
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "live", command, "--show", "t", *extra),
        env=stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await done.communicate()
    assert done.returncode == 0, (out.decode(), err.decode())
    if command == "export":
        check = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "live", "verify", "--export", str(tmp_path / "export")),
            stdout=asyncio.subprocess.PIPE,
        )
        assert await check.wait() == 0


def test_live_acl_sets_the_app_user_on_every_node_replicas_included(tmp_path: Path) -> None:
    small = EmbeddedCluster(tmp_path / "acl", masters=1, replicas=1)
    small.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "live", "acl", "--cluster", "--apply", small.admin_url],
            input="fresh-app-password\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("app user 'live' set on") == 2
        for node in small.nodes:
            with redis.Redis(port=node.port, username="live", password="fresh-app-password") as r:
                assert r.execute_command("CLUSTER", "MYID")  # what the cluster client asks first
                with pytest.raises(redis.exceptions.NoPermissionError):
                    r.delete("live:{t}:ledger")  # the ledger stays append-only
    finally:
        small.stop()


async def test_a_show_set_up_in_the_browser_is_served_by_every_process_of_the_cluster(
    stack: Stack,
) -> None:
    from loadtest.chaos.access import invite, sign_in

    token = await asyncio.to_thread(invite, "t", "admin", "Organiser", stack.env(), True)
    admin = await sign_in(app(stack, 0), "t", token)
    show = "gala" + uuid.uuid4().hex[:6]
    headers = {"X-CSRF-Token": admin.csrf}
    async with httpx.AsyncClient(
        base_url=app(stack, 0), cookies={"live_staff": admin.cookie}, headers=headers, timeout=10
    ) as http:
        made = await http.post("/api/shows", json={"id": show, "title": "决赛", "title_en": "F"})
        assert made.status_code == 201, made.text
        link = httpx.URL(made.json()["login"])
        owner = await sign_in(app(stack, 0), show, link.params["token"])
    async with httpx.AsyncClient(
        base_url=app(stack, 0),
        cookies={"live_staff": owner.cookie},
        headers={"X-CSRF-Token": owner.csrf},
        timeout=10,
    ) as http:
        d = (await http.get(f"/api/shows/{show}/definition")).json()
        d["show"]["title_en"] = "Final on the cluster"
        saved = await http.post(
            f"/api/shows/{show}/definition", json={"rev": d["rev"], "show": d["show"]}
        )
        assert saved.status_code == 200, saved.text
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(40):  # the other process reads the registry every second
            other = await http.get(f"{app(stack, 1)}/api/shows/{show}")
            if other.status_code == 200 and other.json()["show"]["title_en"].endswith("cluster"):
                break
            await asyncio.sleep(0.1)
    assert other.status_code == 200 and other.json()["show"]["title_en"] == "Final on the cluster"
