"""Identity tiers: phone codes, WeChat and OIDC sign-in, caps per person, and personal data.

A real server and Redis; the SMS gateway, WeChat and the OIDC provider are local fakes
(tests/fake_identity.py), reached through the server's own provider code.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from live.domain.errors import BadRequest
from live.domain.identity import identity_hash, mask_phone, normalize_phone
from live.redis.personal import Personal
from tests.conftest import make_settings, partitioned
from tests.fake_identity import Clock, FakeOidc, FakeWeChat, SmsRecorder
from tests.helpers import (
    DATA,
    LiveServer,
    all_entries,
    assert_recount,
    serve,
    staff_client,
    staff_login,
)

SHOW = DATA / "identity.toml"
PHONE = "13812341234"
E164 = "+8613812341234"
ISSUER = "https://idp.test"


@pytest.fixture
async def live(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = replace(
        make_settings(redis_url, prefix, tmp_path, SHOW),
        identity_key="test-identity-key",
        wechat_app_id="wxapp",
        wechat_secret="wxsecret",
        oidc_issuer=ISSUER,
        oidc_client_id="live",
        oidc_client_secret="oidc-secret",
    )
    async with serve(settings) as server:
        server.rt.identity.sms = SmsRecorder()
        yield server


def sms(live: LiveServer) -> SmsRecorder:
    recorder = live.rt.identity.sms
    assert isinstance(recorder, SmsRecorder)
    return recorder


def vote(category: str, contestant: str = "p1") -> dict[str, str]:
    return {"category": category, "contestant": contestant, "vote_id": uuid.uuid4().hex}


async def verify_phone(live: LiveServer, http: httpx.AsyncClient, phone: str = PHONE) -> None:
    sent = await http.post("/api/identity/phone/start", json={"phone": phone})
    assert sent.status_code == 200, sent.text
    code = sms(live).last(normalize_phone(phone))
    done = await http.post("/api/identity/phone/verify", json={"phone": phone, "code": code})
    assert done.status_code == 200, done.text
    label = mask_phone(normalize_phone(phone))
    assert done.json() == {"status": "verified", "identity": "phone", "label": label}


# -- pure rules ---------------------------------------------------------------------------------


def test_numbers_are_normalised_to_e164_with_86_by_default() -> None:
    assert normalize_phone("138 1234 1234") == E164
    assert normalize_phone("+86 138-1234-1234") == E164
    assert normalize_phone("0086 13812341234") == E164
    assert normalize_phone("+44 7700 900123") == "+447700900123"
    for bad in ("12345", "1381234123", "+86 010 1234 5678", "abc", "+0123456789"):
        with pytest.raises(BadRequest):
            normalize_phone(bad)


def test_a_number_is_shown_masked() -> None:
    assert mask_phone(E164) == "138****1234"
    assert mask_phone("+447700900123") == "447*****0123"


def test_the_stored_form_needs_the_key() -> None:
    one = identity_hash(b"key-one", "phone", E164)
    assert one == identity_hash(b"key-one", "phone", E164)
    assert one != identity_hash(b"key-two", "phone", E164)
    assert PHONE not in one and len(one) == 64


# -- tiers on the vote path ---------------------------------------------------------------------


async def test_a_vote_without_the_identity_is_refused_naming_it(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        refused = await http.post("/api/shows/idt/votes", json=vote("people"))
        light = await http.post("/api/shows/idt/votes", json=vote("light"))
        like = await http.post("/api/shows/idt/likes", json={"n": 3})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "identity_required"
    assert refused.json()["error"]["identity"] == "phone"
    assert light.status_code == 200 and light.json()["status"] == "accepted"
    assert like.status_code == 202  # likes stay anonymous


async def test_a_socket_vote_without_the_identity_gets_the_error_naming_it(
    live: LiveServer,
) -> None:
    import json

    async with live.connect("idt", live.cookie()) as ws:
        await ws.send(json.dumps({"type": "vote", **vote("wx")}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "error":
                break
    assert msg["code"] == "identity_required" and msg["identity"] == "wechat"


async def test_one_person_with_two_devices_cannot_exceed_the_cap(live: LiveServer) -> None:
    async with live.client(live.cookie()) as one, live.client(live.cookie()) as two:
        await verify_phone(live, one)
        first = [await one.post("/api/shows/idt/votes", json=vote("people")) for _ in range(2)]
        assert [r.json()["status"] for r in first] == ["accepted", "accepted"]
        live.rt.identity.clock = Clock()  # past the per-number minute: the second phone asks
        live.rt.identity.clock.advance(61)
        await verify_phone(live, two)
        again = await two.post("/api/shows/idt/votes", json=vote("people"))
        me = await two.get("/api/shows/idt/me")
        other = await two.post("/api/shows/idt/votes", json=vote("light"))
    assert again.status_code == 409 and again.json()["reason"] == "cap_reached"
    people = me.json()["categories"]["people"]
    assert people == {"cap": 2, "used": 2, "left": 0, "identity": "phone", "verified": True}
    assert other.json()["status"] == "accepted"  # the device tier still counts per device


async def test_the_device_cap_still_holds_with_two_numbers(live: LiveServer) -> None:
    clock = live.rt.identity.clock = Clock()
    async with live.client(live.cookie()) as http:
        await verify_phone(live, http, "13800000001")
        votes = [await http.post("/api/shows/idt/votes", json=vote("people")) for _ in range(2)]
        clock.advance(1)
        await verify_phone(live, http, "13800000002")  # another person's number, same phone
        third = await http.post("/api/shows/idt/votes", json=vote("people"))
    assert all(v.json()["status"] == "accepted" for v in votes)
    assert third.status_code == 409 and third.json()["reason"] == "cap_reached"


async def test_an_identity_older_than_the_retention_must_be_verified_again(
    live: LiveServer,
) -> None:
    clock = live.rt.identity.clock = Clock()
    clock.advance(-31 * 86_400)  # verified 31 days ago; the show keeps personal data 30
    async with live.client(live.cookie()) as http:
        await verify_phone(live, http)
        old = await http.post("/api/shows/idt/votes", json=vote("people"))
    assert old.status_code == 401 and old.json()["error"]["code"] == "identity_required"


async def test_an_identity_cookie_of_another_device_counts_for_nothing(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        await verify_phone(live, http)
        stolen = http.cookies.get("live_identity")
    async with live.client(live.cookie()) as other:
        other.cookies.set("live_identity", stolen or "")
        refused = await other.post("/api/shows/idt/votes", json=vote("people"))
    assert refused.status_code == 401


# -- phone codes: expiry, attempts, send limits -------------------------------------------------


async def test_a_code_expires_after_five_minutes(live: LiveServer) -> None:
    clock = live.rt.identity.clock = Clock()
    async with live.client(live.cookie()) as http:
        await http.post("/api/identity/phone/start", json={"phone": PHONE})
        code = sms(live).last(E164)
        clock.advance(5 * 60 + 1)
        late = await http.post("/api/identity/phone/verify", json={"phone": PHONE, "code": code})
    assert late.status_code == 410 and late.json()["error"]["code"] == "code_expired"


async def test_a_code_allows_five_attempts(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        await http.post("/api/identity/phone/start", json={"phone": PHONE})
        code = sms(live).last(E164)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = [
            await http.post("/api/identity/phone/verify", json={"phone": PHONE, "code": wrong})
            for _ in range(5)
        ]
        right = await http.post("/api/identity/phone/verify", json={"phone": PHONE, "code": code})
    assert [a.status_code for a in answers] == [400] * 5
    assert [a.json()["error"]["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert right.status_code == 410  # the code is gone after the fifth wrong try


async def test_a_code_is_good_once(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        await http.post("/api/identity/phone/start", json={"phone": PHONE})
        code = sms(live).last(E164)
        body = {"phone": PHONE, "code": code}
        first = await http.post("/api/identity/phone/verify", json=body)
        second = await http.post("/api/identity/phone/verify", json=body)
    assert first.status_code == 200 and second.status_code == 410


async def test_sends_per_number_are_limited_per_minute_hour_and_day(live: LiveServer) -> None:
    clock = live.rt.identity.clock = Clock()
    reasons: list[str] = []

    async def ask() -> httpx.Response:
        # A fresh device each time: only the number's own limits apply.
        async with live.client(live.cookie()) as http:
            reply = await http.post("/api/identity/phone/start", json={"phone": PHONE})
        if reply.status_code == 429:
            reasons.append(reply.json()["error"]["reason"])
            assert int(reply.headers["Retry-After"]) >= 1
        return reply

    assert (await ask()).status_code == 200
    assert (await ask()).status_code == 429  # within the minute
    sent = 1
    for _ in range(12):  # one a minute: the hour allows 5
        clock.advance(61)
        sent += (await ask()).status_code == 200
    assert sent == 5
    for _ in range(30):  # one an hour after that: the day allows 10
        clock.advance(3601)
        sent += (await ask()).status_code == 200
        if sent == 10:
            break
    clock.advance(3601)
    assert (await ask()).status_code == 429
    assert reasons[0] == "number_minute" and "number_hour" in reasons
    assert reasons[-1] == "number_day"
    clock.advance(86_400)
    assert (await ask()).status_code == 200
    assert len(sms(live).sent) == 11


async def test_sends_per_device_are_limited(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        replies = [
            await http.post("/api/identity/phone/start", json={"phone": f"1380000000{i}"})
            for i in range(6)
        ]
    assert [r.status_code for r in replies] == [200] * 5 + [429]
    assert replies[-1].json()["error"]["reason"] == "device"


async def test_sends_per_address_are_limited(live: LiveServer) -> None:
    codes = []
    for i in range(31):
        async with live.client(live.cookie()) as http:
            reply = await http.post(
                "/api/identity/phone/start", json={"phone": f"139000000{i:02d}"}
            )
        codes.append(reply.status_code)
    assert codes == [200] * 30 + [429]  # LIVE_SMS_PER_ADDRESS: 30 an hour by default


async def test_bad_phone_input_is_a_clear_400(live: LiveServer) -> None:
    async with live.client(live.cookie()) as http:
        bad = await http.post("/api/identity/phone/start", json={"phone": "12"})
        extra = await http.post("/api/identity/phone/start", json={"phone": PHONE, "x": 1})
        code = await http.post("/api/identity/phone/verify", json={"phone": PHONE, "code": "12"})
    async with live.client() as anonymous:
        no_device = await anonymous.post("/api/identity/phone/start", json={"phone": PHONE})
    for reply in (bad, extra, code):
        assert reply.status_code == 400 and reply.json()["error"]["code"] == "bad_request"
    assert no_device.status_code == 401


async def test_a_failing_gateway_is_a_502(live: LiveServer) -> None:
    sms(live).fail = True
    async with live.client(live.cookie()) as http:
        reply = await http.post("/api/identity/phone/start", json={"phone": PHONE})
    assert reply.status_code == 502 and reply.json()["error"]["code"] == "provider_failed"


async def test_the_captcha_hook_is_asked_before_sending(live: LiveServer) -> None:
    from live.services.identity import SiteVerify

    answers: list[dict[str, str]] = []

    def siteverify(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        answers.append(form)
        return httpx.Response(200, json={"success": form.get("response") == "solved"})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(siteverify))
    live.rt.identity.captcha = SiteVerify("https://captcha.test/siteverify", "cs", http_client)
    live.rt.identity.policy = replace(live.rt.identity.policy, captcha_after=0)  # from the first
    async with live.client(live.cookie()) as http:
        unsolved = await http.post("/api/identity/phone/start", json={"phone": PHONE})
        solved = await http.post(
            "/api/identity/phone/start", json={"phone": PHONE, "captcha": "solved"}
        )
    await http_client.aclose()
    assert unsolved.status_code == 403 and unsolved.json()["error"]["code"] == "captcha_required"
    assert solved.status_code == 200
    assert answers[-1]["secret"] == "cs" and answers[-1]["remoteip"] == "127.0.0.1"
    assert len(sms(live).sent) == 1


# -- WeChat and OIDC against local fakes --------------------------------------------------------


async def callback(http: httpx.AsyncClient, kind: str, code: str, state: str) -> httpx.Response:
    """The provider's redirect back to the server, as the browser follows it."""
    return await http.get(f"/api/identity/{kind}/callback", params={"code": code, "state": state})


