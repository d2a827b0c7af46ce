"""WeChat web authorisation (``snsapi_base``) and OIDC sign-in: the authorisation redirect and
the code exchange. What they yield is a subject (an openid; an OIDC issuer and ``sub``).

The edge keeps ``state`` and ``nonce`` in a short-lived signed cookie and checks them; every
authorisation code is spent in Redis before it is exchanged, so a replayed callback is refused
even where the provider would accept the code twice. OIDC uses authlib's PKCE helper and its
ID-token claim rules (issuer, audience, expiry, nonce), with joserfc (authlib's JOSE library)
checking the token's signature against the provider's published keys.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from live.domain.errors import IdentityDisabled, ProviderFailed, SignInFailed
from live.domain.identity import Tier
from live.redis.identity import IdentityStore
from live.services.outside import answer_of

WECHAT_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
WECHAT_TOKEN = "https://api.weixin.qq.com/sns/oauth2/access_token"  # noqa: S105 (a URL)


class WeChat:
    """WeChat's web authorisation with ``scope=snsapi_base`` (silent: no consent screen, only
    the openid, which identifies the person within this official account)."""

    kind: Tier = "wechat"

    def __init__(
        self, app_id: str, secret: str, http: httpx.AsyncClient, store: IdentityStore
    ) -> None:
        self.app_id, self.secret, self.http, self.store = app_id, secret, http, store

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.secret)

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        if not self.enabled:
            raise IdentityDisabled("WeChat sign-in is not configured (LIVE_WECHAT_APP_ID)")
        params = [
            ("appid", self.app_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "snsapi_base"),
            ("state", state),
        ]
        return str(add_params_to_uri(WECHAT_AUTHORIZE, params)) + "#wechat_redirect"

    async def exchange(
        self, code: str, redirect_uri: str, nonce: str, verifier: str
    ) -> tuple[str, str]:
        """The openid for ``code`` and a label; :class:`SignInFailed` for a spent code."""
        if not self.enabled:
            raise IdentityDisabled("WeChat sign-in is not configured (LIVE_WECHAT_APP_ID)")
        if not await self.store.spend("wechat", code):
            raise SignInFailed("this sign-in code was used before: sign in again")
        params = {
            "appid": self.app_id,
            "secret": self.secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        body = await answer_of(self.http.get(WECHAT_TOKEN, params=params), "WeChat")
        openid = body.get("openid")
        if body.get("errcode") or not isinstance(openid, str) or not openid:
            raise SignInFailed(f"WeChat refused the code ({body.get('errcode')})")
        return openid, "WeChat"


class Oidc:
    """OpenID Connect, authorisation code flow with PKCE (S256) and a nonce."""

    kind: Tier = "oidc"

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient,
        store: IdentityStore,
    ) -> None:
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.http, self.store = http, store
        self._meta: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, read once."""
        if not self.enabled:
            raise IdentityDisabled("OIDC sign-in is not configured (LIVE_OIDC_ISSUER)")
        if self._meta is None:
            url = self.issuer + "/.well-known/openid-configuration"
            meta = await answer_of(self.http.get(url), "OIDC provider")
            if meta.get("issuer") != self.issuer:
                raise ProviderFailed("the OIDC discovery document names another issuer")
            self._meta = meta
        return self._meta

    async def authorize_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        meta = await self.metadata()
        params = [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", "openid"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
        return str(add_params_to_uri(meta["authorization_endpoint"], params))

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            meta = await self.metadata()
            keys: Any = await answer_of(self.http.get(meta["jwks_uri"]), "OIDC provider")
            self._keys = KeySet.import_key_set(keys)
        return self._keys

    async def exchange(
        self, code: str, redirect_uri: str, nonce: str, verifier: str
    ) -> tuple[str, str]:
        """The subject (``iss|sub``) of the ID token the code buys, after its signature and
        claims (issuer, audience, expiry, nonce) are checked."""
        meta = await self.metadata()
        if not await self.store.spend("oidc", code):
            raise SignInFailed("this sign-in code was used before: sign in again")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": self.client_id,
        }
        if self.client_secret:  # client_secret_basic
            basic = (self.client_id, self.client_secret)
            sent = self.http.post(meta["token_endpoint"], data=form, auth=basic)
        else:  # a public client: PKCE alone
            sent = self.http.post(meta["token_endpoint"], data=form)
        body = await answer_of(sent, "OIDC provider")
        token = body.get("id_token")
        if not isinstance(token, str):
            raise SignInFailed(f"the provider refused the code ({body.get('error')})")
        try:
            try:
                decoded = jwt.decode(token, await self._key_set())
            except JoseError:  # keys rotated since they were read: read them once more
                decoded = jwt.decode(token, await self._key_set(refresh=True))
        except (JoseError, ValueError) as exc:
            raise SignInFailed(f"the ID token does not verify ({type(exc).__name__})") from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
            },
            params={"nonce": nonce},
        )
        try:
            claims.validate(now=int(time.time()))
        except JoseError as exc:  # authlib's claim rules raise joserfc's claim errors
            raise SignInFailed(f"the ID token is not for this sign-in ({exc})") from None
        sub = decoded.claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise SignInFailed("the ID token names no subject")
        return f"{self.issuer}|{sub}", "sign-in"
