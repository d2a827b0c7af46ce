"""Rebuild a category's result from the ledger alone. Pure.

Folding the entries up to a position gives what a live read at that position saw: the tallies
(with voids), the judges' counted sheets, approvals, the seated panel and the edits made before
the show. An auditor with an export (ledger + show file) gets the published result back, or
learns exactly where it differs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from live.domain.judging import inputs_from
from live.domain.ledger.chain import entry_key
from live.domain.ledger.recount import Recount
from live.domain.reconcile import Result, reconcile
from live.domain.show import Show, effective
from live.domain.state import JudgingRead, parse_edits

STATES = {"submit": "submitted", "lock": "locked", "recuse": "recused", "unrecuse": "draft"}
"""The state a sheet op leaves (``correct`` keeps the state; ``save`` makes a draft)."""

ENTRY_KEYS = frozenset({"k", "what", "by", "t", "n", "h"})


class Replay:
    """Feed entries oldest first; ask :meth:`result` at any point."""

    def __init__(self, show: Show) -> None:
        self.base_show = show
        self.counted = Recount()
        self.sheets: dict[str, dict[str, dict[str, Any]]] = {}
        self.approvals: dict[str, dict[str, str]] = {}
        self.staff: dict[str, dict[str, str]] = {}
        self.edits: dict[str, str] = {}
        self.position = "0-0"

    def feed(self, entry_id: str, e: Mapping[str, str]) -> None:
        self.position = entry_id
        self.counted.add(e)
        self._fold(e)

    def _fold(self, e: Mapping[str, str]) -> None:
        """What an entry changes besides the counts (sheets, approvals, staff, edits)."""
        kind = e.get("k")
        if kind == "vote":  # most entries: nothing more to fold
            return
        if kind == "sheet":
            sheets = self.sheets.setdefault(e["cat"], {})
            op = e["op"]
            record = sheets.setdefault(e["sheet"], {"state": "empty", "marks": {}})
            after = json.loads(e.get("after") or "{}")
            record["marks"] = after if isinstance(after, dict) else {}
            if op == "save":
                record["state"] = "draft"
            elif op in STATES:
                record["state"] = STATES[op]
        elif kind == "approval":
            approvals = self.approvals.setdefault(e["cat"], {})
            if e.get("value"):
                approvals[e["sheet"]] = e["value"]
            else:
                approvals.pop(e["sheet"], None)
        elif kind == "staff":
            member = self.staff.setdefault(e["staff"], {"role": "", "active": "True"})
            if "role" in e:
                member["role"] = e["role"]
            if "active" in e:
                member["active"] = e["active"]
        elif kind == "edit" and e.get("what") == "definition":
            self.edits.clear()  # a new definition (set up in the browser) ends older edits
        elif kind == "edit" and e.get("what", "").startswith(("contestant:", "running_order")):
            self.edits.update({k: v for k, v in e.items() if k not in ENTRY_KEYS})

    def feed_many(self, rows: Iterable[tuple[str, Mapping[str, str]]]) -> None:
        """Feed ``(entry id, fields)`` rows oldest first: the same as :meth:`feed` on each, in
        one pass (votes counted by :meth:`Recount.add_many`, the rest folded as they come)."""
        last = [self.position]

        def entries() -> Iterator[Mapping[str, str]]:
            for position, e in rows:
                last[0] = position
                yield e

        self.counted.add_many(entries(), self._fold)
        self.position = last[0]

    def judges(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                s for s, m in self.staff.items() if m["role"] == "judge" and m["active"] == "True"
            )
        )

    def show(self) -> Show:
        return effective(self.base_show, parse_edits(self.edits))

    def result(
        self, category: str, others: Mapping[str, int] | None = None, position: str = ""
    ) -> Result:
        """The category's result as a live read at the current position would give it.

        A partitioned show's other chains add their tallies at the read's position
        (``others``, see :func:`tallies_at`); ``position`` is then that read's, every chain's.
        """
        show = self.show()
        cat = show.category(category)
        tallies = Counter(self.counted.tallies.get(category, {}))
        tallies.update(others or {})
        sources = {
            platform: {c: n for c, n in cats.get(category, {}).items() if n}
            for platform, cats in self.counted.sources.items()
        }
        read = JudgingRead(
            tallies={c: n for c, n in tallies.items() if n},
            position=position or self.position,
            sheets=self.sheets.get(category, {}),
            approvals=self.approvals.get(category, {}),
            sources={p: v for p, v in sources.items() if v},
        )
        return reconcile(cat.rules, inputs_from(show, cat, read, self.judges()))


def tallies_at(
    rows: Iterable[tuple[str, Mapping[str, str]]], stops: list[tuple[str, str]]
) -> list[Counter[str]]:
    """One chain's tallies at several positions: for each ``(entry id, category)`` in
    ``stops``, the category's tally counting the entries up to that id (included). One pass
    over ``rows`` (oldest first); ``stops`` in any order."""
    order = sorted(range(len(stops)), key=lambda i: entry_key(stops[i][0]))
    out: list[Counter[str]] = [Counter() for _ in stops]
    counted = Recount()
    pending: list[Mapping[str, str]] = []
    i = 0

    def settle(upto: tuple[int, ...] | None) -> None:
        nonlocal i
        while i < len(order) and (upto is None or entry_key(stops[order[i]][0]) < upto):
            counted.add_many(pending)
            pending.clear()
            out[order[i]] = Counter(counted.tallies.get(stops[order[i]][1], {}))
            i += 1

    for entry_id, fields in rows:
        settle(entry_key(entry_id))
        if i == len(order):
            break
        pending.append(fields)
        if len(pending) >= 10_000:  # bounded memory between two stops
            counted.add_many(pending)
            pending.clear()
    settle(None)
    return out


def same_result(published: Mapping[str, Any], rebuilt: Result) -> bool:
    """Whether a published result's JSON equals a rebuilt one (compared as JSON)."""
    mine: Any = json.loads(json.dumps(rebuilt.to_json()))
    theirs: Any = json.loads(json.dumps(published))
    return bool(mine == theirs)
