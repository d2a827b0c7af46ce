"""What a moderator asks for: void or restore votes, or a flag cluster's flagged votes. Pure."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from live.domain.ballot import VoteId

MAX_VOTES = 10_000


class ModerationIn(BaseModel):
    """The body of ``POST /api/shows/{show}/voids`` (and of its ``/preview``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    op: Literal["void", "restore"]
    vote_ids: Annotated[tuple[VoteId, ...], Field(max_length=MAX_VOTES)] = ()
    cluster: Annotated[str, Field(max_length=200)] = ""
    """A flag cluster's id: acts on the votes it flagged."""
    reason: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _one_target(self) -> ModerationIn:
        if bool(self.vote_ids) == bool(self.cluster):
            raise ValueError("give either vote_ids or cluster")
        return self