async def test_wechat_sign_in_binds_the_openid_and_refuses_replays(live: LiveServer) -> None:
    fake = FakeWeChat("wxapp", "wxsecret")
    live.rt.wechat.http = fake.client()
    async with live.client(live.cookie()) as http:
        start = await http.get("/api/identity/wechat/start", params={"next": "/s/idt"})
        assert start.status_code == 302
        where = httpx.URL(start.headers["location"])
        assert str(where).startswith("https://open.weixin.qq.com/connect/oauth2/authorize?")
        assert where.fragment == "wechat_redirect"
        assert where.params["scope"] == "snsapi_base" and where.params["appid"] == "wxapp"
        assert where.params["redirect_uri"] == live.url + "/api/identity/wechat/callback"
        state = where.params["state"]
        code = fake.authorize("openid-alice")
        forged = await http.get(
            "/api/identity/wechat/callback", params={"code": code, "state": "x"}
        )
        back = await http.get(
            "/api/identity/wechat/callback", params={"code": code, "state": state}
        )
        accepted = await http.post("/api/shows/idt/votes", json=vote("wx"))
        replay = await http.get(
            "/api/identity/wechat/callback", params={"code": code, "state": state}
        )
        me = await http.get("/api/identity")
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "sign_in_failed"
    assert back.status_code == 303 and back.headers["location"] == "/s/idt"
    assert accepted.json()["status"] == "accepted"
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "sign_in_failed"
    assert fake.exchanged == ["openid-alice"]  # the replay never reached WeChat
    assert [i["kind"] for i in me.json()["identities"]] == ["wechat"]


