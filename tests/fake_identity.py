"""Local fakes of what sits outside the product: an SMS gateway that records what it was asked
to send, a WeChat authorisation server and an OIDC provider (Starlette apps the server reaches
through an in-process httpx transport), and a clock."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Clock:
    """A fake clock (ms) the identity service reads instead of the wall clock."""

    now: int = field(default_factory=lambda: int(time.time() * 1000))

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@dataclass
class SmsRecorder:
    """An SMS provider that sends nothing and keeps (phone, code) of every send."""

    name: str = "recorder"
    sent: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False

    async def send(self, phone: str, code: str) -> None:
        from live.domain.errors import ProviderFailed

        if self.fail:
            raise ProviderFailed("the gateway is down (a test)")
        self.sent.append((phone, code))

    def last(self, phone: str) -> str:
        return next(code for p, code in reversed(self.sent) if p == phone)


class FakeWeChat:
    """WeChat's ``sns/oauth2/access_token``: codes it issued, each good once."""

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id, self.secret = app_id, secret
        self.codes: dict[str, str] = {}
        self.exchanged: list[str] = []
        self.app = Starlette(routes=[Route("/sns/oauth2/access_token", self.token)])

    def authorize(self, openid: str) -> str:
        """What WeChat does when the person opens the link: a code for their openid."""
        code = secrets.token_urlsafe(12)
        self.codes[code] = openid
        return code

    async def token(self, request: Request) -> JSONResponse:
        q = request.query_params
        if q.get("appid") != self.app_id or q.get("secret") != self.secret:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        if q.get("grant_type") != "authorization_code":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        openid = self.codes.pop(q.get("code", ""), None)
        if openid is None:
            return JSONResponse({"errcode": 40163, "errmsg": "code been used"})
        self.exchanged.append(openid)
        return JSONResponse(
            {
                "access_token": "at-" + secrets.token_hex(8),
                "expires_in": 7200,
                "refresh_token": "rt",
                "openid": openid,
                "scope": "snsapi_base",
            }
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))


class FakeOidc:
    """An OpenID provider: discovery, JWKS, and a token endpoint that checks PKCE and answers
    an RS256 ID token carrying the nonce of the authorisation request."""

    def __init__(self, issuer: str, client_id: str, client_secret: str) -> None:
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.signing_key = self.key
        """What ID tokens are signed with (a test sets another key: a forger's)."""
        self.grants: dict[str, dict[str, str]] = {}
        self.nonce_override: str | None = None
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def authorize(self, url: str, subject: str) -> tuple[str, str]:
        """The person signs in at ``url`` (the server's redirect): the code and state the
        provider sends back to the callback."""
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert q["client_id"] == self.client_id and q["scope"] == "openid"
        assert q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(12)
        self.grants[code] = {
            "sub": subject,
            "nonce": q["nonce"],
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        return code, q["state"]

    async def token(self, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {basic}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        grant = self.grants.pop(str(form.get("code", "")), None)
        if grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant["sub"],
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce_override or grant["nonce"],
        }
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.signing_key)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
