"""SMS providers for phone codes: ``console`` (development), Alibaba Cloud and Tencent Cloud.

Both clouds' request signing is hand-written here, from their published specifications,
rather than taken from their SDKs: each SDK pulls in a large dependency tree (and a synchronous
HTTP stack) for one signed request. The two signatures are small and are checked by tests that
recompute them independently from the request that went out.

Every provider gets an :class:`httpx.AsyncClient` from its owner (tests give one on a mock
transport) and raises :class:`~live.domain.errors.ProviderFailed` for any failure: the phone is
then answered 502 and may ask again (the send still counts against the limits, on purpose: a
failing provider must not become an unlimited retry loop).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Protocol

import httpx

from live.domain.errors import ConfigError, ProviderFailed
from live.domain.identity import CODE_TTL_MS, mask_phone, national
from live.services.outside import answer_of
from live.settings import Sms

log = logging.getLogger("live.sms")


class SmsProvider(Protocol):
    name: str

    async def send(self, phone: str, code: str) -> None:
        """Send ``code`` to ``phone`` (E.164); :class:`ProviderFailed` if it was not taken."""


class ConsoleSms:
    """Development: the code is written to the log (with the number masked), nothing is sent."""

    name = "console"

    async def send(self, phone: str, code: str) -> None:
        log.warning("phone code for %s: %s (LIVE_SMS_PROVIDER=console)", mask_phone(phone), code)


def _rfc3986(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


class AliyunSms:
    """Alibaba Cloud SMS ``SendSms`` (API version 2017-05-25): an RPC-style GET to
    ``dysmsapi.aliyuncs.com`` signed with HMAC-SHA1 (signature version 1.0: the sorted,
    RFC 3986-encoded parameters, ``GET&%2F&`` + that query encoded once more, keyed with the
    AccessKey secret + ``&``). The template must take one parameter, ``code``."""

    name = "aliyun"
    endpoint = "https://dysmsapi.aliyuncs.com/"

    def __init__(self, config: Sms, http: httpx.AsyncClient) -> None:
        if not (config.key_id and config.key_secret and config.sign_name and config.template):
            raise ConfigError(
                "LIVE_SMS_PROVIDER=aliyun needs LIVE_SMS_KEY_ID, LIVE_SMS_KEY_SECRET, "
                "LIVE_SMS_SIGN_NAME and LIVE_SMS_TEMPLATE"
            )
        self.config = config
        self.http = http

    def params(self, phone: str, code: str, now: float, nonce: str) -> dict[str, str]:
        """The signed query of one SendSms request."""
        c = self.config
        params = {
            "AccessKeyId": c.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": national(phone),
            "RegionId": c.region or "cn-hangzhou",
            "SignName": c.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "TemplateCode": c.template,
            "TemplateParam": json.dumps({"code": code}, separators=(",", ":")),
            "Timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&" + _rfc3986("/") + "&" + _rfc3986(query)
        key = (c.key_secret + "&").encode()
        digest = hmac.new(key, to_sign.encode(), hashlib.sha1).digest()
        params["Signature"] = base64.b64encode(digest).decode()
        return params

    async def send(self, phone: str, code: str) -> None:
        params = self.params(phone, code, time.time(), secrets.token_hex(16))
        body = await answer_of(self.http.get(self.endpoint, params=params), "SMS provider")
        if body.get("Code") != "OK":
            raise ProviderFailed(
                f"aliyun SendSms refused: {body.get('Code')}: {body.get('Message')}"
            )


class TencentSms:
    """Tencent Cloud SMS ``SendSms`` (API version 2021-01-11): a JSON POST to
    ``sms.tencentcloudapi.com`` signed with TC3-HMAC-SHA256 (signature v3: a canonical request
    over ``content-type`` and ``host``, a string to sign scoped to ``<date>/sms/tc3_request``,
    a key derived from ``TC3`` + SecretKey through the date, the service and
    ``tc3_request``). The template's parameters are the code and its lifetime in minutes."""

    name = "tencent"
    host = "sms.tencentcloudapi.com"
    content_type = "application/json; charset=utf-8"

    def __init__(self, config: Sms, http: httpx.AsyncClient) -> None:
        if not (
            config.key_id
            and config.key_secret
            and config.sign_name
            and config.template
            and config.app_id
        ):
            raise ConfigError(
                "LIVE_SMS_PROVIDER=tencent needs LIVE_SMS_KEY_ID, LIVE_SMS_KEY_SECRET, "
                "LIVE_SMS_SIGN_NAME, LIVE_SMS_TEMPLATE and LIVE_SMS_APP_ID"
            )
        self.config = config
        self.http = http

    def request(self, phone: str, code: str, now: int) -> tuple[dict[str, str], bytes]:
        """The headers and body of one signed SendSms request at ``now`` (Unix seconds)."""
        c = self.config
        payload = json.dumps(
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": c.app_id,
                "SignName": c.sign_name,
                "TemplateId": c.template,
                "TemplateParamSet": [code, str(CODE_TTL_MS // 60_000)],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        date = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                f"content-type:{self.content_type}\nhost:{self.host}\n",
                "content-type;host",
                hashlib.sha256(payload).hexdigest(),
            ]
        )
        scope = f"{date}/sms/tc3_request"
        to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(now),
                scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = _hmac(("TC3" + c.key_secret).encode(), date)
        key = _hmac(key, "sms")
        key = _hmac(key, "tc3_request")
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "Authorization": (
                f"TC3-HMAC-SHA256 Credential={c.key_id}/{scope}, "
                f"SignedHeaders=content-type;host, Signature={signature}"
            ),
            "Content-Type": self.content_type,
            "Host": self.host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(now),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": c.region or "ap-guangzhou",
        }
        return headers, payload

    async def send(self, phone: str, code: str) -> None:
        headers, payload = self.request(phone, code, int(time.time()))
        sent = self.http.post(f"https://{self.host}/", headers=headers, content=payload)
        body = await answer_of(sent, "SMS provider")
        answer = body.get("Response", {})
        if "Error" in answer:
            err = answer["Error"]
            raise ProviderFailed(
                f"tencent SendSms refused: {err.get('Code')}: {err.get('Message')}"
            )
        statuses = answer.get("SendStatusSet") or [{}]
        if statuses[0].get("Code") != "Ok":
            raise ProviderFailed(
                f"tencent SendSms refused: {statuses[0].get('Code')}: {statuses[0].get('Message')}"
            )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def provider(config: Sms, http: httpx.AsyncClient) -> SmsProvider:
    """The provider ``LIVE_SMS_PROVIDER`` names (:class:`ConfigError` if its keys are unset)."""
    if config.provider == "aliyun":
        return AliyunSms(config, http)
    if config.provider == "tencent":
        return TencentSms(config, http)
    return ConsoleSms()
