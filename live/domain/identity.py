"""Identity tiers: who a vote counts for when a device cookie is not enough.

A category's ``identity`` names the tier its votes need: ``device`` (the signed cookie, as for
likes), ``phone`` (an SMS code), ``wechat`` (WeChat web authorisation, ``snsapi_base``) or
``oidc`` (the organiser's own login). Above ``device`` a vote carries a verified identity, and
the category's caps hold per identity across devices as well as per device.

Personal data (PIPL): an identity is kept only as its HMAC-SHA-256 under ``LIVE_IDENTITY_KEY``
(:func:`identity_hash`; a plain hash of a phone number is brute-forced in minutes: there are
only ~10^10 of them), shown masked (:func:`mask_phone`). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from live.domain.errors import BadRequest

Tier = Literal["device", "phone", "wechat", "oidc"]
TIERS: tuple[Tier, ...] = ("device", "phone", "wechat", "oidc")

CODE_DIGITS = 6
CODE_TTL_MS = 5 * 60_000
CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class SendLimit:
    """At most ``count`` codes sent in any ``seconds``; ``reason`` names it in a refusal."""

    count: int
    seconds: int
    reason: str


NUMBER_LIMITS = (
    SendLimit(1, 60, "number_minute"),
    SendLimit(5, 3600, "number_hour"),
    SendLimit(10, 86_400, "number_day"),
)
"""Codes sent to one number (what an SMS bill and the number's owner suffer)."""
ADDRESS_SENDS = 30
"""Codes asked for from one client address in an hour, by default (``LIVE_SMS_PER_ADDRESS``:
a venue's Wi-Fi or a carrier's NAT puts many phones behind one address)."""
SUBNET_SENDS = 60
"""Codes asked for from one /24 (IPv4) or /64 (IPv6) in an hour, by default
(``LIVE_SMS_PER_SUBNET``): an IPv6 client holds 2^64 addresses, a fresh device cookie costs
nothing, so neither limit alone stops a pump."""
DEVICE_SENDS = 5
"""Codes asked for from one device cookie in an hour, by default (``LIVE_SMS_PER_DEVICE``: a
script cycling numbers)."""
HOURLY_BUDGET = 1000
"""Codes the whole server sends in an hour, by default (``LIVE_SMS_HOURLY_BUDGET``): past it
the breaker opens and nothing is sent for an hour (an alert: ``live_sms_breaker_open``)."""
CAPTCHA_AFTER = 3
"""Codes one address may ask for in an hour before it must solve the captcha, when one is
configured (``LIVE_SMS_CAPTCHA_AFTER``)."""
COUNTRIES = ("86",)
"""Country calling codes codes are sent to, by default (``LIVE_SMS_COUNTRIES``): premium
international ranges (``+882``, ``+883``, ...) are the pump's profit."""


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """Every rule a phone code's sending obeys (checked in one step by ``code_send.lua``)."""

    number: tuple[SendLimit, ...] = NUMBER_LIMITS
    address: SendLimit = SendLimit(ADDRESS_SENDS, 3600, "address")
    subnet: SendLimit = SendLimit(SUBNET_SENDS, 3600, "subnet")
    device: SendLimit = SendLimit(DEVICE_SENDS, 3600, "device")
    budget: SendLimit = SendLimit(HOURLY_BUDGET, 3600, "budget")
    captcha_after: int = CAPTCHA_AFTER
    countries: tuple[str, ...] = COUNTRIES


def send_policy(
    per_address: int = ADDRESS_SENDS,
    per_device: int = DEVICE_SENDS,
    per_subnet: int = SUBNET_SENDS,
    hourly_budget: int = HOURLY_BUDGET,
    captcha_after: int = CAPTCHA_AFTER,
    countries: tuple[str, ...] = COUNTRIES,
) -> SendPolicy:
    """The policy with these settings (an hour's window each)."""
    return SendPolicy(
        NUMBER_LIMITS,
        SendLimit(per_address, 3600, "address"),
        SendLimit(per_subnet, 3600, "subnet"),
        SendLimit(per_device, 3600, "device"),
        SendLimit(hourly_budget, 3600, "budget"),
        captcha_after,
        countries,
    )


def country_allowed(e164: str, countries: tuple[str, ...]) -> bool:
    """Whether an E.164 number's calling code is one of ``countries`` (``("86", "852")``)."""
    return any(e164.startswith("+" + c) for c in countries)


class PhoneStartIn(BaseModel):
    """The body of ``POST /api/identity/phone/start``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    phone: Annotated[str, Field(min_length=1, max_length=32)]
    captcha: Annotated[str, Field(max_length=2048)] = ""
    """The captcha's answer (a token from the captcha widget) when the server asks for one."""


class PhoneVerifyIn(BaseModel):
    """The body of ``POST /api/identity/phone/verify``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    phone: Annotated[str, Field(min_length=1, max_length=32)]
    code: Annotated[str, Field(min_length=1, max_length=12)]


_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def normalize_phone(raw: str, default_country: str = "86") -> str:
    """The number in E.164 (``+8613812341234``). Without a ``+`` (or ``00``) it is a number of
    ``default_country``; a mainland number must be a mobile (11 digits from ``13``-``19``),
    since a code goes by SMS. :class:`BadRequest` for anything else."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        text = "+" + default_country + text.lstrip("0")
    if not _E164.match(text):
        raise BadRequest("phone: not a phone number (e.g. 13812341234 or +8613812341234)")
    if text.startswith("+86") and not _CN_MOBILE.match(text[3:]):
        raise BadRequest("phone: a mainland number must be a mobile number (11 digits, 1...)")
    return text


def national(e164: str) -> str:
    """The number without its country code for +86, else its digits (what an SMS API wants)."""
    return e164[3:] if e164.startswith("+86") else e164[1:]


def mask_phone(e164: str) -> str:
    """The number as shown back: the first three and last four digits (``138****1234``)."""
    digits = national(e164)
    if len(digits) <= 7:
        return digits[:2] + "*" * (len(digits) - 2)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def identity_hash(key: bytes, kind: str, value: str) -> str:
    """The stored form of an identity: HMAC-SHA-256 of ``kind:value`` under the identity key,
    hex. Without the key it cannot be reversed or brute-forced; the same person gets the same
    hash on every device (that is what makes caps hold across devices)."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def code_digest(key: bytes, number_hash: str, code: str) -> str:
    """How a sent code is kept: bound to its number, keyed (no plain code in Redis)."""
    return hmac.new(key, f"code:{number_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def check_code_shape(code: str) -> str:
    """The code as typed (spaces dropped); :class:`BadRequest` unless it is 6 digits."""
    code = code.replace(" ", "")
    if len(code) != CODE_DIGITS or not code.isascii() or not code.isdigit():
        raise BadRequest(f"code: {CODE_DIGITS} digits")
    return code


@dataclass(frozen=True, slots=True)
class Claim:
    """A verified identity a device holds: its kind, its hash, how it is shown and when it was
    verified (ms)."""

    kind: Tier
    hash: str
    label: str
    at: int


def claim_for(claims: tuple[Claim, ...], tier: Tier, now_ms: int, max_age_ms: int) -> Claim | None:
    """The claim of kind ``tier`` that is still valid (verified less than ``max_age_ms`` ago:
    an identity lasts as long as the show keeps personal data), or ``None``."""
    for claim in claims:
        if claim.kind == tier and now_ms - claim.at < max_age_ms:
            return claim
    return None
