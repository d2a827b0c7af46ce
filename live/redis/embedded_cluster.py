"""A loopback Redis Cluster of real redis-servers, for trying cluster mode and for its tests.

Three masters and three replicas (by default) on 127.0.0.1, each with ``appendonly yes`` and
``appendfsync always`` in its own folder, one password for the ``default`` user
(``masterauth`` too, so replicas sync) and the app user's ACL (:func:`~live.redis.embedded.app_acl`
plus what a cluster client needs) on every node, replicas included: ACL rules are not
replicated. The cluster is built with plain cluster commands (``MEET``, ``ADDSLOTSRANGE``,
``REPLICATE``), so it needs nothing beyond ``redis-server`` >= 7.

:meth:`EmbeddedCluster.supervise` starts a node again when it dies (its ``nodes.conf`` makes it
rejoin, as a replica when it was failed over), as an operator's service manager would.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from live.domain.errors import ConfigError
from live.redis.embedded import (
    APP_USER,
    app_acl,
    free_port,
    redis_server_binary,
    server_args,
    server_version,
)

log = logging.getLogger("live.cluster")
SLOTS = 16384


def cluster_acl() -> list[str]:
    """The app user's rules on a cluster node: :func:`app_acl` plus topology discovery
    (``CLUSTER SLOTS``/``SHARDS``/``NODES``), ``READONLY`` and sharded pub/sub."""
    extra = ["+cluster|slots", "+cluster|shards", "+cluster|nodes", "+cluster|myid"]
    extra += ["+readonly", "+ssubscribe", "+sunsubscribe", "+spublish"]
    return [*app_acl(), *extra]


def apply_acl(host: str, port: int, admin_password: str, app_password: str) -> None:
    """Create or reset the app user on one node (every node needs it: ACLs do not replicate)."""
    rules = ["reset", "on", f">{app_password}", *cluster_acl()]
    with redis.Redis(host=host, port=port, password=admin_password, socket_timeout=5) as r:
        r.execute_command("ACL", "SETUSER", APP_USER, *rules)


def cluster_port() -> int:
    """A free port whose cluster-bus port (+10000) is free too (so at most 55535)."""
    for _ in range(1000):
        port = free_port()
        if port > 55535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise ConfigError("no free port pair for a cluster node")


def apply_acl_everywhere(admin_url: str, app_password: str, cluster: bool) -> list[str]:
    """Create or reset the app user on the Redis at ``admin_url`` or, with ``cluster``, on every
    node its ``CLUSTER NODES`` lists, replicas included (a promoted replica must already know
    the user). Returns the ``host:port`` of each node done."""
    done = []
    with redis.Redis.from_url(admin_url, socket_timeout=5) as first:
        password = first.connection_pool.connection_kwargs.get("password") or ""
        if not cluster:
            rules = ["reset", "on", f">{app_password}", *app_acl()]
            first.execute_command("ACL", "SETUSER", APP_USER, *rules)
            kwargs = first.connection_pool.connection_kwargs
            return [f"{kwargs.get('host')}:{kwargs.get('port')}"]
        listing = first.execute_command("CLUSTER", "NODES")
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    for line in text.splitlines():
        address = line.split()[1].split("@")[0]
        host, _, port = address.rpartition(":")
        if "fail" in line.split()[2] or not port:
            raise ConfigError(f"cluster node {address} is failing: fix it, then apply again")
        apply_acl(host, int(port), password, app_password)
        done.append(address)
    return done


@dataclass
class Node:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class EmbeddedCluster:
    """``masters`` masters with ``replicas`` replicas each, owned by this object."""

    data_dir: Path
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 1000
    password: str = ""
    app_password: str = ""
    nodes: list[Node] = field(default_factory=list)
    restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _watcher: threading.Thread | None = field(default=None, repr=False)
    _launching: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """Held while the watcher starts a node: :meth:`stop` waits for it, and once stopping no
    node is started again (a node started during a stop would outlive it)."""

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        """What the app uses (``REDIS_URL`` with ``LIVE_REDIS_CLUSTER=1``): any node will do."""
        return f"redis://{APP_USER}:{self.app_password}@127.0.0.1:{self.nodes[0].port}/0"

    @property
    def admin_url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.nodes[0].port}/0"

    def admin(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_timeout=5)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node, join them into one cluster, wait until it serves every slot."""
        binary = redis_server_binary()
        if server_version(binary) < (7,):
            raise ConfigError("a Redis Cluster here needs redis-server >= 7 (ACL, sharded pub/sub)")
        self.password = self.password or secrets.token_urlsafe(24)
        self.app_password = self.app_password or secrets.token_urlsafe(24)
        total = self.masters * (1 + self.replicas)
        try:
            for i in range(total):
                node = Node(cluster_port(), self.data_dir / f"node{i}")
                self.nodes.append(node)
                self._launch(node)
            self._join(timeout)
        except BaseException:
            self.stop()
            raise

    def _launch(self, node: Node, timeout: float = 10.0) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        args = server_args(redis_server_binary(), node.port, node.folder, self.password)
        args += [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # A replica may take over however long it was cut off: on loopback it never lags
            # for long, and a show must not stay down waiting for its old master.
            "--cluster-replica-validity-factor", "0",
            # A rejoining node syncs at once (the default waits 5 s for more replicas to join,
            # and until then its new master has no replica: every WAIT fails, votes get 503).
            "--repl-diskless-sync-delay", "0",
            "--masterauth", self.password,
        ]  # fmt: skip
        node.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.admin(node.port) as r:
                    r.ping()
                break
            except redis.RedisError:
                if node.process.poll() is not None:
                    raise ConfigError(
                        f"redis-server on {node.port} exited; see {node.folder}"
                    ) from None
                if time.monotonic() > deadline:
                    raise ConfigError(f"redis-server on {node.port} did not answer") from None
                time.sleep(0.05)
        apply_acl("127.0.0.1", node.port, self.password, self.app_password)

    def _join(self, timeout: float) -> None:
        first = self.nodes[0].port
        for node in self.nodes[1:]:
            with self.admin(node.port) as r:
                r.execute_command("CLUSTER", "MEET", "127.0.0.1", str(first))
        per = SLOTS // self.masters
        for i in range(self.masters):
            lo, hi = i * per, (SLOTS - 1 if i == self.masters - 1 else (i + 1) * per - 1)
            with self.admin(self.nodes[i].port) as r:
                r.execute_command("CLUSTER", "ADDSLOTSRANGE", str(lo), str(hi))
        ids = []
        for node in self.nodes:
            with self.admin(node.port) as r:
                ids.append(str(r.execute_command("CLUSTER", "MYID"), "ascii"))
        deadline = time.monotonic() + timeout
        for j, node in enumerate(self.nodes[self.masters :]):
            master = ids[j % self.masters]
            while True:  # the replica must know its master before it can follow it
                try:
                    with self.admin(node.port) as r:
                        r.execute_command("CLUSTER", "REPLICATE", master)
                    break
                except redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every node says ``cluster_state:ok`` and every master has its replicas."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            time.sleep(0.1)
        raise ConfigError("the Redis Cluster did not become healthy in time")

    def healthy(self) -> bool:
        try:
            masters = 0
            for node in self.nodes:
                with self.admin(node.port) as r:
                    if r.cluster("info")["cluster_state"] != "ok":
                        return False
                    info = r.info("replication")
                    if info["role"] == "master":
                        masters += 1
                        if int(info["connected_slaves"]) < self.replicas:
                            return False
                    elif info.get("master_link_status") != "up":
                        return False
            return masters == self.masters
        except (redis.RedisError, KeyError):
            return False

    def master_of(self, key: str) -> Node:
        """The node that currently serves ``key``'s slot."""
        with redis.RedisCluster(
            host="127.0.0.1", port=self.nodes[0].port, password=self.password
        ) as rc:
            node = rc.get_node_from_key(key)
            port = int(node.port)
        return next(n for n in self.nodes if n.port == port)

    def kill(self, node: Node) -> None:
        """SIGKILL one node, as a crash would."""
        if node.process and node.process.poll() is None:
            node.process.kill()
            node.process.wait()

    def restart(self, node: Node) -> None:
        """Start a stopped node again on its port and folder: its ``nodes.conf`` makes it rejoin
        (as a replica of whichever node took over its slots)."""
        self._launch(node)

    def role(self, node: Node) -> str:
        """``master`` or ``slave`` as the node itself says (``down`` when it does not answer)."""
        try:
            with self.admin(node.port) as r:
                return str(r.info("replication")["role"])
        except redis.RedisError:
            return "down"

    def supervise(self, poll: float = 0.2) -> None:
        """Start a node again whenever it exits unasked (from a thread)."""
        if self._watcher is None:
            self._stopping.clear()
            self._watcher = threading.Thread(target=self._watch, args=(poll,), daemon=True)
            self._watcher.start()

    def _watch(self, poll: float) -> None:
        while not self._stopping.wait(poll):
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    with self._launching:
                        if self._stopping.is_set():
                            return
                        log.warning("cluster node %d exited; starting it again", node.port)
                        try:
                            self._launch(node)
                            self.restarts += 1
                        except (ConfigError, OSError, redis.RedisError) as exc:
                            log.error("cluster node %d did not start again: %s", node.port, exc)

    def stop(self) -> None:
        self._stopping.set()
        with self._launching:  # a start in flight ends first; none begins after this
            self._terminate()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
            self._watcher = None

    def _terminate(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        node.process.wait(timeout=5)
                node.process = None
