"""The Redis adapter's one facade: every noun's store in one object.

Each noun lives in its own module (:mod:`live.redis.votes`, :mod:`live.redis.state`,
:mod:`live.redis.stage`, :mod:`live.redis.judging`, :mod:`live.redis.ledger`) on the shared
connection of :mod:`live.redis.base`; :mod:`live.redis.sessions` and
:mod:`live.redis.moderation` build on this facade.
"""

from __future__ import annotations

from live.redis.base import Client, close_client, load_script, make_client
from live.redis.judging import Judging
from live.redis.ledger import Ledger
from live.redis.stage import Stages
from live.redis.state import ShowStates
from live.redis.votes import Votes
from live.settings import Settings

__all__ = ["Client", "Store", "close_client", "load_script", "make_client", "open_store"]


class Store(Votes, ShowStates, Stages, Judging, Ledger):
    """Votes, likes, state, stage, judging and the ledger of every show, under one prefix."""


def open_store(settings: Settings, url: str, pool_size: int | None = None) -> Store:
    """The store of a process configured by ``settings`` on ``url`` (one Redis, or any node
    of a cluster with ``LIVE_REDIS_CLUSTER=1``). Close it with ``close_client(store.client)``."""
    size = pool_size or settings.redis_pool_size
    client = make_client(url, size, settings.redis_timeout_ms, settings.redis_cluster)
    return Store(
        client,
        settings.key_prefix,
        settings.redis_timeout_ms,
        settings.redis_wait_replicas,
        settings.redis_wait_ms,
        size,
    )