async def test_wechat_sign_in_needs_the_sign_in_this_device_started(live: LiveServer) -> None:
    fake = FakeWeChat("wxapp", "wxsecret")
    live.rt.wechat.http = fake.client()
    async with live.client(live.cookie()) as http:
        start = await http.get("/api/identity/wechat/start", params={"next": "/s/idt"})
        state = httpx.URL(start.headers["location"]).params["state"]
    async with live.client(live.cookie()) as other:  # no sign-in cookie of its own
        stolen = await other.get(
            "/api/identity/wechat/callback", params={"code": fake.authorize("x"), "state": state}
        )
        evil = await other.get("/api/identity/wechat/start", params={"next": "//evil.test/"})
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "sign_in_failed"
    assert evil.status_code == 400


async def oidc_sign_in(live: LiveServer, fake: FakeOidc, http: httpx.AsyncClient) -> httpx.Response:
    start = await http.get("/api/identity/oidc/start", params={"next": "/s/idt"})
    assert start.status_code == 302, start.text
    code, state = fake.authorize(start.headers["location"], "employee-7")
    return await callback(http, "oidc", code, state)


async def test_oidc_sign_in_checks_state_nonce_and_refuses_replays(live: LiveServer) -> None:
    fake = FakeOidc(ISSUER, "live", "oidc-secret")
    live.rt.oidc.http = fake.client()
    async with live.client(live.cookie()) as http:
        start = await http.get("/api/identity/oidc/start", params={"next": "/s/idt"})
        code, state = fake.authorize(start.headers["location"], "employee-7")
        wrong_state = await http.get(
            "/api/identity/oidc/callback", params={"code": code, "state": state + "x"}
        )
        back = await callback(http, "oidc", code, state)
        accepted = await http.post("/api/shows/idt/votes", json=vote("corp"))
        replay = await http.get(
            "/api/identity/oidc/callback", params={"code": code, "state": state}
        )
    assert wrong_state.status_code == 400
    assert back.status_code == 303, back.text
    assert accepted.json()["status"] == "accepted"
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "sign_in_failed"
    async with live.client(live.cookie()) as http:
        fake.nonce_override = "not-the-nonce-we-sent"
        bad_nonce = await oidc_sign_in(live, fake, http)
        refused = await http.post("/api/shows/idt/votes", json=vote("corp"))
    assert bad_nonce.status_code == 400 and "nonce" in bad_nonce.json()["error"]["message"]
    assert refused.status_code == 401


