"""The Redis adapter's one facade: every noun's store in one object.

Each noun lives in its own module (:mod:`live.redis.votes`, :mod:`live.redis.state`,
:mod:`live.redis.stage`, :mod:`live.redis.judging`, :mod:`live.redis.ledger`) on the shared
connection of :mod:`live.redis.base`; :mod:`live.redis.sessions` and
:mod:`live.redis.moderation` build on this facade.
"""

from __future__ import annotations

from live.redis.base import load_script, make_client
from live.redis.judging import Judging
from live.redis.ledger import Ledger
from live.redis.stage import Stages
from live.redis.state import ShowStates
from live.redis.votes import Votes

__all__ = ["Store", "load_script", "make_client"]


class Store(Votes, ShowStates, Stages, Judging, Ledger):
    """Votes, likes, state, stage, judging and the ledger of every show, under one prefix."""
