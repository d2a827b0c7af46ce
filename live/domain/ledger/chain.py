"""The ledger's hash chain: the pure check that ``live verify`` runs. Mirrors ``chain.lua``.

Every entry ends with ``n`` (its 1-based position) and ``h``::

    h = sha1(prev_h + "\\n" + n + "\\n" + "".join(f"{len(k)}:{k}{len(v)}:{v}" for k, v in fields))

over the entry's other fields in stored order (lengths in UTF-8 bytes), with ``prev_h`` forty
zeros for the first entry. Entries written now carry personal values only as keyed hashes
(:data:`PSEUDONYMOUS`); older entries carry them raw (:data:`PERSONAL`), and those enter the hash
as their keyed hashes, so an anonymised export, which carries exactly those, verifies against
the same head, and an old ledger and a new one verify alike.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

GENESIS = "0" * 40
PERSONAL = ("dev", "ip", "ua")
"""Fields that identify a person, in raw form: written by ledgers before pseudonymous entries
(a chain hashes them as their keyed hashes; an export carries those). New entries have none."""
PSEUDONYMOUS = ("pdev", "pip", "pua")
"""The same three as an entry written now carries them: their keyed hashes, hashed as they are
(the raw values live apart, in the show's expiring ``pii`` hash)."""


def personal_of(fields: Mapping[str, str]) -> tuple[str, str, str, bool]:
    """An entry's device, address and user agent, and whether they are raw (an older entry)
    or pseudonyms."""
    if "pdev" in fields:
        return fields["pdev"], fields.get("pip", ""), fields.get("pua", ""), False
    return fields.get("dev", ""), fields.get("ip", ""), fields.get("ua", ""), True


Pseudonym = Callable[[str], str]


def pseudonymiser(key: bytes) -> Pseudonym:
    """The keyed hash of a personal value: HMAC-SHA-256, first 128 bits, hex.

    Cached: a vote asks for four (device, address, network, user agent), and addresses and
    user agents repeat across a crowd."""

    @functools.lru_cache(maxsize=65_536)
    def pseudonym(value: str) -> str:
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]

    return pseudonym


def entry_hash(prev: str, n: int, fields: Mapping[str, str], pseudonym: Pseudonym | None) -> str:
    """The ``h`` of an entry whose fields (without ``n`` and ``h``) are ``fields``.

    ``pseudonym`` maps personal values to their keyed hashes; ``None`` when the entries are
    already anonymised (an export).
    """
    parts = [prev, "\n", str(n), "\n"]
    for name, value in fields.items():
        if pseudonym is not None and name in PERSONAL:
            value = pseudonym(value)
        parts.append(f"{len(name.encode())}:{name}{len(value.encode())}:{value}")
    return hashlib.sha1("".join(parts).encode(), usedforsecurity=False).hexdigest()


def anonymise(fields: Mapping[str, str], pseudonym: Pseudonym) -> dict[str, str]:
    """The entry as an export carries it: personal values replaced by their keyed hashes."""
    return {k: (pseudonym(v) if k in PERSONAL else v) for k, v in fields.items()}


@dataclass(frozen=True, slots=True)
class Break:
    """The first entry at which the chain does not hold."""

    position: int
    """1-based position of the entry in the stream as read."""
    entry_id: str
    reason: str


class ChainCheck:
    """Feed entries oldest first; keeps the head and the first break.

    After a break the check goes on from the entry's own stated hash, so the head it reports
    is the stream's, and only the first break is kept.
    """

    def __init__(self, pseudonym: Pseudonym | None) -> None:
        self.pseudonym = pseudonym
        self.count = 0
        self.head = GENESIS
        self.first_break: Break | None = None

    def _broke(self, entry_id: str, reason: str) -> None:
        if self.first_break is None:
            self.first_break = Break(self.count, entry_id, reason)

    def feed(self, entry_id: str, fields: Mapping[str, str]) -> None:
        self.count += 1
        body = dict(fields)
        stated_h = body.pop("h", None)
        stated_n = body.pop("n", None)
        if stated_h is None or stated_n is None:
            self._broke(entry_id, "the entry has no chain fields (n, h)")
            return
        if stated_n != str(self.count):
            self._broke(
                entry_id,
                f"the entry says it is #{stated_n}; an entry was removed, added or moved",
            )
        elif entry_hash(self.head, self.count, body, self.pseudonym) != stated_h:
            self._broke(entry_id, "the hash does not match: the entry or one before it changed")
        self.head = stated_h

    @property
    def ok(self) -> bool:
        return self.first_break is None


def join_position(ids: list[str]) -> str:
    """A read's position over a show's chains: the last entry id of each (partition 0 first),
    joined by commas; a show with one chain has just its id, as before partitions."""
    return ",".join(ids)


def split_position(position: str, chains: int) -> list[str]:
    """The per-chain entry ids of a position (``0-0``: nothing of that chain yet); a position
    from before a show had more chains covers only the first."""
    ids = position.split(",") if position else []
    return (ids + ["0-0"] * chains)[:chains]


def entry_key(entry_id: str) -> tuple[int, ...]:
    """An entry id as a sortable key (``1700000000000-3`` -> ``(1700000000000, 3)``); ``+``
    (the end, as in XRANGE) after every id."""
    if entry_id == "+":
        return (1 << 64, 0)
    return tuple(int(x) for x in entry_id.split("-"))
