"""Use cases of judging and results: sheets, approvals, corrections, provisional and published
results. Validation is pure (:mod:`live.domain.judging`, :mod:`live.domain.reconcile`); Redis
is reached only through :class:`~live.redis.store.Store`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from live.domain.errors import (
    BadRequest,
    NotPublished,
    SheetConflict,
    SheetLocked,
    UnknownContestant,
)
from live.domain.judging import check_marks, inputs_from
from live.domain.reconcile import Inputs, Result, RuleSet, build_rules, reconcile
from live.domain.show import Category, Show
from live.domain.state import SheetRef
from live.redis.sessions import Sessions
from live.redis.store import Store
from live.services.shows import Service


def sheet_key(judge: str, contestant: str) -> str:
    return f"{judge}|{contestant}"


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two published results: place, total or award, per contestant."""
    if before is None:
        return []
    old = {r["contestant"]: r for r in before["result"]["rows"]}
    out = []
    for row in after["result"]["rows"]:
        prev = old.get(row["contestant"], {})
        changed = {
            name: {"before": prev.get(name), "after": row[name]}
            for name in ("place", "total", "award", "expert", "audience")
            if prev.get(name) != row[name]
        }
        if changed:
            out.append({"contestant": row["contestant"], **changed})
    return out


class Judging:
    def __init__(self, service: Service, store: Store, sessions: Sessions) -> None:
        self.service = service
        self.store = store
        self.sessions = sessions

    async def _target(self, ref: SheetRef) -> tuple[Show, Category]:
        show = await self.service.current(ref.show)
        cat = show.category(ref.category)
        if ref.contestant not in show.eligible(cat):
            raise UnknownContestant(f"no contestant {ref.contestant!r} in {ref.category!r}")
        if not show.criteria_of(cat):
            raise BadRequest(f"category {ref.category!r} has no judges' sheet (no criteria)")
        return show, cat

    async def judges(self, show_id: str) -> tuple[str, ...]:
        """The seated panel: active staff with the judge role."""
        members = await self.sessions.members(show_id)
        return tuple(sorted(m.id for m in members if m.role == "judge" and m.active))

    async def sheets(self, show_id: str, category: str, judge: str | None) -> dict[str, Any]:
        """The sheets of one judge (or of every judge for ``None``) with the criteria."""
        show = await self.service.current(show_id)
        cat = show.category(category)
        read = await self.store.judging_read(show_id, category)
        rows: list[dict[str, Any]] = []
        for contestant in show.eligible(cat):
            if judge is None:
                entries = {
                    k.partition("|")[0]: v
                    for k, v in read.sheets.items()
                    if k.partition("|")[2] == contestant
                }
                rows.append({"contestant": contestant, "sheets": entries})
                continue
            key = sheet_key(judge, contestant)
            record = read.sheets.get(key, {"state": "empty", "rev": 0, "marks": {}})
            approval = read.approvals.get(key)
            rows.append(
                {
                    "contestant": contestant,
                    "state": record["state"],
                    "rev": record["rev"],
                    "marks": record["marks"],
                    "at": record.get("at", 0),
                    "corrections": record.get("corrections", 0),
                    "approve": None if approval is None else approval == "1",
                }
            )
        return {
            "category": category,
            "criteria": [c.model_dump() for c in show.criteria_of(cat)],
            "rows": rows,
        }

    async def change(
        self, ref: SheetRef, op: str, marks: dict[str, Any], save_id: str, base: int
    ) -> dict[str, Any]:
        """A judge's change to their own sheet (``op``: save, submit, lock, recuse, unrecuse)."""
        show, cat = await self._target(ref)
        partial = op == "save"
        clean = {} if "recuse" in op else check_marks(show.criteria_of(cat), marks, not partial)
        who = f"judge:{ref.judge}"
        outcome, record = await self.store.sheet_op(ref, op, clean, save_id, base, who)
        if outcome == "locked":
            raise SheetLocked("this sheet is locked; only an admin correction can change it")
        if outcome == "conflict":
            raise SheetConflict(f"the sheet changed meanwhile (now revision {record['rev']})")
        if outcome == "recused":
            raise SheetConflict("you recused yourself from this contestant; undo that first")
        return {"status": "saved" if outcome == "ok" else "replay", "sheet": record}

    async def correct(
        self, ref: SheetRef, marks: dict[str, Any], reason: str, actor: str
    ) -> dict[str, Any]:
        """An admin's correction of a submitted or locked sheet, kept with who, when, why."""
        show, cat = await self._target(ref)
        clean = check_marks(show.criteria_of(cat), marks, complete=True)
        save_id = f"correct-{time.time_ns()}"
        outcome, record = await self.store.sheet_op(
            ref, "correct", clean, save_id, -1, actor, reason
        )
        if outcome == "empty":
            raise SheetConflict("that judge has no submitted sheet for this contestant to correct")
        return {"status": "corrected", "sheet": record}

    async def approve(self, ref: SheetRef, approve: bool | None) -> None:
        await self._target(ref)
        await self.store.set_approval(ref, approve, f"judge:{ref.judge}")

    async def inputs(
        self, show_id: str, category: str, rules: RuleSet | None = None
    ) -> tuple[Show, Category, Inputs]:
        """The show (with its edits), the category and the reconciler's inputs now; under
        other ``rules`` (a what-if) their ``audience.sources`` weigh the votes read."""
        show = await self.service.current(show_id)
        cat = show.category(category)
        judged = cat if rules is None else cat.model_copy(update={"rules": rules})
        read = await self.store.judging_read(show_id, category, _platforms(show))
        return show, cat, inputs_from(show, judged, read, await self.judges(show_id))

    async def result(
        self, show_id: str, category: str, rules: RuleSet | None = None
    ) -> tuple[Show, Result]:
        """The provisional result now (or under other ``rules``: a what-if preview)."""
        show, cat, inputs = await self.inputs(show_id, category, rules)
        return show, reconcile(rules or cat.rules, inputs)

    def what_if(self, show: Show, category: str, overrides: dict[str, Any]) -> RuleSet:
        base = show.category(category).rules.model_dump(mode="json")
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        try:
            return build_rules(base)
        except ValueError as exc:
            raise BadRequest(f"rules: {exc}") from None

    async def publish(self, show_id: str, category: str, actor: str, note: str) -> dict[str, Any]:
        show, result = await self.result(show_id, category)
        try:
            previous: dict[str, Any] | None = await self.published(show_id, category, None)
        except NotPublished:
            previous = None
        record = {
            "category": category,
            "published_at": int(time.time() * 1000),
            "by": actor,
            "note": note,
            "names": {c.id: {"name": c.name, "name_en": c.name_en} for c in show.contestants},
            "result": result.to_json(),
            "ledger": await self.store.ledger_pins(show_id, category, result.position or "0-0"),
        }
        record["diff"] = diff(previous, record)
        version = await self.store.publish(show, category, json.dumps(record), actor)
        return {"version": version, **record}

    async def published(self, show_id: str, category: str, version: int | None) -> dict[str, Any]:
        """A published result (the latest for ``None``), or :class:`NotPublished`."""
        self.service.show(show_id).category(category)
        items = await self.store.publications(show_id, category)
        if not items:
            raise NotPublished(f"no result of {category!r} has been published yet")
        n = len(items) if version is None else version
        if not 1 <= n <= len(items):
            raise NotPublished(f"no version {n} of {category!r}; the latest is {len(items)}")
        record: dict[str, Any] = json.loads(items[n - 1])
        return {"version": n, "versions": len(items), **record}


def _platforms(show: Show) -> list[str]:
    return sorted({src.platform for src in show.ingest})
