"""The one error tree. Each error has a stable ``code``; edges map it to HTTP or websocket once.

HTTP bodies are ``{"error": {"code": ..., "message": ...}}``. Websocket close codes:

====  =====================================================================
code  meaning
====  =====================================================================
1008  policy: unknown show
1009  a frame larger than ``LIVE_WS_MAX_BYTES`` (sent by the server library)
1011  keepalive ping timeout (the client stopped answering pings)
1001  going away: the server is shutting down or restarting (SIGTERM); reconnect
4401  the device cookie is forged, or the staff session ended (revoked, logged out, expired)
4003  the role may not use this socket any more (downgraded), or the overlay key was rotated
4403  the Origin header names another site (or ``null``; staff sockets: or is missing)
4008  the client fell behind: its send stayed blocked past ``LIVE_SLOW_CLIENT_MS``
4029  flooding: kept sending faster than ``LIVE_WS_MSG_RATE`` after ``throttled`` errors, or
      too many replies queued on one socket
4030  too many sockets from one address (``LIVE_WS_PER_IP``); try again later
====  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

WS_UNKNOWN_SHOW = 1008
WS_FORGED_DEVICE = 4401
WS_FORBIDDEN_ORIGIN = 4403
WS_FORBIDDEN = 4003
WS_TOO_SLOW = 4008
WS_FLOODING = 4029
WS_TOO_MANY_SOCKETS = 4030


class LiveError(Exception):
    """Base of every error the product reports on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, dict[str, Any]]:
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str] | None:
        return None


class ConfigError(LiveError):
    code = "config_error"
    status = 500


class BadRequest(LiveError):
    """Malformed input: bad JSON, wrong types, missing fields."""

    code = "bad_request"
    status = 400


class Throttled(LiveError):
    """A websocket message sent faster than the socket's rate: not handled."""

    code = "throttled"
    status = 429


class CommentLimited(Throttled):
    """A device posted more comments in a minute than the show allows (``Retry-After``)."""

    code = "comment_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class RetryLater(Throttled):
    """A rate limit with a known end: ``Retry-After`` says when (seconds)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after_s)

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class SignaturesLimited(RetryLater):
    """Too many pushes with a bad signature for this room, or from this address, this minute:
    the next is not even checked (a secret cannot be guessed at speed)."""

    code = "bad_signatures_limited"


class PayloadTooLarge(LiveError):
    code = "payload_too_large"
    status = 413


class DeviceRequired(LiveError):
    """No device cookie, or one whose signature does not verify."""

    code = "device_required"
    status = 401


class NotSignedIn(LiveError):
    """A staff route without a live staff session."""

    code = "not_signed_in"
    status = 401


class Forbidden(LiveError):
    """A staff session whose role may not do this, or a missing or wrong CSRF token."""

    code = "forbidden"
    status = 403


class OrganiserRequired(Forbidden):
    """Creating a show is an organiser's: a server-level grant of the operator's (``live staff
    organiser``), not any show's admin role."""

    code = "organiser_required"


class QuotaSpent(Forbidden):
    """The organiser has created as many shows as the operator's grant allows."""

    code = "quota_spent"


class CommentBanned(Forbidden):
    """A moderator banned this device's comments for the rest of the show."""

    code = "comment_banned"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class RulesFrozen(LiveError):
    """A category's rules cannot change once voting has started in it."""

    code = "rules_frozen"
    status = 409


class ShowStarted(LiveError):
    """Contestant details and the running order change only before the show starts."""

    code = "show_started"
    status = 409


class SheetInvalid(LiveError):
    """A judge's mark out of range, off its step, missing, or for no such criterion.

    The body also names the ``field`` that is wrong (e.g. ``marks.innovation``).
    """

    code = "sheet_invalid"
    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field

    def body(self) -> dict[str, dict[str, Any]]:
        out = super().body()
        out["error"]["field"] = self.field
        return out


class SheetLocked(LiveError):
    """The sheet is locked: only an admin correction (with a reason) can change it."""

    code = "sheet_locked"
    status = 409


class SheetConflict(LiveError):
    """The sheet changed since the revision the client based its edit on (another tablet)."""

    code = "sheet_conflict"
    status = 409


class ShowExists(LiveError):
    """A new show's id is taken (by a show served now, or one served before)."""

    code = "show_exists"
    status = 409


class DefinedByFile(LiveError):
    """The show is served from a show file on the server: it is changed there (``live show
    import``), not in the browser."""

    code = "show_file"
    status = 409


class DefinitionStale(LiveError):
    """The show was changed by someone else since it was read: read it again, then change it."""

    code = "definition_stale"
    status = 409


class ForbiddenOrigin(LiveError):
    """A browser request from a page of another site."""

    code = "forbidden_origin"
    status = 403


class BadSignature(LiveError):
    """A platform push whose signature does not match (or is missing): nothing counted."""

    code = "bad_signature"
    status = 401


class StalePush(BadSignature):
    """A signed platform push whose timestamp is more than 5 minutes from our clock (an old
    push replayed): nothing counted."""

    code = "stale_push"


class NotFound(LiveError):
    code = "not_found"
    status = 404


