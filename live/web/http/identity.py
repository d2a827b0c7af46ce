"""Identity routes: phone codes, WeChat and OIDC sign-in, and what this device holds.

- ``GET /api/identity``: the device's verified identities (masked) and which tiers this server
  offers.
- ``POST /api/identity/phone/start`` ``{"phone", "captcha"?}``: send a 6-digit code.
- ``POST /api/identity/phone/verify`` ``{"phone", "code"}``: bind the device to the number.
- ``GET /api/identity/{wechat|oidc}/start?next=/s/show``: to the provider's sign-in.
- ``GET /api/identity/{wechat|oidc}/callback?code&state``: back from it; then to ``next``.

Binding sets the signed ``live_identity`` cookie (:class:`live.web.identity.Identities`).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from itsdangerous import BadSignature
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from live.domain.errors import BadRequest, SignInFailed
from live.domain.identity import Claim
from live.services.signin import Oidc, WeChat
from live.web.http.common import client_ip, device_of, read_body
from live.web.identity import COOKIE, IDENTITY_COOKIE, IDENTITY_MAX_AGE
from live.web.runtime import Runtime, runtime

SIGNIN_COOKIE = "live_signin"
SIGNIN_MAX_AGE = 600
"""Seconds a sign-in may take between the redirect and the callback."""


def _bind(rt: Runtime, request: Request, response: Response, device: str, claim: Claim) -> None:
    held = rt.identities.read(request.cookies.get(IDENTITY_COOKIE), device)
    response.set_cookie(
        IDENTITY_COOKIE,
        rt.identities.add(held, claim, device),
        max_age=IDENTITY_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=rt.settings.cookie_secure,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"


async def get_identity(request: Request) -> JSONResponse:
    rt = runtime(request.app)
    claims: list[dict[str, Any]] = []
    cookie = request.cookies.get(COOKIE)
    if cookie:
        device = rt.devices.verify(cookie)
        held = rt.identities.read(request.cookies.get(IDENTITY_COOKIE), device)
        claims = [{"kind": c.kind, "label": c.label, "at": c.at} for c in held]
    tiers = {"device": True, "phone": True, "wechat": rt.wechat.enabled, "oidc": rt.oidc.enabled}
    return JSONResponse(
        {"identities": claims, "tiers": tiers}, headers={"Cache-Control": "no-store"}
    )


async def phone_start(request: Request) -> JSONResponse:
    rt = runtime(request.app)
    device = device_of(request, rt.devices, rt.settings.allowed_origins)
    body = await read_body(request, rt.settings.max_body_bytes)
    sent = await rt.identity.start(body, client_ip(request), device)
    return JSONResponse(sent, headers={"Cache-Control": "no-store"})


async def phone_verify(request: Request) -> JSONResponse:
    rt = runtime(request.app)
    device = device_of(request, rt.devices, rt.settings.allowed_origins)
    body = await read_body(request, rt.settings.max_body_bytes)
    claim = await rt.identity.verify(body)
    response = JSONResponse({"status": "verified", "identity": "phone", "label": claim.label})
    _bind(rt, request, response, device, claim)
    return response


def _provider(rt: Runtime, request: Request) -> WeChat | Oidc:
    # Two fixed paths per provider (no "{provider}" parameter: its GET would shadow the
    # phone routes' paths in every Allow header).
    return rt.wechat if request.url.path.startswith("/api/identity/wechat/") else rt.oidc


def _next(raw: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not raw:
        return "/"
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 300:
        raise BadRequest("next: a path on this site, such as /s/show")
    return raw


def _callback_url(rt: Runtime, request: Request, kind: str) -> str:
    path = f"/api/identity/{kind}/callback"
    base = rt.settings.public_url or str(request.base_url).rstrip("/")
    return base + path


async def signin_start(request: Request) -> Response:
    rt = runtime(request.app)
    provider = _provider(rt, request)
    rt.devices.verify(request.cookies.get(COOKIE))  # the binding needs a device
    target = _next(request.query_params.get("next"))
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    url = await provider.authorize_url(
        _callback_url(rt, request, provider.kind), state, nonce, verifier
    )
    response = RedirectResponse(url, status_code=302)
    packed = rt.identities.signin.dumps([provider.kind, state, nonce, verifier, target])
    response.set_cookie(
        SIGNIN_COOKIE,
        packed,
        max_age=SIGNIN_MAX_AGE,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=rt.settings.cookie_secure,
        path="/api/identity/",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def signin_callback(request: Request) -> Response:
    rt = runtime(request.app)
    provider = _provider(rt, request)
    device = rt.devices.verify(request.cookies.get(COOKIE))
    code = request.query_params.get("code", "")
    state = request.query_params.get("state", "")
    if not code or len(code) > 512 or not state:
        raise SignInFailed("the provider sent no code (sign-in cancelled?)")
    try:
        kind, expected, nonce, verifier, target = rt.identities.signin.loads(
            request.cookies.get(SIGNIN_COOKIE, ""), max_age=SIGNIN_MAX_AGE
        )
    except (BadSignature, ValueError, TypeError):
        raise SignInFailed("no sign-in in progress on this device (or it took too long)") from None
    if kind != provider.kind or not hmac.compare_digest(str(expected), state):
        raise SignInFailed("state does not match this device's sign-in")
    subject, label = await provider.exchange(
        code, _callback_url(rt, request, provider.kind), nonce, verifier
    )
    claim = rt.identity.claim(provider.kind, subject, label)
    response = RedirectResponse(_next(target), status_code=303)
    _bind(rt, request, response, device, claim)
    response.delete_cookie(SIGNIN_COOKIE, path="/api/identity/")
    return response


routes = [
    Route("/api/identity", get_identity, methods=["GET"]),
    Route("/api/identity/phone/start", phone_start, methods=["POST"]),
    Route("/api/identity/phone/verify", phone_verify, methods=["POST"]),
    Route("/api/identity/wechat/start", signin_start, methods=["GET"]),
    Route("/api/identity/wechat/callback", signin_callback, methods=["GET"]),
    Route("/api/identity/oidc/start", signin_start, methods=["GET"]),
    Route("/api/identity/oidc/callback", signin_callback, methods=["GET"]),
]
