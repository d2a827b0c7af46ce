"""Setting a show up: its show file as text, a new show's skeleton, a redefinition's checks, a
roster taken into a show, and a rule set's result on sample data. Pure.

The show file (TOML) is the one form of a show: the CLI writes it to disk, the browser's setup
page stores it in Redis (the registry), and both load it back through :func:`parse_show`.
"""

from __future__ import annotations

import hashlib
import tomllib
from fractions import Fraction
from typing import Any

import tomli_w

from live.domain.errors import Problem, ShowFileError
from live.domain.reconcile.engine import Inputs, Result, reconcile
from live.domain.reconcile.rules import PRESETS, RuleSet, preset
from live.domain.show import Category, Contestant, Show, parse_show

SAMPLE_JUDGES = ("j1", "j2", "j3", "j4", "j5")
"""The panel of the preview's sample: five judges."""


def document(show: Show) -> dict[str, Any]:
    """The show as a show file's document: only what differs from the defaults (so the
    file stays short, and reads back exactly: defaults are tuples a TOML array is not)."""
    data: dict[str, Any] = show.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return data


def show_toml(show: Show) -> str:
    """The show file of ``show`` (TOML; loads back to an equal show)."""
    return tomli_w.dumps(document(show))


def parse_show_text(text: str, file: str = "<show>") -> Show:
    """A show from a show file's text, or :class:`ShowFileError` with every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ShowFileError([Problem(file, "(syntax)", str(exc))]) from None
    except RecursionError:  # arrays or tables nested a thousand deep: refused, not a 500
        raise ShowFileError([Problem(file, "(syntax)", "nested too deep")]) from None
    try:
        return parse_show(data, file)
    except RecursionError:
        raise ShowFileError([Problem(file, "(top)", "nested too deep")]) from None


def revision(text: str) -> str:
    """A definition's revision: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def edits_digest(edits: dict[str, dict[str, str]]) -> str:
    """A fingerprint of the details edited before the show (the ``{show}:contestants`` hash),
    so that saving a whole show the page read before a console edit is refused, not a silent
    undo. The sum of each ``field=value`` line's SHA-1 (first 8 hex digits) mod 2**32:
    independent of order, so ``define.lua`` computes the same from HGETALL without sorting
    (Lua's string order follows the server's locale). It detects change; it is no MAC.

    Photos are left out: the page uploads them itself, and ``define.lua`` instead checks that
    the new definition carries every photo uploaded for a contestant it keeps."""
    total = 0
    for contestant, fields in edits.items():
        for name, value in fields.items():
            if name == "photo":
                continue
            line = f"{contestant}:{name}={value}".encode()
            total += int(hashlib.sha1(line).hexdigest()[:8], 16)  # noqa: S324 (a checksum)
    return str(total % 2**32)


def skeleton(
    show_id: str, title: str, title_en: str, file: str = "<show>", partitions: int = 1
) -> Show:
    """A new show: one placeholder contestant and one audience category, to be filled in."""
    data = {
        "id": show_id,
        "title": title,
        "title_en": title_en,
        "partitions": partitions,
        "contestants": [
            {
                "id": "c01",
                "name": "选手",
                "name_en": "Contestant",
                "organisation": "单位",
                "organisation_en": "Organisation",
                "field": "craft",
                "innovation": "成果",
                "innovation_en": "Innovation",
                "order": 1,
            }
        ],
        "categories": [
            {"id": "audience", "name": "人气奖", "name_en": "Audience award", "open": False}
        ],
    }
    return parse_show(data, file)


def with_roster(show: Show, people: tuple[Contestant, ...], file: str = "<show>") -> Show:
    """``show`` with its contestants replaced by ``people`` (a sheet's). A contestant whose id
    stays keeps the photo already uploaded for it; a category naming contestants keeps those
    still there. Raises :class:`ShowFileError` if the result is not a valid show."""
    photos = {c.id: c.photo for c in show.contestants if c.photo}
    data = document(show)
    data["contestants"] = [
        p.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        | ({"photo": photos[p.id]} if p.id in photos and not p.photo else {})
        for p in people
    ]
    known = {p.id for p in people}
    for cat in data["categories"]:
        cat["contestants"] = [c for c in cat.get("contestants", []) if c in known]
    return parse_show(data, file)


def check_redefinition(old: Show, new: Show) -> None:
    """A show's new definition keeps its id and its vote partitions (a device's votes must not
    move to another partition); raises :class:`ShowFileError` otherwise."""
    problems = []
    if new.id != old.id:
        problems.append(Problem("<show>", "id", f"the show's id is {old.id!r}; it cannot change"))
    if new.partitions != old.partitions:
        why = f"the show has {old.partitions} vote partition(s); it cannot change"
        problems.append(Problem("<show>", "partitions", why))
    problems += browser_problems(new)
    if problems:
        raise ShowFileError(problems)


def browser_problems(show: Show, file: str = "<show>") -> list[Problem]:
    """What a show set up in the browser may not have: word-list files (the server's files are
    the operator's, not a show admin's; its words are edited through the word-list API)."""
    if show.comments.wordlists:
        why = (
            "a show set up in the browser names no word-list files: add its words through "
            "the word-list API (POST /api/shows/{show}/wordlist)"
        )
        return [Problem(file, "comments.wordlists", why)]
    return []


def _spread(seed: str, salt: str, low: int, high: int) -> int:
    """A number in [low, high] fixed by ``seed`` and ``salt`` (the sample never changes)."""
    digest = hashlib.sha256(f"{seed}:{salt}".encode()).digest()
    return low + int.from_bytes(digest[:4], "big") % (high - low + 1)


def preset_of(rules: RuleSet) -> str:
    """The shipped preset ``rules`` is exactly (the setup page's picker shows it), or ''."""
    for name in PRESETS:
        if preset(name) == rules:
            return name
    return ""


def sample_inputs(show: Show, category: Category) -> Inputs:
    """A made-up but fixed evening for ``category``: each contestant's votes and five judges'
    sheet totals (out of 100) and approvals, derived from the ids (the same every time), so an
    organiser sees what a rule set does before any real vote or mark exists."""
    field = show.eligible(category)
    order = tuple(c.id for c in show.running_order() if c.id in field)
    votes = {cid: _spread(cid, "votes", 50, 5000) for cid in order}
    marks = {cid: {j: Fraction(_spread(cid, j, 55, 98)) for j in SAMPLE_JUDGES} for cid in order}
    approvals = {cid: {j: _spread(cid, f"ok{j}", 0, 5) > 0 for j in SAMPLE_JUDGES} for cid in order}
    return Inputs(
        order=order,
        votes=votes,
        marks=marks,
        max_total=Fraction(100),
        judges=SAMPLE_JUDGES,
        approvals=approvals,
    )


def preview(show: Show, category: Category, rules: RuleSet) -> dict[str, Any]:
    """``rules`` applied to the sample evening of ``category``: the result as published
    results are shown, plus the sample itself (votes and mean mark per contestant)."""
    inputs = sample_inputs(show, category)
    result: Result = reconcile(rules, inputs)
    out = result.to_json()
    for row in out["rows"]:
        row.pop("exact", None)
        row.pop("breakdown", None)
    out["sample"] = {
        cid: {
            "votes": inputs.votes[cid],
            "marks": [int(m) for m in inputs.marks[cid].values()],
        }
        for cid in inputs.order
    }
    out["rules"] = rules.model_dump(mode="json")  # the preset resolved: what the page adjusts
    return out
