"""SMS provider adapters: each request is what the real service expects, checked by a mock
transport that recomputes the signature the way the provider's documentation describes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import UTC, datetime

import httpx
import pytest

from live.domain.errors import ConfigError, ProviderFailed
from live.services.sms import AliyunSms, ConsoleSms, TencentSms, provider
from live.settings import Settings, Sms

ALIYUN = Sms("aliyun", "LTAI-test-id", "aliyun-test-secret", "阿里云短信测试", "SMS_154950909")
TENCENT = Sms(
    "tencent", "AKID-test-id", "tencent-test-secret", "腾讯云", "1110", app_id="1400006666"
)


def aliyun_encode(value: str) -> str:
    """Alibaba Cloud's recipe: URL-encode as UTF-8, then '+' -> %20, '*' -> %2A, %7E -> '~'."""
    return (
        urllib.parse.quote_plus(value, encoding="utf-8")
        .replace("+", "%20")
        .replace("*", "%2A")
        .replace("%7E", "~")
    )


def aliyun_signature(params: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{aliyun_encode(k)}={aliyun_encode(params[k])}" for k in sorted(params) if k != "Signature"
    )
    to_sign = "GET&%2F&" + aliyun_encode(canonical)
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def test_aliyun_sends_a_signed_sendsms_request() -> None:
    seen: list[httpx.Request] = []

    def dysmsapi(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        params = dict(request.url.params)
        if params.get("Signature") != aliyun_signature(params, "aliyun-test-secret"):
            return httpx.Response(200, json={"Code": "SignatureDoesNotMatch", "Message": "x"})
        return httpx.Response(200, json={"Code": "OK", "Message": "OK", "BizId": "9"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(dysmsapi)) as http:
        await AliyunSms(ALIYUN, http).send("+8613812341234", "024816")
    request = seen[0]
    params = dict(request.url.params)
    assert request.method == "GET"
    assert request.url.host == "dysmsapi.aliyuncs.com" and request.url.path == "/"
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["PhoneNumbers"] == "13812341234"  # mainland: without +86
    assert params["SignName"] == "阿里云短信测试" and params["TemplateCode"] == "SMS_154950909"
    assert json.loads(params["TemplateParam"]) == {"code": "024816"}
    assert params["AccessKeyId"] == "LTAI-test-id"
    assert params["SignatureMethod"] == "HMAC-SHA1" and params["SignatureVersion"] == "1.0"
    assert params["Format"] == "JSON" and params["RegionId"] == "cn-hangzhou"
    stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert len(params["SignatureNonce"]) >= 16


async def test_aliyun_refusals_are_provider_failures() -> None:
    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "limit"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refusing)) as http:
        with pytest.raises(ProviderFailed, match="BUSINESS_LIMIT_CONTROL"):
            await AliyunSms(ALIYUN, http).send("+8613812341234", "024816")


def tc3_authorization(request: httpx.Request, secret_id: str, secret_key: str) -> str:
    """Tencent Cloud's signature v3, step by step as its documentation lists them."""
    timestamp = int(request.headers["X-TC-Timestamp"])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    hashed_payload = hashlib.sha256(request.content).hexdigest()
    canonical_headers = (
        f"content-type:{request.headers['content-type'].lower()}\n"
        f"host:{request.headers['host'].lower()}\n"
    )
    canonical_request = f"POST\n/\n\n{canonical_headers}\ncontent-type;host\n{hashed_payload}"
    scope = f"{date}/sms/tc3_request"
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n"
        + hashlib.sha256(canonical_request.encode()).hexdigest()
    )

    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    secret_signing = sign(sign(sign(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


async def test_tencent_sends_a_tc3_signed_sendsms_request() -> None:
    seen: list[httpx.Request] = []

    def sms_api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        expected = tc3_authorization(request, "AKID-test-id", "tencent-test-secret")
        if request.headers["authorization"] != expected:
            error = {"Code": "AuthFailure.SignatureFailure", "Message": "bad signature"}
            return httpx.Response(200, json={"Response": {"Error": error, "RequestId": "r"}})
        status = {"Code": "Ok", "Message": "send success", "PhoneNumber": "+8613812341234"}
        return httpx.Response(200, json={"Response": {"SendStatusSet": [status], "RequestId": "r"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(sms_api)) as http:
        await TencentSms(TENCENT, http).send("+8613812341234", "024816")
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "https://sms.tencentcloudapi.com/"
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = json.loads(request.content)
    assert body == {
        "PhoneNumberSet": ["+8613812341234"],  # E.164, with the country code
        "SmsSdkAppId": "1400006666",
        "SignName": "腾讯云",
        "TemplateId": "1110",
        "TemplateParamSet": ["024816", "5"],
    }


async def test_tencent_errors_and_failed_sends_are_provider_failures() -> None:
    answers = [
        {"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "x"}}},
        {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit"}]}},
    ]

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0))

    async with httpx.AsyncClient(transport=httpx.MockTransport(api)) as http:
        adapter = TencentSms(TENCENT, http)
        with pytest.raises(ProviderFailed, match="SecretIdNotFound"):
            await adapter.send("+8613812341234", "1")
        with pytest.raises(ProviderFailed, match="PhoneNumberDailyLimit"):
            await adapter.send("+8613812341234", "1")


async def test_an_unreachable_provider_is_a_provider_failure() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        with pytest.raises(ProviderFailed):
            await AliyunSms(ALIYUN, http).send("+8613812341234", "1")


async def test_the_provider_comes_from_the_settings_and_needs_its_keys() -> None:
    env = {"LIVE_SMS_PROVIDER": "tencent", "LIVE_SMS_KEY_ID": "id", "LIVE_SMS_KEY_SECRET": "k",
           "LIVE_SMS_SIGN_NAME": "s", "LIVE_SMS_TEMPLATE": "1",
           "LIVE_SMS_APP_ID": "14"}  # fmt: skip
    async with httpx.AsyncClient() as http:
        assert isinstance(provider(Settings.from_env(env).sms, http), TencentSms)
        assert isinstance(provider(Settings.from_env({}).sms, http), ConsoleSms)
        with pytest.raises(ConfigError, match="LIVE_SMS_KEY_ID"):
            provider(Settings.from_env({"LIVE_SMS_PROVIDER": "aliyun"}).sms, http)
    with pytest.raises(ConfigError):
        Settings.from_env({"LIVE_SMS_PROVIDER": "carrier-pigeon"})
    venue = Settings.from_env({"LIVE_SMS_PER_ADDRESS": "400", "LIVE_SMS_PER_DEVICE": "3"}).sms
    assert (venue.per_address, venue.per_device) == (400, 3)
    with pytest.raises(ConfigError, match="LIVE_SMS_PER_ADDRESS"):
        Settings.from_env({"LIVE_SMS_PER_ADDRESS": "0"})
