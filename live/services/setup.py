"""Use cases of setting a show up in the browser: create, redefine, import a roster, preview a
category's rules, and serve every show of the registry from every process.

A show created here has no file: its show file lives in Redis (:mod:`live.redis.registry`).
Each process serves it within a second of its creation or redefinition (:meth:`Setup.run`
polls the registry). Redefining follows the rules of edits: the whole show (contestants,
categories and their rules) may change only while it waits and no category's voting has
started; afterwards only the stage, display and judging move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from live.domain.errors import (
    BadRequest,
    Busy,
    DefinedByFile,
    DefinitionInvalid,
    DefinitionStale,
    LiveError,
    OrganiserRequired,
    Problem,
    QuotaSpent,
    ShowExists,
    ShowFileError,
    ShowStarted,
)
from live.domain.ingest.source import endpoint_problems
from live.domain.reconcile.rules import PRESETS
from live.domain.roster import RosterError, read_roster, read_sheet
from live.domain.setup import (
    browser_problems,
    check_redefinition,
    document,
    edits_digest,
    parse_show_text,
    preset_of,
    preview,
    revision,
    show_toml,
    skeleton,
    with_roster,
)
from live.domain.show import Category, Show, effective, parse_show
from live.redis.registry import Registry
from live.redis.sessions import Sessions
from live.services.shows import Service

log = logging.getLogger("live.setup")

SYNC_INTERVAL = 1.0
"""How often every process reads the registry: a show created or redefined in one process is
served by every other within this long."""


def _invalid(exc: ShowFileError) -> DefinitionInvalid:
    return DefinitionInvalid(exc.problems)


class Setup:
    def __init__(
        self,
        service: Service,
        registry: Registry,
        sessions: Sessions,
        files: frozenset[str],
        endpoints: frozenset[str] = frozenset(),
    ) -> None:
        self.endpoints = endpoints
        """Origins a platform source may name besides its platform's own."""
        self.service = service
        self.store = service.store
        self.registry = registry
        self.sessions = sessions
        self.files = files
        """The shows served from show files: defined there, never from the registry."""
        self.revs: dict[str, str] = {}
        """Show set up in the browser -> the revision of its definition served here."""
        self._reading = asyncio.Lock()
        """Held while a contestant sheet is read (one at a time per process)."""

    # -- serving the registry ------------------------------------------------------------

    async def sync(self) -> int:
        """Serve every show of the registry at its current definition; how many changed."""
        changed = 0
        for show_id in await self.registry.ids():
            if show_id in self.files:
                continue  # a file's show of the same id wins (the create refused it anyway)
            rev = await self.registry.revision(show_id)
            if rev is None or self.revs.get(show_id) == rev:
                continue
            definition = await self.registry.definition(show_id)
            if definition is None:
                continue
            try:
                show = parse_show_text(definition.toml, f"registry:{show_id}")
                problems = browser_problems(show, f"registry:{show_id}")
                if problems:
                    raise ShowFileError(problems)
            except ShowFileError as exc:  # never written by define(); a hand-edited key
                log.error("show %s in the registry does not load: %s", show_id, exc)
                self.revs[show_id] = definition.rev
                continue
            await self._serve(show, definition.rev)
            changed += 1
        return changed

    async def _serve(self, show: Show, rev: str) -> None:
        if show.id not in self.service.shows:
            self.store.register([show])
            await self.store.init_show(show)
        self.revs[show.id] = rev
        self.service.add_show(show)

    async def run(self, beat: Callable[[], None] = lambda: None) -> None:
        while True:
            beat()
            try:
                await self.sync()
            except LiveError as exc:
                log.warning("show registry not read: %s", exc.message)
            await asyncio.sleep(SYNC_INTERVAL)

    # -- setting up ----------------------------------------------------------------------

    async def create(
        self,
        show_id: str,
        title: str,
        title_en: str,
        actor: str,
        name: str,
        partitions: int = 1,
        organiser: tuple[str, str] = ("", ""),
    ) -> str:
        """A new show (one placeholder contestant and category, waiting), served here at once
        and everywhere within a second; returns a one-time admin login token for it (the
        creator's first admin). ``organiser``: (show, staff id) of the creator, who must hold
        the operator's grant with a unit of its quota left (taken here; given back if the
        show is not made)."""
        if show_id in self.service.shows:
            raise ShowExists(f"a show {show_id!r} exists already")
        try:
            show = skeleton(show_id, title, title_en, partitions=partitions)
        except ShowFileError as exc:
            raise _invalid(exc) from None
        status, used, quota = await self.registry.quota("take", *organiser)
        if status == "none":
            raise OrganiserRequired(
                "creating shows needs the operator's grant (live staff organiser)"
            )
        if status == "spent":
            raise QuotaSpent(f"you have created {used} of the {quota} shows you may create")
        text = show_toml(show)
        rev = revision(text)
        try:
            status, _ = await self.registry.define(show, text, rev, "", actor, create=True)
        except BaseException:
            await self.registry.quota("give", *organiser)
            raise
        if status != "ok":
            await self.registry.quota("give", *organiser)
            raise ShowExists(f"the id {show_id!r} is taken (a show used it before)")
        await self._serve(show, rev)
        _, token = await self.sessions.invite(show_id, "admin", name[:80] or "admin")
        return token

    async def read(self, show_id: str) -> dict[str, Any]:
        """The show as the setup page edits it: the show file's document (with the details
        edited before the show), its TOML, its revision, where it is defined and whether it
        may still be redefined."""
        source = "file" if show_id in self.files else "browser"
        if source == "browser":
            await self.sync()  # the newest definition, so that its revision matches it
        edits = await self.store.read_edits(show_id)
        show = effective(self.service.show(show_id), edits)
        stage = await self.store.read_stage(show_id)
        editable = source == "browser" and stage.phase == "waiting"
        return {
            "show": document(show),
            "presets": {c.id: preset_of(c.rules) for c in show.categories},
            "preset_names": sorted(PRESETS),
            "toml": show_toml(show),
            # Saving answers this back: stale if the show or a detail changed since.
            "rev": f"{self.revs.get(show_id, '')}.{edits_digest(edits)}",
            "source": source,
            "editable": editable,
            "phase": stage.phase,
        }

    def _not_a_file(self, show_id: str) -> None:
        self.service.show(show_id)
        if show_id in self.files:
            raise DefinedByFile(
                f"show {show_id!r} is served from a show file: change the file "
                "(live show import / export) and restart"
            )

    async def redefine(
        self, show_id: str, new: dict[str, Any] | str, rev: str, actor: str
    ) -> dict[str, Any]:
        """Replace the show's definition by ``new`` (a show file's document, or its TOML
        text) if the show still waits and ``rev`` is the revision the caller read."""
        self._not_a_file(show_id)
        old = self.service.show(show_id)
        try:
            show = parse_show_text(new) if isinstance(new, str) else parse_show(new)
            check_redefinition(old, show)
        except ShowFileError as exc:
            raise _invalid(exc) from None
        reach = [
            Problem("<show>", "ingest", why)
            for src in show.ingest
            for why in endpoint_problems(src, self.endpoints)
        ]
        if reach:
            raise DefinitionInvalid(reach)
        text = show_toml(show)
        new_rev = revision(text)
        kept = {c.id for c in show.categories}
        dropped = tuple(c.id for c in old.categories if c.id not in kept)
        status, version = await self.registry.define(
            show, text, new_rev, rev, actor, False, dropped
        )
        if status == "stale":
            raise DefinitionStale("the show was changed meanwhile: reload it, then change it")
        if status == "started":
            raise ShowStarted("the show has started (or voting has): its definition is fixed")
        if status != "ok":
            raise DefinedByFile(f"show {show_id!r} has no definition to replace")
        await self._serve(show, new_rev)
        if show.partitions > 1:
            await self.store.mirror(show)  # the partitions' copies of the new rules
        # The details edited before are now part of the definition: none are left over.
        return {"status": "ok", "rev": f"{new_rev}.{edits_digest({})}", "version": version}

    async def import_roster(
        self, show_id: str, data: bytes, name: str, rev: str, actor: str
    ) -> dict[str, Any]:
        """Replace the contestants by a sheet's (CSV or XLSX): every row checked, every
        problem reported (``row R, column C``), nothing taken unless all rows are good."""
        self._not_a_file(show_id)
        if self._reading.locked():
            raise Busy("another contestant sheet is being read here: try again in a moment")
        async with self._reading:
            try:
                # Off the event loop (a large sheet is seconds of CPU), one at a time per
                # process (each may hold tens of MB while it is read).
                header, rows = await asyncio.to_thread(read_sheet, data, name)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        try:
            people = read_roster(header, rows)
        except RosterError as exc:
            raise _invalid(exc) from None
        current = await self.service.current(show_id)
        try:
            show = with_roster(current, people)
        except ShowFileError as exc:
            raise _invalid(exc) from None
        out = await self.redefine(show_id, document(show), rev, actor)
        return {**out, "contestants": len(people)}

    def preview(self, show_id: str, category: dict[str, Any]) -> dict[str, Any]:
        """A category's rules (as the setup page has them now, saved or not) applied to a
        fixed sample evening of the show's contestants."""
        show = self.service.show(show_id)
        try:
            cat = Category.model_validate(category)
        except ValidationError as exc:
            problems = [
                Problem("<category>", ".".join(str(p) for p in e["loc"]) or "(top)", e["msg"])
                for e in exc.errors()
            ]
            raise DefinitionInvalid(problems) from None
        known = {c.id for c in show.contestants}
        field = tuple(c for c in cat.contestants if c in known)
        cat = cat.model_copy(update={"contestants": field})
        return preview(show, cat, cat.rules)
