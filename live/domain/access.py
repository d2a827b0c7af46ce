"""Who may do what: the one table of routes and websocket operations by role. Pure.

Every staff route is built from :data:`ROUTES` (see :mod:`live.web.http.staff`), so a route cannot
exist without an entry here; a test walks every entry for every role.
"""

from __future__ import annotations

import hmac
from typing import Literal

Role = Literal["admin", "judge", "moderator", "streamer"]
ROLES: tuple[Role, ...] = ("admin", "judge", "moderator", "streamer")

ADMIN: frozenset[str] = frozenset({"admin"})
CONSOLE: frozenset[str] = frozenset({"admin", "judge", "moderator"})
ANY_STAFF: frozenset[str] = frozenset(ROLES)
MODERATE: frozenset[str] = frozenset({"admin", "moderator"})
JUDGE: frozenset[str] = frozenset({"judge"})
"""A sheet or an approval is a judge's own: an admin changes one only by a correction."""

ROUTES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/admin/{show}"): ADMIN,
    ("GET", "/judge/{show}"): frozenset({"admin", "judge"}),
    ("GET", "/moderate/{show}"): MODERATE,
    ("GET", "/api/shows/{show}/staff-state"): CONSOLE,
    ("POST", "/api/shows/{show}/stage"): ADMIN,
    ("POST", "/api/shows/{show}/display"): ADMIN,
    ("POST", "/api/shows/{show}/categories/{category}/rules"): ADMIN,
    ("POST", "/api/shows/{show}/contestants/{contestant}"): ADMIN,
    ("POST", "/api/shows/{show}/running-order"): ADMIN,
    ("POST", "/api/shows/{show}/contestants/{contestant}/photo"): ADMIN,
    ("GET", "/api/shows/{show}/overlay-key"): frozenset({"admin", "streamer"}),
    ("POST", "/api/shows/{show}/overlay-key"): ADMIN,
    ("GET", "/api/shows/{show}/sheets/{category}"): frozenset({"admin", "judge"}),
    ("POST", "/api/shows/{show}/sheets/{category}/{contestant}"): JUDGE,
    ("POST", "/api/shows/{show}/approvals/{category}/{contestant}"): JUDGE,
    ("POST", "/api/shows/{show}/corrections/{category}/{contestant}"): ADMIN,
    ("GET", "/api/shows/{show}/results/{category}"): CONSOLE,
    ("POST", "/api/shows/{show}/results/{category}/preview"): ADMIN,
    ("POST", "/api/shows/{show}/results/{category}/publish"): ADMIN,
    ("GET", "/api/shows/{show}/flags"): MODERATE,
    ("POST", "/api/shows/{show}/voids/preview"): MODERATE,
    ("POST", "/api/shows/{show}/voids"): MODERATE,
    ("GET", "/api/shows/{show}/moderation-log"): MODERATE,
    ("GET", "/api/shows/{show}/activity"): MODERATE,
    ("GET", "/api/shows/{show}/ingest"): ADMIN,
    ("GET", "/api/shows/{show}/comments"): MODERATE,
    ("POST", "/api/shows/{show}/comments/{id}"): MODERATE,
    ("GET", "/api/shows/{show}/wordlist"): MODERATE,
    ("POST", "/api/shows/{show}/wordlist"): ADMIN,
    ("POST", "/api/shows/{show}/danmaku"): ADMIN,
    ("GET", "/admin/{show}/setup"): ADMIN,
    ("POST", "/api/shows"): ADMIN,  # an admin of the show in the session cookie
    ("GET", "/api/shows/{show}/definition"): ADMIN,
    ("POST", "/api/shows/{show}/definition"): ADMIN,
    ("POST", "/api/shows/{show}/roster"): ADMIN,
    ("POST", "/api/shows/{show}/rules-preview"): ADMIN,
    ("GET", "/api/shows/{show}/staff"): ADMIN,
    ("POST", "/api/shows/{show}/staff"): ADMIN,
    ("POST", "/staff/logout"): ANY_STAFF,
}
"""(method, path) -> the roles that may use it. Staff POSTs also need the CSRF token."""

PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/"),
        ("GET", "/s/{show}"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),  # a bearer token (LIVE_METRICS_TOKEN), not a role
        ("GET", "/openapi.json"),
        ("GET", "/api/shows/{show}"),
        ("POST", "/api/shows/{show}/votes"),  # a device cookie, not a role
        ("POST", "/api/shows/{show}/likes"),
        ("POST", "/api/shows/{show}/comments"),  # a device cookie, not a role
        ("GET", "/api/shows/{show}/me"),  # a device cookie: its own votes left
        ("GET", "/s/{show}/c/{contestant}"),
        ("GET", "/s/{show}/c/{contestant}/poster.png"),
        ("GET", "/s/{show}/c/{contestant}/photo.webp"),
        ("GET", "/staff/login"),
        ("POST", "/staff/login"),  # the one-time invite token is the credential
        ("GET", "/overlay/{show}"),  # the overlay key (or a streamer/admin session)
        ("GET", "/api/shows/{show}/published/{category}"),  # published results are public
        ("GET", "/results/{show}/{category}"),
        ("POST", "/ingest/douyin/{show}"),  # Douyin's signature (x-signature), not a role
        ("GET", "/api/identity"),  # a device cookie: its own identities
        ("POST", "/api/identity/phone/start"),  # a device cookie, not a role
        ("POST", "/api/identity/phone/verify"),  # a device cookie, not a role
        ("GET", "/api/identity/wechat/start"),  # a device cookie: WeChat sign-in
        ("GET", "/api/identity/wechat/callback"),  # WeChat's code; state checked
        ("GET", "/api/identity/oidc/start"),  # a device cookie: OIDC sign-in
        ("GET", "/api/identity/oidc/callback"),  # the provider's code; state, nonce checked
    }
)

SOCKETS: dict[str, frozenset[str]] = {
    "/ws/shows/{show}": frozenset({"viewer"}),
    "/ws/staff/{show}": CONSOLE,
    "/ws/overlay/{show}": frozenset({"overlay-key", "admin", "streamer"}),
}
"""Websocket endpoint -> who may connect. ``viewer``: anyone, seen as an anonymous viewer (or as
``device`` with a device cookie); ``overlay-key``: whoever has the show's overlay key."""

WS_OPS: dict[str, dict[str, frozenset[str]]] = {
    "/ws/shows/{show}": {
        "vote": frozenset({"device"}),
        "like": frozenset({"device"}),
        "comment": frozenset({"device"}),
        "ping": frozenset({"device", "viewer"}),
    },
    "/ws/staff/{show}": {"ping": CONSOLE},
    "/ws/overlay/{show}": {"ping": frozenset({"overlay-key", "admin", "streamer"})},
}
"""Websocket endpoint -> operation -> who may send it (``device``: a viewer with a cookie)."""


def allowed(method: str, path: str, role: str | None) -> bool:
    roles = ROUTES.get((method, path))
    if roles is None:
        return (method, path) in PUBLIC
    return role is not None and role in roles


def op_allowed(endpoint: str, op: str, who: str) -> bool:
    return who in WS_OPS.get(endpoint, {}).get(op, frozenset())


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two secrets (never ``==``)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
