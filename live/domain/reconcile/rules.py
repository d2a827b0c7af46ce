"""A category's rule set: how expert marks and audience votes become one ranking. Pure.

A rule set is declared in the show file (``[categories.rules]``, a preset name with optional
overrides, or every field), published before voting and frozen once voting opens in the
category. :func:`rules_hash` names it: every result carries the hash of the rules it was
computed under.

Scales (documented in the README): expert sheet totals are out of the category's maximum
sheet total; for ``weighted`` each side is normalised to 0..1 before the weights apply and the
total is reported on 0..100.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

EXPERT_METHODS = ("mean", "median", "trimmed_mean", "sum", "rank_points", "exp_rank")
AUDIENCE_METHODS = ("share", "max_scaled", "rank_points", "zscore", "raw")
TIEBREAKS = ("audience", "expert", "countback", "running_order")
AUDIENCE_SOURCES = ("web", "bilibili", "douyin", "twitch")

EUROVISION_POINTS: tuple[int, ...] = (12, 10, 8, 7, 6, 5, 4, 3, 2, 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _fraction_text(value: str) -> str:
    try:
        f = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError("write a fraction such as 2/3 or a decimal such as 0.19") from None
    if f < 0:
        raise ValueError("must not be negative")
    return value


Points = Annotated[tuple[int, ...], Field(min_length=1, max_length=100)]


class ExpertRule(_Strict):
    """How judges' marks for one contestant become the expert side.

    ``mean``/``median``/``sum`` of sheet totals; ``trimmed_mean`` drops the ``trim`` highest and
    ``trim`` lowest sheets by count (fewer when recusal leaves too few: at most
    ``(n - 1) // 2`` each side); ``rank_points``: each judge ranks the contestants by sheet total
    and gives ``points`` by place, the side is the mean over the judges who marked the
    contestant; ``exp_rank``: the panel ranking orders contestants by the mean over judges of
    ``12·e^(−decay·(rank−1))`` (compared exactly), and the side is ``points`` by panel place.
    Recusal (``exclude``): a recused judge's sheet is left out of that contestant only, and
    every method averages over the sheets that remain, so recusal neither helps nor hurts.
    """

    method: Literal["mean", "median", "trimmed_mean", "sum", "rank_points", "exp_rank"] = "mean"
    trim: Annotated[int, Field(ge=0, le=20)] = 0
    points: Points = EUROVISION_POINTS
    decay: str = "0.19"
    recusal: Literal["exclude"] = "exclude"

    _decay = field_validator("decay")(_fraction_text)


def _weights(value: Any) -> Any:
    """``{source: weight}`` (a show file) or pairs (a model dump) as sorted pairs, checked."""
    pairs = value.items() if isinstance(value, dict) else value
    try:
        out = tuple(sorted((str(name), weight) for name, weight in pairs))
    except (TypeError, ValueError):
        raise ValueError("sources: a table of source = weight, e.g. { web = 1 }") from None
    unknown = sorted({name for name, _ in out} - set(AUDIENCE_SOURCES))
    if unknown:
        raise ValueError(f"unknown sources {unknown}; known: {', '.join(AUDIENCE_SOURCES)}")
    for name, weight in out:
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 1000:
            raise ValueError(f"sources.{name}: a whole number from 0 to 1000")
    if not any(weight for _, weight in out):
        raise ValueError("at least one source needs a weight above 0")
    return out


class AudienceRule(_Strict):
    """How the votes left after voids become the audience side.

    ``share``: votes / all votes; ``max_scaled``: votes / the most votes; ``rank_points``:
    ``points`` by place in the vote ranking (equal votes share the better place's points);
    ``zscore``: (votes − mean) / population standard deviation (0 when all are equal);
    ``raw``: the count itself (for already-awarded points such as Eurovision televote).
    """

    method: Literal["share", "max_scaled", "rank_points", "zscore", "raw"] = "share"
    points: Points = EUROVISION_POINTS
    sources: Annotated[
        tuple[tuple[str, int], ...],
        BeforeValidator(_weights),
        PlainSerializer(dict, return_type=dict[str, int]),
    ] = (("web", 1),)
    """Whose votes make the audience side, each with a whole-number weight (0 to 1000):
    ``web`` (the show's own pages) and the platforms (``bilibili``, ``douyin``, ``twitch``:
    their chat votes). A contestant's audience votes are the weighted sum; a source left out
    counts 0. Default: the web's votes only. Written ``{ web = 1, douyin = 2 }``; kept as
    sorted pairs (a show is hashable)."""

    @property
    def weights(self) -> dict[str, int]:
        return dict(self.sources)


class Combine(_Strict):
    """``weighted``: (w_e·E + w_a·A) / (w_e + w_a) on normalised sides, reported on 0..100;
    ``points_sum``: E + A as they are (both sides already in points)."""

    method: Literal["weighted", "points_sum"] = "weighted"
    expert_weight: Annotated[int, Field(ge=0, le=1000)] = 60
    audience_weight: Annotated[int, Field(ge=0, le=1000)] = 40


class Stage(_Strict):
    """One step of a staged selection.

    ``gate``: keep contestants approved by at least (``inclusive``) or more than (strict)
    ``fraction`` of the ``denominator``: ``seated`` (every judge of the panel), ``present``
    (judges who did not recuse from the contestant) or ``voting`` (judges who cast approve or
    reject). ``top``: keep the best ``n`` by ``by``; ``ties`` at the cut either ``extend`` (all
    tied with the n-th go through) or ``tiebreak`` (the tie-break chain decides; a declared tie
    still extends).
    """

    kind: Literal["gate", "top"]
    fraction: str = "2/3"
    inclusive: bool = True
    denominator: Literal["seated", "present", "voting"] = "seated"
    by: Literal["audience", "expert", "total"] = "total"
    n: Annotated[int, Field(ge=1, le=100_000)] = 1
    ties: Literal["extend", "tiebreak"] = "extend"

    _fraction = field_validator("fraction")(_fraction_text)


class Award(_Strict):
    """``count`` places given the award ``name``, down the final order."""

    name: Annotated[str, Field(min_length=1, max_length=60)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)] = "award"
    count: Annotated[int, Field(ge=1, le=10_000)]


class RuleSet(_Strict):
    expert: ExpertRule = ExpertRule()
    audience: AudienceRule = AudienceRule()
    combine: Combine = Combine()
    stages: Annotated[tuple[Stage, ...], Field(max_length=20)] = ()
    awards: Annotated[tuple[Award, ...], Field(max_length=20)] = ()
    tiebreak: Annotated[
        tuple[Literal["audience", "expert", "countback", "running_order"], ...],
        Field(max_length=4),
    ] = ("audience", "expert", "countback", "running_order")
    """Applied in order when totals are equal; if all are equal the tie is declared (shared
    place), never drawn by lot. ``countback``: the better best sheet total, then second
    best, …; ``running_order``: the one who presented earlier."""


PRESETS: dict[str, dict[str, Any]] = {
    "weighted": {
        "expert": {"method": "mean"},
        "audience": {"method": "share"},
        "combine": {"method": "weighted", "expert_weight": 60, "audience_weight": 40},
    },
    "smart-craftsman": {
        "expert": {"method": "mean"},
        "audience": {"method": "max_scaled"},
        "combine": {"method": "weighted", "expert_weight": 60, "audience_weight": 40},
        "stages": [
            {"kind": "gate", "fraction": "2/3", "inclusive": True, "denominator": "seated"},
            {"kind": "top", "by": "audience", "n": 40, "ties": "extend"},
            {"kind": "top", "by": "expert", "n": 12, "ties": "extend"},
        ],
        "awards": [
            {"name": "智慧工匠", "name_en": "winner", "count": 10},
            {"name": "提名奖", "name_en": "nomination", "count": 10},
        ],
        "tiebreak": ["expert", "audience", "countback", "running_order"],
    },
    "panel": {
        "expert": {"method": "trimmed_mean", "trim": 1},
        "audience": {"method": "share"},
        "combine": {"method": "weighted", "expert_weight": 100, "audience_weight": 0},
        "tiebreak": ["countback", "running_order"],
    },
    "eurovision": {
        "expert": {"method": "sum"},
        "audience": {"method": "raw"},
        "combine": {"method": "points_sum"},
        "tiebreak": ["audience", "countback"],
    },
}
"""Shipped presets. ``weighted``: 60 % experts (mean) + 40 % audience (vote share).
``smart-craftsman``: gate at ≥ 2/3 of seated experts approving, top 40 by votes, top 12 by
expert score, then 10 winners and 10 nominations down the final order. ``panel``: trimmed
mean dropping the highest and lowest mark. ``eurovision``: jury points + televote points,
ties to the televote."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def build_rules(data: dict[str, Any]) -> RuleSet:
    """A rule set from a show file table: ``preset`` (optional) then field overrides."""
    data = dict(data)
    preset = data.pop("preset", None)
    if preset is not None:
        # Checked as text first: a table here (atheris found `preset = {...}`) is not hashable.
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        data = _merge(PRESETS[preset], data)
    return RuleSet.model_validate(data)


def preset(name: str) -> RuleSet:
    return build_rules({"preset": name})


def rules_hash(rules: RuleSet) -> str:
    """SHA-256 of the rule set's canonical JSON (sorted keys): the name results are pinned to."""
    data = rules.model_dump(mode="json")
    if data["audience"]["sources"] == {"web": 1}:
        # The default, as rule sets were before sources: their results keep their names.
        del data["audience"]["sources"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