async def test_an_id_token_signed_by_another_key_is_refused(live: LiveServer) -> None:
    from joserfc.jwk import RSAKey

    fake = FakeOidc(ISSUER, "live", "oidc-secret")
    fake.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # a forger's key
    live.rt.oidc.http = fake.client()
    async with live.client(live.cookie()) as http:
        reply = await oidc_sign_in(live, fake, http)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "sign_in_failed"
    assert "does not verify" in reply.json()["error"]["message"]


async def test_unconfigured_sign_in_is_a_404(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with serve(make_settings(redis_url, prefix, tmp_path, SHOW)) as live:
        async with live.client(live.cookie()) as http:
            wechat = await http.get("/api/identity/wechat/start")
            oidc = await http.get("/api/identity/oidc/start")
            tiers = (await http.get("/api/identity")).json()["tiers"]
    assert wechat.status_code == 404 and wechat.json()["error"]["code"] == "identity_disabled"
    assert oidc.status_code == 404
    assert tiers == {"device": True, "phone": True, "wechat": False, "oidc": False}


# -- personal data ------------------------------------------------------------------------------


async def dump_keys(url: str, prefix: str) -> list[str]:
    """Every key of the test's prefix with everything it holds, as text."""
    out = []
    client = aioredis.from_url(url, decode_responses=True)
    try:
        async for raw in client.scan_iter(match=f"{prefix}:*", count=1000):
            name = str(raw)
            kind = str(await client.type(name))
            value: Any
            if kind == "string":
                value = await client.get(name)
            elif kind == "hash":
                value = await client.hgetall(name)
            elif kind == "set":
                value = await client.smembers(name)
            elif kind == "zset":
                value = await client.zrange(name, 0, -1, withscores=True)
            elif kind == "list":
                value = await client.lrange(name, 0, -1)
            elif kind == "stream":
                value = await client.xrange(name)
            else:
                value = kind
            out.append(f"{name} {value!r}")
    finally:
        await client.aclose()
    return out


async def test_no_phone_number_is_readable_in_redis(live: LiveServer, redis_url: str) -> None:
    async with live.client(live.cookie()) as http:
        await verify_phone(live, http)
        assert (await http.post("/api/shows/idt/votes", json=vote("people"))).status_code == 200
        await http.post("/api/identity/phone/start", json={"phone": "13912345678"})  # pending
    keys = await dump_keys(redis_url, live.settings.key_prefix)
    assert any(":{~identity}:" in k for k in keys) and any(":ledger" in k for k in keys)
    for number in (PHONE, "13912345678"):
        found = [k for k in keys if number in k or number[3:] in k.replace("*", "")]
        assert found == [], found
    assert any("138****1234" in k for k in keys)  # only the masked form, for moderators


async def test_the_ledger_holds_a_pseudonym_and_purge_removes_the_label(
    live: LiveServer,
) -> None:
    async with live.client(live.cookie()) as http:
        await verify_phone(live, http)
        await http.post("/api/shows/idt/votes", json=vote("people"))
    entries = [e for e in await all_entries(live, "idt") if e.get("cat") == "people"]
    pid = entries[-1]["pid"]
    key = live.rt.identity.key
    assert pid not in (identity_hash(key, "phone", E164), E164)
    personal = Personal(live.rt.store)
    assert await personal.resolve("idt", 0, [pid]) == {pid: "phone 138****1234"}
    await personal.purge("idt")
    assert await personal.resolve("idt", 0, [pid]) == {}


# -- caps per person: voids and partitions ------------------------------------------------------


async def test_a_returned_void_gives_the_person_their_vote_back(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    show = tmp_path / "returned.toml"
    show.write_text(SHOW.read_text() + '\n[integrity]\nvoided_cap = "returned"\n')
    settings = replace(make_settings(redis_url, prefix, tmp_path, show), identity_key="k")
    async with serve(settings) as live:
        live.rt.identity.sms = SmsRecorder()
        cookie, csrf = await staff_login(live, "moderator", show="idt")
        async with live.client(live.cookie()) as one, live.client(live.cookie()) as two:
            await verify_phone(live, one)
            bodies = [vote("people") for _ in range(2)]
            for body in bodies:
                assert (await one.post("/api/shows/idt/votes", json=body)).status_code == 200
            live.rt.identity.clock = Clock()
            live.rt.identity.clock.advance(61)
            await verify_phone(live, two)  # the same person on a second phone: capped
            capped = await two.post("/api/shows/idt/votes", json=vote("people"))
            async with staff_client(live, cookie) as staff:
                voided = await staff.post(
                    "/api/shows/idt/voids",
                    json={"op": "void", "vote_ids": [bodies[0]["vote_id"]], "reason": "test"},
                    headers={"X-CSRF-Token": csrf},
                )
            again = await two.post("/api/shows/idt/votes", json=vote("people"))
            then = await two.post("/api/shows/idt/votes", json=vote("people"))
        assert capped.status_code == 409
        assert voided.status_code == 200, voided.text
        assert again.json()["status"] == "accepted"  # the person's vote was given back
        assert then.json()["reason"] == "cap_reached"
        await assert_recount(live)


async def test_a_person_is_capped_across_devices_in_a_partitioned_show(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = replace(
        make_settings(redis_url, prefix, tmp_path, partitioned(SHOW, tmp_path, 8)),
        identity_key="k",
    )
    async with serve(settings) as live:
        live.rt.identity.sms = SmsRecorder()
        clock = live.rt.identity.clock = Clock()
        accepted = refused = 0
        for i in range(6):  # six devices of one person: most land in other partitions
            async with live.client(live.cookie()) as http:
                clock.advance(3601)  # past the number's hourly send limit
                await verify_phone(live, http)
                for _ in range(2):
                    reply = await http.post("/api/shows/idt/votes", json=vote("people"))
                    accepted += reply.json()["status"] == "accepted"
                    refused += reply.json().get("reason") == "cap_reached"
                if i == 5:
                    me = (await http.get("/api/shows/idt/me")).json()["categories"]["people"]
        assert (accepted, refused) == (2, 10)
        assert me["used"] == 2 and me["left"] == 0
        state = await live.state("idt")
        assert sum(state["tallies"]["people"].values()) == 2
        await assert_recount(live)
