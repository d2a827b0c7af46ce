"""Verifying identities: phone codes (with their send limits and the captcha hook), and the
code exchanges of WeChat and OIDC sign-in. What comes out is a :class:`Claim` the edge signs
into the device's identity cookie.

The clock is injectable: tests of expiry and send limits move a fake one (Redis compares the
times it is given, not its own).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from live import metrics
from live.domain.errors import (
    CaptchaRequired,
    CodeExpired,
    CodeInvalid,
    CountryNotServed,
    SendLimited,
    parse_model,
)
from live.domain.identity import (
    CODE_DIGITS,
    CODE_TTL_MS,
    NUMBER_LIMITS,
    Claim,
    PhoneStartIn,
    PhoneVerifyIn,
    SendPolicy,
    Tier,
    check_code_shape,
    code_digest,
    country_allowed,
    identity_hash,
    mask_phone,
    normalize_phone,
)
from live.domain.net import subnet_of
from live.redis.identity import IdentityStore
from live.services.outside import answer_of
from live.services.sms import SmsProvider

log = logging.getLogger("live.identity")


def wall_ms() -> int:
    return int(time.time() * 1000)


class Captcha(Protocol):
    """The hook asked before a code is sent: is this answer from a person?"""

    async def check(self, answer: str, ip: str) -> bool: ...


class SiteVerify:
    """A captcha checked by a ``siteverify`` endpoint (Cloudflare Turnstile, hCaptcha and
    reCAPTCHA share the shape: a form POST of ``secret``, ``response``, ``remoteip``, answered
    ``{"success": true|false}``)."""

    def __init__(self, url: str, secret: str, http: httpx.AsyncClient) -> None:
        self.url, self.secret, self.http = url, secret, http

    async def check(self, answer: str, ip: str) -> bool:
        if not answer:
            return False
        form = {"secret": self.secret, "response": answer, "remoteip": ip}
        body = await answer_of(self.http.post(self.url, data=form), "captcha service")
        return body.get("success") is True


class Identity:
    """Phone codes: ask (``start``) and prove (``verify``); other sign-ins end in ``claim``."""

    def __init__(
        self,
        store: IdentityStore,
        key: bytes,
        sms: SmsProvider,
        captcha: Captcha | None = None,
        clock: Callable[[], int] = wall_ms,
        policy: SendPolicy | None = None,
    ) -> None:
        self.policy = policy or SendPolicy()
        self.store = store
        self.key = key
        self.sms = sms
        self.captcha = captcha
        self.clock = clock

    def claim(self, kind: Tier, subject: str, label: str) -> Claim:
        """The claim for ``subject`` of ``kind`` (a WeChat openid, an OIDC ``iss|sub``):
        only its keyed hash and ``label`` are kept."""
        return Claim(kind, identity_hash(self.key, kind, subject), label, self.clock())

    async def start(self, raw: bytes | dict[str, Any], ip: str, device: str) -> dict[str, Any]:
        """Send a new code to the number in ``raw`` unless the policy refuses: a country not
        served (400 ``country_not_served``), a limit (429 ``send_limited``: the number's, the
        address's, the subnet's, the device's, or the server's budget, whose breaker then stays
        open for the hour), or, without a solved captcha, an address or a /24 or /64 past its
        share, or anyone once half the hour's budget is spent (403)."""
        body = parse_model(PhoneStartIn, raw)
        phone = normalize_phone(body.phone)
        if not country_allowed(phone, self.policy.countries):
            metrics.SMS_REFUSED.labels("country").inc()
            raise CountryNotServed(
                "codes are sent to numbers of "
                + ", ".join(f"+{c}" for c in self.policy.countries)
                + " only"
            )
        number = identity_hash(self.key, "phone", phone)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        now = self.clock()
        args = (
            number,
            identity_hash(self.key, "address", ip)[:32],
            identity_hash(self.key, "subnet", subnet_of(ip))[:32],
            identity_hash(self.key, "device", device)[:32],
            code_digest(self.key, number, code),
            now,
            self.policy,
        )
        # No captcha configured: nothing to ask for. Else the captcha service is asked only
        # when the script says one is needed (never before the limits: every request naming
        # a "captcha" would otherwise cost an outside call).
        status, reason, retry_ms = await self.store.send(*args, solved=self.captcha is None)
        if status == "captcha" and self.captcha is not None and body.captcha:
            if await self.captcha.check(body.captcha, ip):
                status, reason, retry_ms = await self.store.send(*args, solved=True)
        if status == "captcha":
            metrics.SMS_REFUSED.labels("captcha").inc()
            raise CaptchaRequired("solve the captcha first (captcha: its answer)")
        if status != "sent":
            metrics.SMS_REFUSED.labels(reason).inc()
            if reason == "budget":
                metrics.SMS_BREAKER.set(1)
                log.error("phone codes: the hourly budget is spent; sending stopped (breaker)")
            seconds = max(1, -(-retry_ms // 1000))
            raise SendLimited(
                f"too many codes asked for ({reason}); try again in {seconds} s", reason, seconds
            )
        metrics.SMS_BREAKER.set(0)
        await self.sms.send(phone, code)
        log.info("phone code sent to %s by %s", mask_phone(phone), self.sms.name)
        return {
            "status": "sent",
            "phone": mask_phone(phone),
            "expires_in": CODE_TTL_MS // 1000,
            "resend_in": NUMBER_LIMITS[0].seconds,
        }

    async def verify(self, raw: bytes | dict[str, Any]) -> Claim:
        """The phone claim, if the code is the live one for the number."""
        body = parse_model(PhoneVerifyIn, raw)
        phone = normalize_phone(body.phone)
        code = check_code_shape(body.code)
        number = identity_hash(self.key, "phone", phone)
        status, left = await self.store.check(
            number, code_digest(self.key, number, code), self.clock()
        )
        if status == "expired":
            raise CodeExpired("no live code for this number: ask for a new one")
        if status == "wrong":
            more = f"{left} attempt(s) left" if left else "no attempts left: ask for a new code"
            raise CodeInvalid(f"wrong code: {more}", left)
        return Claim("phone", number, mask_phone(phone), self.clock())
