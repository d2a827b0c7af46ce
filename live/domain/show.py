"""A show: contestants, running order and award categories, loaded from a TOML file.

Loading is all-or-nothing: a malformed file raises :class:`ShowFileError` listing every problem
(file, field, why) and nothing is half-loaded. Pure: no I/O beyond reading the file.
"""

from __future__ import annotations

import binascii
import functools
import ipaddress
import tomllib
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from live.domain.comments import CommentsConfig
from live.domain.errors import (
    BadRequest,
    Problem,
    ShowFileError,
    UnknownCategory,
    UnknownContestant,
)
from live.domain.fraud import Signals
from live.domain.identity import Tier
from live.domain.ingest.source import IngestSource, env_problems
from live.domain.reconcile.rules import RuleSet, build_rules
from live.domain.wordfiles import WordFile, WordFileError, read_wordfile

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Story = Annotated[str, Field(max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Window(_Strict):
    """A sliding-window rate limit: at most ``count`` votes in any ``seconds``."""

    count: Annotated[int, Field(ge=1, le=1_000_000)]
    seconds: Annotated[int, Field(ge=1, le=86_400)]


class Limits(_Strict):
    """Rate limits on the vote path, enforced atomically in Redis."""

    device: Window = Window(count=20, seconds=10)
    ip: Window = Window(count=600, seconds=10)
    subnet: Window = Window(count=3000, seconds=10)


class Likes(_Strict):
    cap_per_second: Annotated[int, Field(ge=1, le=1000)] = 20
    """Likes counted per device per second; taps above it are received but not counted."""
    max_per_message: Annotated[int, Field(ge=1, le=10_000)] = 200
    """A single ``+n`` larger than this is malformed."""


class Integrity(_Strict):
    """Moderation rules and fraud-signal thresholds (``[integrity]`` in the show file)."""

    voided_cap: Literal["used", "returned"] = "used"
    """A voided vote still uses its device's vote (``used``), or is given back (``returned``),
    so the device may vote again; a restore takes it again either way."""
    trusted_networks: Annotated[tuple[str, ...], Field(strict=False, max_length=100)] = ()
    """Networks many honest phones share (the venue's Wi-Fi), e.g. ``"100.64.9.0/24"``: no
    burst or devices-per-address flags from them."""
    signals: Signals = Signals()

    @field_validator("trusted_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network (e.g. 192.0.2.0/24)") from None
        return value


class Contestant(_Strict):
    id: Slug
    name: Text
    name_en: Text
    organisation: Text
    organisation_en: Text
    field: Slug
    """A field such as ``aerospace``; the pages translate it."""
    innovation: Text
    innovation_en: Text
    order: Annotated[int, Field(ge=1, le=10_000)]
    number: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,12}$")] | None = None
    """The contestant's number (编号) as printed on posters; default: ``order``, two digits."""
    story: Story = ""
    story_en: Story = ""
    video: Annotated[str, Field(pattern=r"^https://[^\s<>\"']{1,500}$")] | None = None
    """An optional link to a video of the contestant (https only)."""
    photo: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")] | None = None
    """The revision of the contestant's photo, set by an upload (``live.web.photos``)."""

    @property
    def label(self) -> str:
        """The number shown to viewers (``07``)."""
        return self.number or f"{self.order:02d}"


class Criterion(_Strict):
    """One mark on a judge's sheet: a number from ``min`` to ``max`` in steps of ``step``.

    A criterion's weight is its ``max`` (innovation 30, craftsmanship 30, ...): a sheet's
    total is the sum of its marks, out of the sum of the maxima.
    """

    id: Slug
    name: Text
    name_en: Text
    min: Annotated[int, Field(ge=0, le=1000)] = 0
    max: Annotated[int, Field(ge=1, le=1000)]
    step: Annotated[str, Field(max_length=10)] = "1"

    @field_validator("step")
    @classmethod
    def _step(cls, value: str) -> str:
        try:
            ok = Fraction(value) > 0
        except (ValueError, ZeroDivisionError):
            ok = False
        if not ok:
            raise ValueError("a positive number such as 1 or 0.5")
        return value


def _rules(value: Any) -> Any:
    return build_rules(value) if isinstance(value, dict) else value


class Category(_Strict):
    id: Slug
    name: Text
    name_en: Text
    votes_per_device: Annotated[int, Field(ge=1, le=10_000)] = 1
    """How many votes one device may cast in this category (the per-device cap)."""
    per_contestant: Annotated[int, Field(ge=0, le=10_000)] = 0
    """How many of those may go to one contestant; 0 means no separate limit."""
    open: bool = False
    """Whether voting is open when the show is first loaded."""
    hide_tallies: bool = False
    contestants: Annotated[tuple[Slug, ...], Field(strict=False)] = ()
    """Who can be voted for; empty means every contestant."""
    criteria: Annotated[tuple[Criterion, ...] | None, Field(strict=False, max_length=20)] = None
    """The judges' sheet for this category; ``None`` means the show's ``criteria``."""
    rules: Annotated[RuleSet, BeforeValidator(_rules)] = RuleSet()
    """How the result is decided (a ``preset`` and overrides); fixed by the show file."""
    identity: Tier = "device"
    """Who a vote counts for: ``device`` (the cookie), or a verified ``phone``, ``wechat`` or
    ``oidc`` identity, whose caps then hold across the person's devices. Fixed by the show
    file (or the setup page while the show waits)."""


class Show(_Strict):
    id: Slug
    title: Text
    title_en: Text
    limits: Limits = Limits()
    likes: Likes = Likes()
    integrity: Integrity = Integrity()
    partitions: Annotated[int, Field(ge=1, le=64)] = 1
    """Vote partitions: the show's vote keys are spread over this many hash tags (slots of a
    Redis Cluster), each with its own ledger chain; a device always lands in the same one
    (:func:`partition_of`). 1: everything of the show in one slot."""
    retention: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days the raw device ids, addresses and user agents of its votes are kept (for fraud
    signals and moderators), counted from the show's last vote; the ledger holds only their
    keyed pseudonyms. ``live purge`` removes them at once."""
    contestants: Annotated[
        tuple[Contestant, ...], Field(min_length=1, max_length=1000, strict=False)
    ]
    categories: Annotated[tuple[Category, ...], Field(min_length=1, max_length=50, strict=False)]
    criteria: Annotated[tuple[Criterion, ...], Field(strict=False, max_length=20)] = ()
    """The default judges' sheet of every category."""
    ingest: Annotated[tuple[IngestSource, ...], Field(strict=False, max_length=20)] = ()
    """Platform live rooms whose chat votes, likes and gifts join the show."""
    comments: CommentsConfig = CommentsConfig()
    """Comments and danmaku: length, rate, moderation mode, word lists, the overlay layer."""

    def criteria_of(self, category: Category) -> tuple[Criterion, ...]:
        return self.criteria if category.criteria is None else category.criteria

    @property
    def retention_ms(self) -> int:
        return self.retention * 86_400_000

    def running_order(self) -> list[Contestant]:
        return sorted(self.contestants, key=lambda c: c.order)

    def contestant(self, contestant_id: str) -> Contestant:
        for c in self.contestants:
            if c.id == contestant_id:
                return c
        raise UnknownContestant(f"no contestant {contestant_id!r} in show {self.id!r}")

    def category(self, category_id: str) -> Category:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise UnknownCategory(f"no category {category_id!r} in show {self.id!r}")

    def eligible(self, category: Category) -> tuple[str, ...]:
        """Ids of the contestants one can vote for in ``category``, in running order."""
        if category.contestants:
            return category.contestants
        return tuple(c.id for c in self.running_order())

    def check_vote_target(self, category_id: str, contestant_id: str) -> Category:
        """The category, if ``contestant_id`` may be voted for in it (:class:`UnknownCategory`
        or :class:`UnknownContestant` if not). Per vote: two dict lookups, built once per show
        (a show is immutable; the cache holds the show it was built from, so an id reused by
        another object never matches)."""
        cached = _TARGETS.get(id(self))
        if cached is None or cached[0] is not self:
            if len(_TARGETS) >= 256:  # shows and their edited copies: a handful per process
                _TARGETS.clear()
            targets = {c.id: (c, frozenset(self.eligible(c))) for c in self.categories}
            cached = _TARGETS[id(self)] = (self, targets)
        found = cached[1].get(category_id)
        if found is None:
            self.category(category_id)  # raises UnknownCategory with its message
            raise AssertionError("unreachable")
        cat, allowed = found
        if contestant_id not in allowed:
            raise UnknownContestant(f"no contestant {contestant_id!r} in category {category_id!r}")
        return cat


_TARGETS: dict[int, tuple[Show, dict[str, tuple[Category, frozenset[str]]]]] = {}
"""Per show object: each category's eligible contestants (a pydantic private attribute costs
~2.7 us per read, more than the lookup it would save)."""

EDITABLE = (
    "name",
    "name_en",
    "organisation",
    "organisation_en",
    "innovation",
    "innovation_en",
    "photo",
)


class ContestantEdit(_Strict):
    """Details an admin may change before the show (each optional)."""

    name: Text | None = None
    name_en: Text | None = None
    organisation: Text | None = None
    organisation_en: Text | None = None
    innovation: Text | None = None
    innovation_en: Text | None = None


class RulesEdit(_Strict):
    """A category's audience rules, changeable until voting starts in it."""

    votes_per_device: Annotated[int, Field(ge=1, le=10_000)] | None = None
    per_contestant: Annotated[int, Field(ge=0, le=10_000)] | None = None
    hide_tallies: bool | None = None


class RunningOrder(_Strict):
    order: Annotated[tuple[Slug, ...], Field(min_length=1, max_length=1000, strict=False)]


def check_running_order(show: Show, order: tuple[str, ...]) -> None:
    """A new running order must name every contestant exactly once."""
    ids = [c.id for c in show.contestants]
    if sorted(order) != sorted(ids):
        raise BadRequest("order: name every contestant exactly once")


def effective(show: Show, edits: dict[str, dict[str, str]]) -> Show:
    """The show with the details and running order edited before it started."""
    if not edits:
        return show
    people = []
    for c in show.contestants:
        change: dict[str, object] = {k: v for k, v in edits.get(c.id, {}).items() if k in EDITABLE}
        if "order" in edits.get(c.id, {}):
            change["order"] = int(edits[c.id]["order"])
        people.append(c.model_copy(update=change) if change else c)
    return show.model_copy(update={"contestants": tuple(people)})


def _semantic_problems(show: Show, file: str) -> list[Problem]:
    problems: list[Problem] = []
    for i, src in enumerate(show.ingest):
        problems += [Problem(file, f"ingest.{i}", why) for why in env_problems(show.id, src)]
    ids = [c.id for c in show.contestants]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem(file, "contestants.id", f"duplicate id {dup!r}"))
    orders = [c.order for c in show.contestants]
    for dup_order in sorted({o for o in orders if orders.count(o) > 1}):
        problems.append(Problem(file, "contestants.order", f"duplicate order {dup_order}"))
    numbers = [c.label for c in show.contestants]
    given = {c.number for c in show.contestants if c.number}  # else a duplicate order, above
    for dup in sorted({n for n in numbers if numbers.count(n) > 1 and n in given}):
        problems.append(Problem(file, "contestants.number", f"duplicate number {dup!r}"))
    cat_ids = [c.id for c in show.categories]
    for dup in sorted({i for i in cat_ids if cat_ids.count(i) > 1}):
        problems.append(Problem(file, "categories.id", f"duplicate id {dup!r}"))
    known = set(ids)
    for i, cat in enumerate(show.categories):
        for name in cat.contestants:
            if name not in known:
                problems.append(
                    Problem(file, f"categories.{i}.contestants", f"unknown contestant {name!r}")
                )
        crit = [c.id for c in show.criteria_of(cat)]
        for dup in sorted({c for c in crit if crit.count(c) > 1}):
            problems.append(Problem(file, f"categories.{i}.criteria", f"duplicate id {dup!r}"))
        for c in show.criteria_of(cat):
            if c.min >= c.max:
                problems.append(Problem(file, f"categories.{i}.criteria", f"{c.id}: min >= max"))
        if cat.per_contestant > cat.votes_per_device:
            problems.append(
                Problem(
                    file,
                    f"categories.{i}.per_contestant",
                    "cannot exceed votes_per_device",
                )
            )
    rooms = [(src.platform, src.room) for src in show.ingest]
    for i, src in enumerate(show.ingest):
        if src.category and src.category not in cat_ids:
            problems.append(
                Problem(file, f"ingest.{i}.category", f"unknown category {src.category!r}")
            )
        if rooms.count((src.platform, src.room)) > 1:
            problems.append(
                Problem(file, f"ingest.{i}.room", f"{src.platform} room {src.room!r} twice")
            )
    return problems