class IngestDisabled(NotFound):
    """A platform receiver the show does not enable (no such room, or its secret unset)."""

    code = "ingest_disabled"


class CommentsDisabled(NotFound):
    """The show takes no comments (``[comments] enabled = false``)."""

    code = "comments_disabled"


class UnknownComment(NotFound):
    code = "unknown_comment"


class MetricsDisabled(NotFound):
    """``GET /metrics`` without ``LIVE_METRICS_TOKEN`` configured."""

    code = "metrics_disabled"


class UnknownShow(NotFound):
    code = "unknown_show"


class UnknownCategory(NotFound):
    code = "unknown_category"


class UnknownContestant(NotFound):
    code = "unknown_contestant"


class NotPublished(NotFound):
    code = "not_published"


class Unavailable(LiveError):
    """Redis did not answer within its budget."""

    code = "unavailable"
    status = 503
    retry_after = 1

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class Busy(Unavailable):
    """Slow work of this kind (reading a sheet, decoding an image) is already running in this
    process: one at a time, so that several cannot together exhaust its memory or CPU."""

    code = "busy"


class NotReplicated(Unavailable):
    """The vote was written, but no replica confirmed a copy in time (``WAIT``): it could be lost
    by a failover, so it is not acknowledged. A retry with the same ``vote_id`` is safe."""

    code = "not_replicated"


class Overloaded(Unavailable):
    """The process is already serving its limit of requests; shed before any work."""

    code = "overloaded"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a show file: where and why."""

    file: str
    field: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.why}"


class ShowFileError(ConfigError):
    """A show file that cannot be loaded; ``problems`` lists every problem found."""

    code = "show_file_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DefinitionInvalid(LiveError):
    """A show (or a contestant sheet) set up in the browser that is not valid; nothing of it
    was taken. The body also lists every problem: ``problems: [{"where", "why"}]`` (``where``
    is a field path such as ``contestants.3.name``, or ``row R, column C`` for a sheet)."""

    code = "show_invalid"
    status = 400

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = f"{problems[0].field}: {problems[0].why}" if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)

    def body(self) -> dict[str, dict[str, Any]]:
        out = super().body()
        out["error"]["problems"] = [{"where": p.field, "why": p.why} for p in self.problems]
        return out


def invalid(exc: ValidationError) -> BadRequest:
    """A request model's validation failure as one :class:`BadRequest` naming each bad field."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return BadRequest("; ".join(parts))


class IdentityRequired(LiveError):
    """A vote in a category that needs a verified identity (``phone``, ``wechat``, ``oidc``)
    from a device that has none of that kind (or one older than the show's ``retention``). The
    body also names ``identity``: what to verify."""

    code = "identity_required"
    status = 401

    def __init__(self, identity: str, message: str) -> None:
        super().__init__(message)
        self.identity = identity

    def body(self) -> dict[str, dict[str, Any]]:
        out = super().body()
        out["error"]["identity"] = self.identity
        return out


class IdentityDisabled(NotFound):
    """A sign-in method this server is not configured for (no WeChat app id, no OIDC issuer)."""

    code = "identity_disabled"


class SendLimited(Throttled):
    """Too many codes asked for this number, from this address or this device
    (``Retry-After``); ``reason`` says which limit: ``number_minute``, ``number_hour``,
    ``number_day``, ``address``, ``device``."""

    code = "send_limited"

    def __init__(self, message: str, reason: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after_s

    def body(self) -> dict[str, dict[str, Any]]:
        out = super().body()
        out["error"]["reason"] = self.reason
        return out

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class CountryNotServed(BadRequest):
    """A phone number of a country codes are not sent to (``LIVE_SMS_COUNTRIES``)."""

    code = "country_not_served"


class CaptchaRequired(Forbidden):
    """The captcha hook refused to send a code: solve the captcha, then ask again."""

    code = "captcha_required"


class CodeInvalid(LiveError):
    """A phone code that does not match; the body says how many ``attempts_left``."""

    code = "code_invalid"
    status = 400

    def __init__(self, message: str, attempts_left: int) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left

    def body(self) -> dict[str, dict[str, Any]]:
        out = super().body()
        out["error"]["attempts_left"] = self.attempts_left
        return out


class CodeExpired(LiveError):
    """No live code for this number: never sent, expired (5 minutes), used, or its attempts
    are spent. Ask for a new one."""

    code = "code_expired"
    status = 410


class SignInFailed(LiveError):
    """A WeChat or OIDC sign-in that cannot be trusted: ``state`` or ``nonce`` that does not
    match, a code used before, or a provider that refused the code."""

    code = "sign_in_failed"
    status = 400


class ProviderFailed(LiveError):
    """The SMS or sign-in provider did not answer, or refused the request: try again later."""

    code = "provider_failed"
    status = 502


M = TypeVar("M", bound=BaseModel)


def parse_model(cls: type[M], raw: bytes | str | dict[str, Any]) -> M:
    """A request body (JSON text, or an already decoded websocket message) as ``cls``, or one
    :class:`BadRequest` naming each bad field."""
    try:
        if isinstance(raw, dict):
            return cls.model_validate(raw)
        return cls.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid(exc) from None
