"""Moderation use cases: the flag queue, void/restore with a before/after preview, the log.

A moderator acts on single votes or on a cluster's flagged votes, always with a reason. The
change itself is one atomic Lua step (:mod:`live.redis.moderation`) that writes the ledger;
tallies, pushes and provisional results follow from it at once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from live.domain.errors import BadRequest, NotFound
from live.domain.moderation import ModerationIn
from live.domain.reconcile import Result, reconcile
from live.redis.moderation import Moderated, ModerationStore
from live.services.judging import Judging
from live.services.shows import Service

PSEUDONYM = re.compile(r"@([0-9a-f]{32})")
"""How a stored flag names a personal value (see :mod:`live.realtime.flagger`)."""


def _ranking(result: Result, votes: dict[str, int]) -> dict[str, dict[str, Any]]:
    return {
        r.contestant: {
            "place": r.place,
            "votes": votes.get(r.contestant, 0),
            "total": result.number(r.total),
            "award": r.award,
        }
        for r in result.rows
    }


class Moderation:
    def __init__(self, service: Service, judging: Judging, store: ModerationStore) -> None:
        self.service = service
        self.judging = judging
        self.store = store

    async def flags(self, show_id: str) -> list[dict[str, Any]]:
        """The queue: clusters with flagged votes, most flagged first; listed votes carry
        whether they are voided now. Personal values are shown raw while the show keeps them
        (its ``retention``), then as ``#`` and the first 12 hex digits of their pseudonym."""
        self.service.show(show_id)
        clusters = list((await self.store.flags(show_id)).values())
        listed = [v["vid"] for c in clusters for v in c["votes"]]
        voided = await self.store.voided(show_id, listed)
        named: set[str] = set()
        for c in clusters:
            for text in (c["key"], c["reason"], *(v[f] for v in c["votes"] for f in ("ip", "ua"))):
                named.update(PSEUDONYM.findall(text))
        raw = await self.store.personal(show_id, sorted(named))

        def shown(text: str) -> str:
            # The raw value while the show keeps it; after that a short form of the pseudonym.
            return PSEUDONYM.sub(lambda m: raw.get(m[1], f"#{m[1][:12]}"), text)

        for c in clusters:
            c["key"], c["reason"] = shown(c["key"]), shown(c["reason"])
            for v in c["votes"]:
                v["voided"] = voided.get(v["vid"])
                v["ip"], v["ua"] = shown(v["ip"]), shown(v["ua"])[:80]
        clusters.sort(key=lambda c: (-c["flagged"], c["id"]))
        return clusters

    async def _vids(self, show_id: str, body: ModerationIn) -> tuple[list[str], str]:
        if body.vote_ids:
            return list(dict.fromkeys(body.vote_ids)), ""
        cluster = await self.store.flag(show_id, body.cluster)
        if cluster is None:
            raise NotFound(f"no flag cluster {body.cluster!r}")
        return await self.store.flag_votes(show_id, body.cluster), body.cluster

    async def preview(self, show_id: str, body: ModerationIn) -> dict[str, Any]:
        """What the action would change: per category, the ranking before and after."""
        show = self.service.show(show_id)
        vids, ref = await self._vids(show_id, body)
        targets = await self.store.targets(show_id, vids)
        voided = await self.store.voided(show_id, list(targets))
        effect: dict[str, dict[str, int]] = {}
        for vid, target in targets.items():
            if (vid in voided) == (body.op == "void"):
                continue  # already in the state the action asks for: no change
            step = -1 if body.op == "void" else 1
            per = effect.setdefault(target.category, {})
            per[target.contestant] = per.get(target.contestant, 0) + step
        categories = []
        for cat_id, delta in sorted(effect.items()):
            _, cat, inputs = await self.judging.inputs(show.id, cat_id)
            after_votes = {c: inputs.votes.get(c, 0) + delta.get(c, 0) for c in inputs.order}
            before = _ranking(reconcile(cat.rules, inputs), dict(inputs.votes))
            after_inputs = replace(inputs, votes=after_votes)
            after = _ranking(reconcile(cat.rules, after_inputs), after_votes)
            rows = [
                {"contestant": c, "before": before[c], "after": after[c], "change": delta.get(c, 0)}
                for c in sorted(after, key=lambda c: (after[c]["place"], c))
            ]
            categories.append({"category": cat_id, "rows": rows})
        return {
            "op": body.op,
            "cluster": ref,
            "votes": len(vids),
            "would_change": sum(
                -n if body.op == "void" else n for d in effect.values() for n in d.values()
            ),
            "unknown": len(vids) - len(targets),
            "categories": categories,
        }

    async def apply(self, show_id: str, body: ModerationIn, actor: str) -> Moderated:
        if len(body.reason.strip()) < 3:
            raise BadRequest("reason: say why, in at least 3 characters")
        show = self.service.show(show_id)
        vids, ref = await self._vids(show_id, body)
        return await self.store.moderate(show, body.op, vids, actor, body.reason.strip(), ref)

    async def log(self, show_id: str) -> list[dict[str, Any]]:
        self.service.show(show_id)
        return await self.store.log(show_id)