SLOTS = 16384
"""Hash slots of a Redis Cluster."""


def slot_of(tag: str) -> int:
    """The Redis Cluster hash slot of a hash tag (CRC-16/XMODEM modulo 16384)."""
    return binascii.crc_hqx(tag.encode(), 0) % SLOTS


@functools.lru_cache(maxsize=4096)
def partition_tag(show: str, part: int, partitions: int) -> str:
    """The hash tag of a show's partition: the show id for partition 0; for partition p the
    first ``show~p~k`` (k = 0, 1, ...) whose slot is ``slot(show) + p * 16384 / N`` (mod
    16384). The partitions' slots are thus spread evenly around the slot space, so a cluster
    whose masters own equal runs of slots (as ``redis-cli --cluster create`` makes them) gets
    them on different masters without moving a slot. About 16,000 tries per partition
    (CRC-16 in C: a few ms), once per process."""
    if part == 0:
        return show
    want = (slot_of(show) + part * SLOTS // partitions) % SLOTS
    k = 0
    while slot_of(f"{show}~{part}~{k}") != want:  # each slot is hit once per ~16,384 tries
        k += 1
    return f"{show}~{part}~{k}"


def partition_of(device: str, partitions: int) -> int:
    """The partition of ``device``'s votes: CRC-32 of its id modulo ``partitions``. Stable
    across processes and restarts (unlike ``hash``), so a device's caps stay in one place."""
    return zlib.crc32(device.encode()) % partitions if partitions > 1 else 0


def parse_show(data: dict[str, Any], file: str = "<show>") -> Show:
    """Validate a decoded TOML document into a :class:`Show`, or raise with every problem."""
    try:
        show = Show.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(file, ".".join(str(p) for p in err["loc"]) or "(top)", err["msg"])
            for err in exc.errors()
        ]
        raise ShowFileError(problems) from None
    problems = _semantic_problems(show, file)
    if problems:
        raise ShowFileError(problems)
    return show


