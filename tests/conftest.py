from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from live.redis.embedded import EmbeddedRedis
from live.settings import Settings
from tests.helpers import SECRET, SHOW, LiveServer, serve


@pytest.fixture(scope="session")
def redis_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real redis-server for the whole run: (the app user's URL, the admin's URL).

    ``LIVE_TEST_REDIS_URL`` (and ``LIVE_TEST_REDIS_ADMIN_URL``) name one, else one starts here.
    """
    given = os.environ.get("LIVE_TEST_REDIS_URL")
    if given:
        yield given, os.environ.get("LIVE_TEST_REDIS_ADMIN_URL", given)
        return
    redis = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    try:
        yield redis.url, redis.admin_url
    finally:
        redis.stop()


@pytest.fixture(scope="session")
def redis_url(redis_urls: tuple[str, str]) -> str:
    """The app user's URL (its ACL protects the ledger)."""
    return redis_urls[0]


@pytest.fixture(scope="session")
def redis_admin_url(redis_urls: tuple[str, str]) -> str:
    """The ``default`` user's URL, for tests that tamper with data on purpose."""
    return redis_urls[1]


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


ON_CLUSTER = os.environ.get("LIVE_TEST_REDIS_CLUSTER") == "1"
"""``LIVE_TEST_REDIS_CLUSTER=1`` (with ``LIVE_TEST_REDIS_URL`` naming a cluster node): the
servers the tests start run in cluster mode with WAIT 1. Tests that read or tamper through a
plain client of their own need a single Redis; the cluster's own tests are test_cluster.py."""


PARTITIONS = int(os.environ.get("LIVE_TEST_PARTITIONS", "1"))
"""``LIVE_TEST_PARTITIONS=N``: the servers the tests start load every show file with
``partitions = N`` (a copy in the test's data folder). Tests that read one chain or one key of
their own expect a single partition; the partitions' own tests are test_partitions.py."""


def partitioned(path: Path, data: Path, n: int) -> Path:
    """A copy of the show file ``path`` with ``partitions = n`` (``path`` itself for 1)."""
    text = path.read_text(encoding="utf-8")
    if n == 1 or text.startswith("partitions ="):
        return path
    data.mkdir(parents=True, exist_ok=True)
    copy = data / f"p{n}-{path.name}"
    copy.write_text(f"partitions = {n}\n" + text, encoding="utf-8")
    return copy


def make_settings(redis_url: str, prefix: str, data: Path, *shows: Path, **kw: object) -> Settings:
    shows = tuple(partitioned(p, data, PARTITIONS) for p in shows or (SHOW,))
    base = Settings(
        redis_url=redis_url,
        redis_cluster=ON_CLUSTER,
        redis_wait_replicas=1 if ON_CLUSTER else 0,
        data_dir=data,
        show_files=shows,
        key_prefix=prefix,
        secret_key=SECRET,
        push_interval_ms=50,
        like_flush_ms=50,
        flagger_inline=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def server(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(make_settings(redis_url, prefix, tmp_path)) as live:
        yield live
