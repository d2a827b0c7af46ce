"""Vote and like validation: pure functions from raw input to checked values.

Nothing here touches Redis; the decision that needs shared state (open, caps, windows,
idempotency) is made by one Lua script in :mod:`live.redis.store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from live.domain.errors import BadRequest, IdentityRequired, parse_model
from live.domain.identity import Claim, claim_for
from live.domain.net import subnet_of
from live.domain.show import Category, Show

VoteId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Ref = Annotated[str, Field(min_length=1, max_length=40)]


class VoteIn(BaseModel):
    """The body of ``POST /api/shows/{show}/votes`` (and of a websocket ``vote``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    category: Ref
    contestant: Ref
    vote_id: VoteId
    """Made by the phone, so that a retry of the same vote is safe."""


class LikeIn(BaseModel):
    """The body of ``POST /api/shows/{show}/likes`` (and of a websocket ``like``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    n: Annotated[int, Field(ge=1)]


def parse_vote(raw: bytes | str | dict[str, Any]) -> VoteIn:
    """Decode and type-check a vote; raise :class:`BadRequest` naming each bad field."""
    return parse_model(VoteIn, raw)


def parse_like(raw: bytes | str | dict[str, Any], show: Show) -> LikeIn:
    like = parse_model(LikeIn, raw)
    if like.n > show.likes.max_per_message:
        raise BadRequest(f"n: at most {show.likes.max_per_message} taps per message")
    return like


UA_LIMIT = 200
"""Characters of a User-Agent kept in the ledger (enough to tell a browser from a script)."""


@dataclass(frozen=True, slots=True)
class Voter:
    """Who sends a vote, as the edge saw them: the signed device id, address and user agent,
    and the verified identities the device holds (its signed identity cookie)."""

    device: str
    ip: str
    ua: str = ""
    claims: tuple[Claim, ...] = ()


@dataclass(frozen=True, slots=True)
class Ballot:
    """A vote that passed every check that needs no shared state."""

    show: str
    category: Category
    contestant: str
    vote_id: str
    device: str
    ip: str
    subnet: str
    ua: str = ""
    identity: str = ""
    """The verified identity's hash (:func:`~live.domain.identity.identity_hash`) when the
    category needs one, else ''; its caps then hold per identity as well as per device."""
    label: str = ""
    """How that identity is shown to moderators (``phone 138****1234``)."""


def make_ballot(show: Show, vote: VoteIn, voter: Voter, now_ms: int = 0) -> Ballot:
    """Check the vote against the show (category and contestant exist) and, in a category above
    the ``device`` tier, that the device holds a verified identity of that kind no older than
    the show's ``retention`` (:class:`IdentityRequired` if not)."""
    category = show.check_vote_target(vote.category, vote.contestant)
    identity = label = ""
    if category.identity != "device":
        claim = claim_for(voter.claims, category.identity, now_ms, show.retention_ms)
        if claim is None:
            raise IdentityRequired(
                category.identity,
                f"voting in {category.id!r} needs a verified {category.identity} identity",
            )
        identity, label = claim.hash, f"{claim.kind} {claim.label}"
    return Ballot(
        show=show.id,
        category=category,
        contestant=vote.contestant,
        vote_id=vote.vote_id,
        device=voter.device,
        ip=voter.ip,
        subnet=subnet_of(voter.ip),
        ua=voter.ua[:UA_LIMIT],
        identity=identity,
        label=label,
    )