def load_show(path: Path) -> Show:
    """Read and validate one show file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ShowFileError([Problem(str(path), "(file)", exc.strerror or str(exc))]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ShowFileError([Problem(str(path), "(syntax)", str(exc))]) from None
    except RecursionError:
        raise ShowFileError([Problem(str(path), "(syntax)", "nested too deep")]) from None
    show = parse_show(data, str(path))
    if show.comments.wordlists:
        # Read now, once, bounded, inside the show file's folder: never again while serving.
        files: list[WordFile] = []
        problems: list[Problem] = []
        for name in show.comments.wordlists:
            try:
                files.append(read_wordfile(path.parent, name))
            except WordFileError as exc:
                problems.append(Problem(str(path), "comments.wordlists", str(exc)))
        if problems:
            raise ShowFileError(problems)
        show = show.model_copy(update={"comments": show.comments.with_files(tuple(files))})
    return show


def load_shows(paths: tuple[Path, ...]) -> dict[str, Show]:
    """Load every show file; problems of all files are reported together."""
    shows: dict[str, Show] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            show = load_show(path)
        except ShowFileError as exc:
            problems.extend(exc.problems)
            continue
        if show.id in shows:
            problems.append(Problem(str(path), "id", f"show id {show.id!r} is used twice"))
        shows[show.id] = show
    if problems:
        raise ShowFileError(problems)
    return shows
