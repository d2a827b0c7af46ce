"""Every request body the web edge accepts, as the pydantic models that validate it.

:mod:`live.web.openapi` reads only this module, so the published document is what the routes
validate with. Models that the domain or a service also takes as input are defined there and
named here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from live.domain.ballot import LikeIn, VoteIn
from live.domain.comments import CommentIn, CommentOpIn, DanmakuIn, WordListIn
from live.domain.errors import parse_model
from live.domain.moderation import ModerationIn
from live.domain.show import ContestantEdit, RulesEdit, RunningOrder
from live.domain.stage import MAX_SECONDS

__all__ = [
    "ApprovalIn",
    "CommentIn",
    "CommentOpIn",
    "ContestantEdit",
    "CorrectionIn",
    "DanmakuIn",
    "DisplayIn",
    "LikeIn",
    "ModerationIn",
    "PreviewIn",
    "PublishIn",
    "RulesEdit",
    "RunningOrder",
    "SheetIn",
    "StageIn",
    "VoteIn",
    "WordListIn",
    "parse_model",
]

Mark = StrictInt | StrictFloat | StrictStr | None
Marks = Annotated[dict[Annotated[str, Field(max_length=40)], Mark], Field(max_length=20)]


class _In(BaseModel):
    # strict: 0 is not false and "1" is not 1 (schemathesis found `{"approve": 0}` taken).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SheetIn(_In):
    op: Literal["save", "submit", "lock", "recuse", "unrecuse"]
    marks: Marks = {}
    save_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    """The client's idempotency key: a retry of the same change sends the same one."""
    base: Annotated[int, Field(ge=-1, le=1_000_000)] = -1
    """The revision the change is based on; -1 skips the check."""


class ApprovalIn(_In):
    approve: bool | None


class CorrectionIn(_In):
    judge: Annotated[str, Field(min_length=1, max_length=40)]
    marks: Marks
    reason: Annotated[str, Field(min_length=3, max_length=500)]


class PreviewIn(_In):
    expert: dict[str, Any] | None = None
    audience: dict[str, Any] | None = None
    combine: dict[str, Any] | None = None
    stages: list[dict[str, Any]] | None = None
    tiebreak: list[str] | None = None


class PublishIn(_In):
    note: Annotated[str, Field(max_length=500)] = ""


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    action: Annotated[str, Field(max_length=20)]
    """One of :data:`live.domain.stage.ACTIONS`; anything else is a 400 from the stage rules."""
    contestant: Annotated[str, Field(max_length=40)] = ""
    category: Annotated[str, Field(max_length=40)] = ""
    for_contestant: bool = False
    seconds: Annotated[int, Field(ge=0, le=MAX_SECONDS)] = 0


class DisplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    op: Literal["reveal", "hide", "overlay_category", "overlay_top", "freeze", "unfreeze"]
    category: Annotated[str, Field(max_length=40)] = ""
    n: Annotated[int, Field(ge=1, le=40)] = 10
    """``overlay_top``: how many contestants the overlay's board shows."""


class ShowIn(BaseModel):
    """``POST /api/shows``: a new show (set up in the browser)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    title_en: Annotated[str, Field(min_length=1, max_length=200)]
    partitions: Annotated[int, Field(ge=1, le=64)] = 1
    """Vote partitions (fixed once the show exists: a device's votes never move)."""


class DefinitionIn(BaseModel):
    """``POST /api/shows/{show}/definition`` (JSON): the whole show, as the show file's
    document, and the revision it was read at."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rev: Annotated[str, Field(max_length=40)]
    show: dict[str, Any]


class RulesPreviewIn(BaseModel):
    """``POST /api/shows/{show}/rules-preview``: a category (as in the show file, with its
    ``rules``), saved or not."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    category: dict[str, Any]


class StaffIn(BaseModel):
    """``POST /api/shows/{show}/staff``: invite someone, change a role, or revoke."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    op: Literal["invite", "role", "revoke"]
    name: Annotated[str, Field(max_length=80)] = ""
    role: Literal["admin", "judge", "moderator", "streamer"] = "judge"
    staff: Annotated[str, Field(max_length=40)] = ""
