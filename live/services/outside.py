"""Calls to services outside the product (SMS gateways, captcha, WeChat, OIDC providers)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx

from live.domain.errors import ProviderFailed


async def answer_of(request: Awaitable[httpx.Response], who: str) -> dict[str, Any]:
    """The JSON object a provider answered; :class:`ProviderFailed` (502) when it did not
    answer, or answered something else (its HTTP status is left to the caller: the providers
    put their refusals in the body)."""
    try:
        response = await request
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderFailed(f"the {who} did not answer ({type(exc).__name__})") from None
    if not isinstance(body, dict):
        raise ProviderFailed(f"the {who}'s answer is not a JSON object")
    return body
