"""Hostile input from organisers, platforms and backups (issue 31): an admin of one show, a
platform impostor, a fraudster and someone holding a backup reach no file, secret, memory or
session through what they send. Each test is one finding's reproduction, answered by a refusal,
with the process still answering ``/healthz`` where the old code hung or grew."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import stat
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import psutil
import pytest
from PIL import Image
from redis import asyncio as redis_asyncio

from live import metrics
from live.cli.backup import check_file
from live.cli.sealed import CHUNK, MAGIC, SealError, SealingWriter, opener
from live.domain.errors import ConfigError, ShowFileError, Unavailable
from live.domain.identity import SendLimit
from live.domain.ingest import douyin
from live.domain.ingest.source import IngestSource, env_allowed
from live.domain.roster import MAX_ROWS, read_sheet
from live.domain.show import load_show
from live.domain.wordfiles import MAX_BYTES, WordFileError, read_wordfile
from live.services import ingest as ingest_service
from live.services.ingest import (
    BAD_SIGNATURES_PER_ADDRESS,
    BAD_SIGNATURES_PER_ROOM,
    Ingest,
)
from tests.conftest import make_settings
from tests.fake_identity import SmsRecorder
from tests.helpers import (
    SHOW,
    LiveServer,
    run_cli,
    serve,
    sign_in,
    staff_client,
    staff_login,
)
from tests.test_backup import cli_on
from tests.test_ingest import (
    DOUYIN_SECRET,
    comment,
    platform_show,  # noqa: F401 (a fixture: a show with two Douyin rooms)
    push,
    push_headers,
)
from tests.test_show_builder import create
from tests.test_show_setup import person, xlsx

# -- watching the process --------------------------------------------------------------------


async def healthz_while(live: LiveServer, work: Any, every: float = 0.2) -> tuple[Any, float]:
    """Run ``work`` (an awaitable) while polling ``/healthz``; its result and the longest time
    one ``/healthz`` took meanwhile (a hung event loop shows as a long one)."""
    worst = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal worst
        async with live.client() as http:
            while not done.is_set():
                t0 = asyncio.get_running_loop().time()
                reply = await http.get("/healthz", timeout=10)
                assert reply.status_code == 200
                worst = max(worst, asyncio.get_running_loop().time() - t0)
                await asyncio.sleep(every)

    watcher = asyncio.create_task(watch())
    try:
        result = await work
    finally:
        done.set()
        await watcher
    return result, worst


@pytest.fixture
async def live(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serve(make_settings(redis_url, prefix, tmp_path)) as server:
        yield server


async def redefine_toml(http: httpx.AsyncClient, show: str, extra: str) -> httpx.Response:
    """Save ``show``'s definition with ``extra`` TOML appended (the organiser's own upload)."""
    current = (await http.get(f"/api/shows/{show}/definition")).json()
    return await http.post(
        f"/api/shows/{show}/definition?rev={current['rev']}",
        content=current["toml"] + extra,
        headers={"Content-Type": "application/toml"},
    )


# -- 1. word-list paths ------------------------------------------------------------------------


HOSTILE_NAMES = ["/etc/shadow", "/etc/passwd", "../words.txt", "a/../../x", ".hidden", "/dev/zero",
                 "words.txt\x00", "C:\\w.txt"]  # fmt: skip


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_a_browser_show_naming_any_word_list_file_is_refused_and_nothing_is_read(
    live: LiveServer, name: str
) -> None:
    client, _ = await create(live, "gala")
    async with client as http:
        reply = await redefine_toml(
            http, "gala", f"\n[comments]\nwordlists = [{json.dumps(name)}]\n"
        )
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["code"] == "show_invalid"
        assert any(p["where"].startswith("comments.wordlists") for p in error["problems"])
        assert "root:" not in reply.text and "Errno" not in reply.text
        words = (await http.get("/api/shows/gala/wordlist")).json()
    assert words["files"] == [] and words["file_words"] == 0


async def test_a_browser_show_names_no_file_even_a_plain_relative_one(live: LiveServer) -> None:
    client, _ = await create(live, "gala")
    async with client as http:
        reply = await redefine_toml(http, "gala", '\n[comments]\nwordlists = ["words.txt"]\n')
    assert reply.status_code == 400
    assert "word-list API" in reply.json()["error"]["message"]


def test_a_word_list_is_read_only_inside_the_show_files_folder(tmp_path: Path) -> None:
    folder = tmp_path / "show"
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "ok.txt").write_text("赌博\n!反赌博\n", encoding="utf-8")
    (folder / "out.txt").symlink_to("/etc/passwd")
    (folder / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.txt")
    (folder / "big.txt").write_bytes(b"a\n" * (MAX_BYTES // 2 + 1))
    (folder / "dir.txt").mkdir()
    (folder / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    got = read_wordfile(folder, "lists/ok.txt")
    assert (got.words, got.allowed) == (("赌博",), ("反赌博",))
    refusals = {
        "out.txt": "outside the show file's folder",
        "zero.txt": "outside the show file's folder",
        "fifo.txt": "not a regular file",  # opened without waiting for a writer
        "big.txt": "larger than 1,000,000 bytes",
        "dir.txt": "not a regular file",
        "missing.txt": "no such file",
        "latin1.txt": "not UTF-8 text",
        "../show/lists/ok.txt": "no absolute path, no ..",
        "/etc/passwd": "no absolute path, no ..",
    }
    for name, why in refusals.items():
        with pytest.raises(WordFileError) as caught:
            read_wordfile(folder, name)
        assert why in str(caught.value), (name, str(caught.value))
        assert "Errno" not in str(caught.value)


def test_a_show_file_naming_a_bad_word_list_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "show.toml"
    os.mkfifo(tmp_path / "fifo.txt")
    path.write_text(
        SHOW.read_text(encoding="utf-8") + '\n[comments]\nwordlists = ["fifo.txt"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ShowFileError, match="not a regular file"):
        load_show(path)
    path.write_text(
        SHOW.read_text(encoding="utf-8") + '\n[comments]\nwordlists = ["/etc/shadow"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ShowFileError, match="no absolute path"):
        load_show(path)


# -- 2. sheet import memory bomb -------------------------------------------------------------


def with_sheet_xml(book: bytes, edit: Any, extra: dict[str, bytes] | None = None) -> bytes:
    """``book`` (an XLSX) with its first sheet's XML passed through ``edit`` (and more parts)."""
    src = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = edit(data)
            dst.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def claims_every_cell(xml: bytes) -> bytes:
    """The sheet says it spans A1:XFD1048576 and has a cell in the very last row."""
    xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    last = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return xml.replace(b"</sheetData>", last + b"</sheetData>")


def only_claims(xml: bytes) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


async def post_sheet(http: httpx.AsyncClient, show: str, data: bytes) -> httpx.Response:
    rev = (await http.get(f"/api/shows/{show}/definition")).json()["rev"]
    return await http.post(f"/api/shows/{show}/roster?name=r.xlsx&rev={rev}", content=data)


async def test_a_sheet_claiming_17_billion_cells_is_refused_without_growing(
    live: LiveServer,
) -> None:
    bomb = with_sheet_xml(xlsx([person(1), person(2)]), claims_every_cell)
    assert len(bomb) < 10_000
    client, _ = await create(live, "gala")
    async with client as http:
        before = rss()
        reply, worst = await healthz_while(live, post_sheet(http, "gala", bomb))
        grown = rss() - before
    print(f"\nbomb of {len(bomb):,} bytes: {reply.status_code}, RSS +{grown / 2**20:.1f} MB, "
          f"slowest /healthz {worst * 1000:.0f} ms")  # fmt: skip
    assert reply.status_code == 400, reply.text
    assert "more than 100,000 rows" in reply.json()["error"]["message"]
    assert grown < 100 * 2**20
    assert worst < 2.0


async def test_a_sheet_whose_dimension_lies_is_read_as_its_rows_are(live: LiveServer) -> None:
    """The ``<dimension>`` is ignored, not obeyed nor refused: the 40 rows import."""
    sheet = with_sheet_xml(xlsx([person(i) for i in range(1, 41)]), only_claims)
    client, _ = await create(live, "gala")
    async with client as http:
        reply = await post_sheet(http, "gala", sheet)
    assert reply.status_code == 200, reply.text
    assert reply.json()["contestants"] == 40


def test_a_zip_bomb_and_an_endless_sheet_are_refused_before_they_are_unpacked() -> None:
    bomb = with_sheet_xml(xlsx([person(1)]), lambda x: x, {"xl/big.bin": bytes(60 * 2**20)})
    assert len(bomb) < 200_000
    with pytest.raises(ValueError, match="unpacks to more than 24 MB"):
        read_sheet(bomb, "r.xlsx")
    styles = "<styleSheet><cellXfs>" + "<xf/>" * 100_000 + "</cellXfs></styleSheet>"
    padded = with_sheet_xml(xlsx([person(1)]), lambda x: x)
    src = zipfile.ZipFile(io.BytesIO(padded))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = styles.encode() if item.filename == "xl/styles.xml" else src.read(item)
            dst.writestr(item.filename, data)
    with pytest.raises(ValueError, match=r"xl/styles.xml unpacks to more than 262,144 bytes"):
        read_sheet(out.getvalue(), "r.xlsx")
    many = "\n".join(["number,name"] + [f"{i},n{i}" for i in range(MAX_ROWS + 1)])
    with pytest.raises(ValueError, match="more than 5,000 contestants"):
        read_sheet(many.encode(), "r.csv")
    header, rows = read_sheet(("\n".join(many.splitlines()[: MAX_ROWS + 1])).encode(), "r.csv")
    assert len(rows) == MAX_ROWS and header == ["number", "name"]


async def test_one_sheet_is_read_at_a_time_per_process(live: LiveServer) -> None:
    """A second import while one is being read is a 503 ``busy`` (Retry-After), not a second
    copy of the work in memory."""
    client, _ = await create(live, "gala")
    async with client as http, live.rt.setup._reading:
        reply = await post_sheet(http, "gala", xlsx([person(1)]))
    assert (reply.status_code, reply.json()["error"]["code"]) == (503, "busy")
    assert reply.headers["retry-after"] == "1"


# -- 10. image decompression ---------------------------------------------------------------------


def flat_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (side, side), 200).save(out, format="PNG", optimize=True)
    return out.getvalue()


async def test_a_small_png_of_40_m_pixels_is_refused_from_its_header(live: LiveServer) -> None:
    png = flat_png(6324)
    assert len(png) < 200_000
    cookie, csrf = await staff_login(live, "admin")
    async with staff_client(live, cookie, headers={"X-CSRF-Token": csrf}) as http:
        before = rss()
        reply, worst = await healthz_while(
            live, http.post("/api/shows/t/contestants/p1/photo", content=png)
        )
        grown = rss() - before
    print(f"\n6324x6324 PNG of {len(png):,} bytes: {reply.status_code}, "
          f"RSS +{grown / 2**20:.1f} MB")  # fmt: skip
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "bad_image")
    assert "16,000,000 pixels" in reply.json()["error"]["message"]
    assert grown < 100 * 2**20 and worst < 2.0


async def test_one_image_is_decoded_at_a_time_per_process(live: LiveServer) -> None:
    cookie, csrf = await staff_login(live, "admin")
    async with (
        staff_client(live, cookie, headers={"X-CSRF-Token": csrf}) as http,
        live.rt.decoding,
    ):
        busy = await http.post("/api/shows/t/contestants/p1/photo", content=flat_png(8))
    assert (busy.status_code, busy.json()["error"]["code"]) == (503, "busy")
    async with staff_client(live, cookie, headers={"X-CSRF-Token": csrf}) as http:
        ok = await http.post("/api/shows/t/contestants/p1/photo", content=flat_png(8))
    assert ok.status_code == 200, ok.text


# -- 3. platform credentials and endpoints -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ('platform = "douyin"\nroom = "r1"\nsecret_env = "LIVE_METRICS_TOKEN"', "LIVE_INGEST_"),
        ('platform = "douyin"\nroom = "r1"\nsecret_env = "REDIS_URL"', "LIVE_INGEST_"),
        # Another show's variable (show t's Douyin secret), and the endpoints setting itself.
        ('platform = "douyin"\nroom = "r1"\nsecret_env = "LIVE_INGEST_T__DOUYIN_SECRET"',
         "LIVE_INGEST_GALA__NAME"),
        ('platform = "douyin"\nroom = "r1"\nsecret_env = "LIVE_INGEST_ENDPOINTS"',
         "LIVE_INGEST_GALA__NAME"),
        ('platform = "bilibili"\nroom = "1"\napp_id = 1\nkey_id_env = "LIVE_INGEST_GALA__K"\n'
         'secret_env = "LIVE_INGEST_GALA__S"\ncode_env = "LIVE_INGEST_GALA__C"\n'
         'url = "https://evil.example"', "LIVE_INGEST_ENDPOINTS"),
        ('platform = "twitch"\nroom = "1"\nclient_id_env = "LIVE_INGEST_GALA__C"\n'
         'token_env = "LIVE_INGEST_GALA__T"\napi = "https://api.twitch.tv.evil.example"',
         "LIVE_INGEST_ENDPOINTS"),
    ],
)  # fmt: skip
async def test_a_browser_show_cannot_name_a_setting_as_a_secret_nor_a_host_for_credentials(
    live: LiveServer, source: str, why: str
) -> None:
    client, _ = await create(live, "gala")
    async with client as http:
        reply = await redefine_toml(http, "gala", f"\n[[ingest]]\n{source}\n")
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "show_invalid"
    assert why in reply.text


@pytest.mark.parametrize(
    ("show", "var", "allowed"),
    [("t", "LIVE_INGEST_T__DOUYIN", True), ("gala", "LIVE_INGEST_T__DOUYIN", False),
     ("a", "LIVE_INGEST_A__B__X", False), ("a--b", "LIVE_INGEST_A__B__X", True),
     ("a", "LIVE_INGEST_A___X", False), ("a-", "LIVE_INGEST_A___X", True),
     ("t", "LIVE_INGEST_T__", False), ("t", "LIVE_METRICS_TOKEN", False),
     ("my-show", "LIVE_INGEST_MY_SHOW__SECRET_2", True)],
)  # fmt: skip
def test_each_show_reads_only_its_own_variables(show: str, var: str, allowed: bool) -> None:
    assert env_allowed(show, var) is allowed


def test_a_credential_is_read_only_from_the_shows_own_variables() -> None:
    """Even a source built without its checks (a hand-edited registry key) reads no setting
    and no other show's variable."""
    env = {"LIVE_METRICS_TOKEN": "m", "LIVE_INGEST_T__DOUYIN": "d"}
    ingest = Ingest(cast(Any, None), cast(Any, None), env=env)
    planted = IngestSource.model_construct(
        platform="douyin", room="r", secret_env="LIVE_METRICS_TOKEN"
    )
    assert ingest.credential("t", planted, "secret_env") == ""
    own = IngestSource(platform="douyin", room="r", secret_env="LIVE_INGEST_T__DOUYIN")
    assert ingest.credential("t", own, "secret_env") == "d"
    assert ingest.credential("gala", own, "secret_env") == ""
    twitch = IngestSource(
        platform="twitch", room="1", client_id_env="LIVE_INGEST_T__C", token_env="LIVE_INGEST_T__T"
    )
    elsewhere = twitch.model_copy(update={"url": "wss://127.0.0.1:9/ws"})
    assert "not the platform's own" in ingest.endpoint_problem(elsewhere)
    assert ingest.endpoint_problem(twitch) == ""
    allowed = Ingest(cast(Any, None), cast(Any, None), endpoints=frozenset({"wss://127.0.0.1:9"}))
    assert allowed.endpoint_problem(elsewhere) == ""


@pytest.fixture
def douyin_live(platform_show: LiveServer) -> LiveServer:  # noqa: F811
    """test_ingest's show with two Douyin rooms (268, 269) and their secret set."""
    return platform_show


async def forged(live: LiveServer, n: int, room: str = "268") -> list[int]:
    body = b"[]"
    headers = push_headers(body, "live_comment", room) | {"x-signature": "AAAAAAAAAAAAAAAAAAAAAA=="}
    async with live.client() as http:
        return [
            (await http.post("/ingest/douyin/t", content=body, headers=headers)).status_code
            for _ in range(n)
        ]


async def test_bad_signatures_are_limited_per_address(douyin_live: LiveServer) -> None:
    codes = await forged(douyin_live, BAD_SIGNATURES_PER_ADDRESS + 2)
    assert codes == [401] * BAD_SIGNATURES_PER_ADDRESS + [429, 429]
    good = await push(douyin_live, "live_comment", [comment("m1", "u1", "加油")])
    assert good.status_code == 429 and int(good.headers["retry-after"]) >= 1


async def test_bad_signatures_are_limited_per_room_from_anywhere(
    douyin_live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_service, "BAD_SIGNATURES_PER_ADDRESS", 10_000)
    codes = await forged(douyin_live, BAD_SIGNATURES_PER_ROOM + 1)
    assert codes[-2:] == [401, 429] and codes.count(401) == BAD_SIGNATURES_PER_ROOM
    other_room = await push(douyin_live, "live_comment", [comment("m1", "u1", "加油")], "269")
    assert other_room.status_code == 200  # another room's budget is its own


async def test_good_signatures_use_up_no_budget(douyin_live: LiveServer) -> None:
    for i in range(BAD_SIGNATURES_PER_ADDRESS + 5):
        reply = await push(douyin_live, "live_comment", [comment(f"m{i}", "u1", "加油")])
        assert reply.status_code == 200


# -- 7. Douyin freshness -------------------------------------------------------------------------


async def test_a_signed_push_dated_2001_is_refused(douyin_live: LiveServer) -> None:
    body = json.dumps([comment("old1", "u1", "投2")]).encode()
    headers = {"x-nonce-str": "n-2001", "x-timestamp": "978307200", "x-roomid": "268",
               "x-msg-type": "live_comment"}  # fmt: skip
    headers["x-signature"] = douyin.signature(headers, body, DOUYIN_SECRET)
    async with douyin_live.client() as http:
        reply = await http.post("/ingest/douyin/t", content=body, headers=headers)
    assert (reply.status_code, reply.json()["error"]["code"]) == (401, "stale_push")
    assert douyin.fresh(
        headers | {"x-timestamp": str(int(time.time() * 1000))}, int(time.time() * 1000)
    )


async def test_a_replayed_push_counts_once(douyin_live: LiveServer) -> None:
    body = json.dumps([comment("r1", "u1", "投2")], ensure_ascii=False).encode()
    headers = push_headers(body, "live_comment")
    async with douyin_live.client() as http:
        first = await http.post("/ingest/douyin/t", content=body, headers=headers)
        again = await http.post("/ingest/douyin/t", content=body, headers=headers)
    assert first.json() == {"status": "ok", "received": 1}
    assert again.status_code == 200 and again.json() == {
        "status": "ok", "received": 0, "replay": True
    }  # fmt: skip


# -- 4. restore plants sessions ------------------------------------------------------------------


def backup_file(path: Path, show: str, rows: list[dict[str, Any]]) -> Path:
    header = {"format": "live-backup", "version": 1, "show": show, "prefix": "x",
              "partitions": 1, "created": 1, "registry": None}  # fmt: skip
    end = {"end": True, "keys": len(rows), "entries": 0}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in (header, *rows, end):
            fh.write(json.dumps(row) + "\n")
    return path


def planted_session(show: str, sid: str, staff: str = "s000000000000") -> dict[str, Any]:
    key = f":{{{show}}}:sess:{hashlib.sha256(sid.encode()).hexdigest()}"
    value = ["staff", staff, "name", "ghost", "role", "admin", "csrf", "c" * 32]
    return {"key": key, "type": "hash", "value": value}


async def admin_page(live: LiveServer, show: str, sid: str) -> int:
    async with staff_client(live, f"{show}.{sid}") as http:
        return (await http.get(f"/admin/{show}")).status_code


@pytest.mark.parametrize("header_show", ["ghost", "t"])
async def test_a_backup_cannot_plant_a_session_for_any_show(
    live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any,
    header_show: str,
) -> None:  # fmt: skip
    sid = "planted-" + "x" * 40
    file = backup_file(tmp_path / "b.gz", header_show, [planted_session("t", sid)])
    code, _, err = await run_cli(live, monkeypatch, capsys, "restore", str(file), "--no-progress")
    assert code != 0 and "a restore may write: nothing restored" in err, err
    assert await admin_page(live, "t", sid) == 401
    keys = [
        k async for k in live.rt.store.client.scan_iter(match=f"{live.settings.key_prefix}:*sess*")
    ]
    assert keys == []


async def test_a_session_is_worth_nothing_without_its_active_staff_member(
    live: LiveServer, redis_admin_url: str
) -> None:
    cookie, _ = await staff_login(live, "admin", "Real")
    sid = cookie.split(".", 1)[1]
    assert await admin_page(live, "t", sid) == 200
    rogue = "rogue-" + "y" * 40
    row = planted_session("t", rogue)
    admin = redis_asyncio.from_url(redis_admin_url, decode_responses=True)
    try:
        key = live.settings.key_prefix + row["key"]
        await admin.hset(key, mapping=dict(zip(row["value"][::2], row["value"][1::2], strict=True)))
        assert await admin_page(live, "t", rogue) == 401  # no such staff member
        session = await live.rt.sessions.session("t", sid)
        assert session is not None
        # A session hash naming a real, active moderator but carrying role=admin: it is not
        # among the member's sessions (staff.lua puts them there), and its role is not theirs.
        mod_cookie, _ = await staff_login(live, "moderator", "Mo")
        mod = await live.rt.sessions.session("t", mod_cookie.split(".", 1)[1])
        assert mod is not None and mod.role == "moderator"
        forged = "forged-" + "z" * 40
        row = planted_session("t", forged, staff=mod.staff)
        key = live.settings.key_prefix + row["key"]
        await admin.hset(key, mapping=dict(zip(row["value"][::2], row["value"][1::2], strict=True)))
        assert await admin_page(live, "t", forged) == 401  # not among the member's sessions
        await admin.sadd(
            f"{live.rt.store.keys('t').base}:sessions:{mod.staff}", key.rsplit(":", 1)[1]
        )
        assert await admin_page(live, "t", forged) == 403  # listed: the member's role, not admin
        member = json.loads(
            str(await admin.hget(f"{live.rt.store.keys('t').base}:staff", session.staff))
        )
        await admin.hset(
            f"{live.rt.store.keys('t').base}:staff", session.staff,
            json.dumps(member | {"active": False}),
        )  # fmt: skip
        assert await admin_page(live, "t", sid) == 401  # the member is no longer active
        assert await live.rt.sessions.valid_keys("t", [session.key]) == [None]
    finally:
        await admin.aclose()


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ({"key": ":{t}:stage", "type": "module", "value": []}, "unknown type"),
        ({"key": ":{t}:stage", "type": "hash", "value": ["odd"]}, "is not a hash"),
        ({"key": ":{t}:tally:x", "type": "zset", "value": ["p1", "lots"]}, "is not a zset"),
        ({"s": ":{t}:ledger", "id": "../1", "f": ["a", "b"]}, "is not one"),
        ({"key": ":{t}:invite:abc", "type": "string", "value": "s1"}, "a restore may write"),
        ({"key": ":{other}:stage", "type": "hash", "value": []}, "a restore may write"),
        (
            {
                "end": True,
                "keys": 0,
                "entries": 0,
                "key": ":{t}:stage",
                "type": "hash",
                "value": ["phase", "live"],
            },
            "is not a backup's line",
        ),  # an end line that writes
        ({"key": ":{t}:tally:x", "type": "zset", "value": ["p1", "nan"]}, "is not a zset"),
        ({"s": ":{t}:ledger", "id": "0-0", "f": ["a", "b"]}, "is not one"),
    ],
)
def test_every_line_of_a_backup_is_checked_before_anything_is_written(
    tmp_path: Path, row: dict[str, Any], why: str
) -> None:
    with pytest.raises(ConfigError, match=why):
        check_file(backup_file(tmp_path / "b.gz", "t", [row]))


# -- 8. backups: owner only, and sealed on request -------------------------------------------


async def test_a_backup_is_readable_by_its_owner_only_and_sealed_with_encrypt(
    live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    plain, sealed_file = tmp_path / "plain.gz", tmp_path / "sealed.bin"
    sealed_file.write_bytes(b"")
    sealed_file.chmod(0o644)  # an existing file keeps no wider mode
    code, _, err = await run_cli(live, monkeypatch, capsys, "backup", "--show", "t", "--out",
                                 str(plain), "--no-progress")  # fmt: skip
    assert code == 0, err
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    monkeypatch.setenv("LIVE_BACKUP_PASSPHRASE", "correct horse battery")
    code, _, err = await run_cli(live, monkeypatch, capsys, "backup", "--show", "t", "--out",
                                 str(sealed_file), "--no-progress", "--encrypt")  # fmt: skip
    assert code == 0, err
    data = sealed_file.read_bytes()
    assert stat.S_IMODE(sealed_file.stat().st_mode) == 0o600
    assert data.startswith(MAGIC) and b"pseudonym" not in data
    with pytest.raises(OSError):
        gzip.decompress(data)
    assert check_file(sealed_file, opener("correct horse battery"))["show"] == "t"
    with pytest.raises(ConfigError, match="wrong passphrase"):
        check_file(sealed_file, opener("wrong horse battery"))
    with pytest.raises(ConfigError, match="set LIVE_BACKUP_PASSPHRASE"):
        check_file(sealed_file)
    assert live.settings.redis_url is not None
    into = "r" + secrets.token_hex(6)
    code, out, err = await cli_on(live.settings.redis_url, into, live, monkeypatch, capsys,
                                  "restore", str(sealed_file), "--no-progress")  # fmt: skip
    assert code == 0 and "restored show t" in out, err
    (tmp_path / "cut.bin").write_bytes(data[:-10])
    with pytest.raises(ConfigError, match="cut short"):
        check_file(tmp_path / "cut.bin", opener("correct horse battery"))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_sealing_round_trips_and_refuses_moved_or_dropped_chunks(size: int) -> None:
    data = os.urandom(size)
    out = io.BytesIO()
    out.close = lambda: None  # type: ignore[method-assign]  # keep it readable after the seal
    writer = SealingWriter(cast(Any, out), "a passphrase of ours", log_n=10)
    writer.write(data[: size // 2])
    writer.write(data[size // 2 :])
    writer.close()
    sealed_bytes = out.getvalue()
    opened = opener("a passphrase of ours")(cast(Any, io.BytesIO(sealed_bytes)))
    assert opened.read() == data
    head = len(MAGIC) + 17
    chunks = [sealed_bytes[i : i + CHUNK + 16] for i in range(head, len(sealed_bytes), CHUNK + 16)]
    damaged = [sealed_bytes[:head] + b"".join(chunks[:-1])]  # the last chunk dropped
    if len(chunks) > 2:
        damaged.append(sealed_bytes[:head] + chunks[1] + chunks[0] + b"".join(chunks[2:]))
    for bad in damaged:
        with pytest.raises(SealError):
            opener("a passphrase of ours")(cast(Any, io.BytesIO(bad))).read()


# -- 5. SMS pumping, 9. keyed send logs ------------------------------------------------------------


@pytest.fixture
async def phones(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server behind a trusted proxy (loopback), so each request may come from its own
    address (``X-Forwarded-For``), with a recording SMS provider."""
    settings = replace(
        make_settings(redis_url, prefix, tmp_path, SHOW),
        identity_key="test-identity-key",
        trusted_proxies="127.0.0.1",
    )
    async with serve(settings) as server:
        server.rt.identity.sms = SmsRecorder()
        yield server


async def ask_code(live: LiveServer, phone: str, ip: str, captcha: str = "") -> httpx.Response:
    """A fresh device (a new cookie, as a pump makes one per request) asks for a code."""
    body = {"phone": phone} | ({"captcha": captcha} if captcha else {})
    async with live.client(live.cookie(), headers={"X-Forwarded-For": ip}) as http:
        return await http.post("/api/identity/phone/start", json=body)


async def test_a_premium_international_number_gets_no_code(phones: LiveServer) -> None:
    reply = await ask_code(phones, "+88213100000", "10.0.0.1")
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "country_not_served")
    assert "+86" in reply.json()["error"]["message"]
    assert (await ask_code(phones, "13812340000", "10.0.0.1")).status_code == 200
    sent = cast(SmsRecorder, phones.rt.identity.sms).sent
    assert [p for p, _ in sent] == ["+8613812340000"]


@pytest.mark.parametrize(
    ("same", "other"),
    [(["10.1.2.1", "10.1.2.2", "10.1.2.3", "10.1.2.250"], "10.1.3.1"),
     (["2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::9", "2001:db8:0:1::4"],
      "2001:db8:0:2::1")],
)  # fmt: skip
async def test_sends_are_limited_per_subnet_whatever_the_address_and_cookie(
    phones: LiveServer, same: list[str], other: str
) -> None:
    phones.rt.identity.policy = replace(
        phones.rt.identity.policy, subnet=SendLimit(3, 3600, "subnet")
    )
    replies = [await ask_code(phones, f"1380000000{i}", ip) for i, ip in enumerate(same)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert replies[-1].json()["error"]["reason"] == "subnet"
    assert (await ask_code(phones, "13800000009", other)).status_code == 200


@contextlib.asynccontextmanager
async def captcha_on(live: LiveServer) -> AsyncIterator[list[str]]:
    """A captcha service answering ``solved`` as solved; yields the answers it was asked."""
    from live.services.identity import SiteVerify

    asked: list[str] = []

    def siteverify(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        asked.append(form.get("response", ""))
        return httpx.Response(200, json={"success": form.get("response") == "solved"})

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(siteverify))
    live.rt.identity.captcha = SiteVerify("https://captcha.test/v", "cs", http_client)
    try:
        yield asked
    finally:
        await http_client.aclose()


async def test_an_address_past_its_share_must_solve_the_captcha(phones: LiveServer) -> None:
    async with captcha_on(phones) as asked:
        free = [await ask_code(phones, f"1390000000{i}", "10.9.9.9", "unneeded") for i in range(3)]
        needless_calls = len(asked)
        asked_for = await ask_code(phones, "13900000003", "10.9.9.9")
        wrong = await ask_code(phones, "13900000003", "10.9.9.9", captcha="guess")
        solved = await ask_code(phones, "13900000003", "10.9.9.9", captcha="solved")
        elsewhere = await ask_code(phones, "13900000004", "10.9.8.1")
    assert [r.status_code for r in free] == [200, 200, 200]  # LIVE_SMS_CAPTCHA_AFTER: 3
    assert needless_calls == 0  # no outside call while none is needed
    assert (asked_for.status_code, asked_for.json()["error"]["code"]) == (403, "captcha_required")
    assert wrong.status_code == 403 and solved.status_code == 200
    assert elsewhere.status_code == 200


async def test_new_addresses_of_one_64_still_meet_the_captcha(phones: LiveServer) -> None:
    async with captcha_on(phones):
        replies = [
            await ask_code(phones, f"1360000000{i}", f"2001:db8:5:5::{i + 1}") for i in range(4)
        ]
    assert [r.status_code for r in replies] == [200, 200, 200, 403]


async def test_half_the_budget_spent_asks_everyone_for_the_captcha(phones: LiveServer) -> None:
    phones.rt.identity.policy = replace(
        phones.rt.identity.policy, budget=SendLimit(6, 3600, "budget")
    )
    async with captcha_on(phones):
        ips = [f"10.{20 + i}.0.1" for i in range(5)]  # five networks, none past its share
        replies = [await ask_code(phones, f"1350000000{i}", ip) for i, ip in enumerate(ips)]
        solved = await ask_code(phones, "13500000009", "10.99.0.1", captcha="solved")
    assert [r.status_code for r in replies] == [200, 200, 200, 403, 403]
    assert solved.status_code == 200


async def test_the_hourly_budget_opens_a_breaker_that_stops_every_send(phones: LiveServer) -> None:
    phones.rt.identity.policy = replace(
        phones.rt.identity.policy, budget=SendLimit(3, 3600, "budget")
    )
    ips = ["10.2.0.1", "10.3.0.1", "10.4.0.1", "10.5.0.1", "10.6.0.1"]
    replies = [await ask_code(phones, f"1370000000{i}", ip) for i, ip in enumerate(ips)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
    assert {r.json()["error"]["reason"] for r in replies[3:]} == {"budget"}
    assert int(replies[3].headers["Retry-After"]) > 3500  # open for the hour
    breaker = f"{phones.settings.key_prefix}:{{~identity}}:idsend:breaker"
    assert await phones.rt.store.client.pttl(breaker) > 3_500_000  # open for the hour
    assert metrics.SMS_BREAKER._value.get() == 1  # the alert
    assert len(cast(SmsRecorder, phones.rt.identity.sms).sent) == 3


async def test_send_logs_name_addresses_by_keyed_hash_and_purge_removes_them(
    phones: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assert (await ask_code(phones, "13812345678", "203.0.113.7")).status_code == 200
    base = f"{phones.settings.key_prefix}:{{~identity}}:idsend:"
    names = [str(k) async for k in phones.rt.store.client.scan_iter(match=base + "*")]
    unkeyed = {
        hashlib.sha256(v.encode()).hexdigest()[:32] for v in ("203.0.113.7", "203.0.113.0/24")
    }
    assert {n.rsplit(":", 1)[1] for n in names}.isdisjoint(unkeyed)
    assert not any("203.0.113" in n for n in names)
    assert {n[len(base) :].split(":")[0] for n in names} >= {"a", "s", "d", "n"}
    code, out, err = await run_cli(phones, monkeypatch, capsys, "purge", "--show", "t")
    assert code == 0, err
    assert "send logs of addresses, subnets and devices deleted: 3" in out
    left = [str(k) async for k in phones.rt.store.client.scan_iter(match=base + "*")]
    assert {n[len(base) :].split(":")[0] for n in left} <= {"n", "g"}


# -- 6. comments per address and per subnet ----------------------------------------------------


@pytest.fixture
async def talkers(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    path = tmp_path / "talk.toml"
    path.write_text(
        SHOW.read_text(encoding="utf-8")
        + "\n[comments]\nper_minute = 6\nper_address_minute = 5\nper_subnet_minute = 8\n",
        encoding="utf-8",
    )
    settings = replace(
        make_settings(redis_url, prefix, tmp_path, path), trusted_proxies="127.0.0.1"
    )
    async with serve(settings) as server:
        yield server


async def say(live: LiveServer, ip: str, text: str) -> httpx.Response:
    """A comment from a fresh device cookie (what a script does to dodge the device's cap)."""
    async with live.client(live.cookie(), headers={"X-Forwarded-For": ip}) as http:
        body = {"text": text, "comment_id": secrets.token_hex(8)}
        return await http.post("/api/shows/t/comments", json=body)


async def test_fresh_cookies_from_one_address_or_network_are_still_limited(
    talkers: LiveServer,
) -> None:
    first = [await say(talkers, "10.7.7.1", f"加油{i}") for i in range(6)]
    assert [r.status_code for r in first] == [200] * 5 + [429]
    assert "from this address" in first[-1].json()["error"]["message"]
    assert int(first[-1].headers["Retry-After"]) >= 1
    # The attempt the address refused is not counted for the /24: it has used 5 of its 8.
    near = [await say(talkers, f"10.7.7.{i}", f"好{i}") for i in (2, 3, 4, 5)]
    assert [r.status_code for r in near] == [200, 200, 200, 429]
    assert "from this network" in near[-1].json()["error"]["message"]
    assert (await say(talkers, "10.7.8.1", "另一个网络")).status_code == 200


async def test_one_cookie_past_its_cap_does_not_use_up_its_networks_minute(
    talkers: LiveServer,
) -> None:
    async with talkers.client(talkers.cookie(), headers={"X-Forwarded-For": "10.8.8.1"}) as http:
        codes = []
        for i in range(30):
            body = {"text": f"刷{i}", "comment_id": secrets.token_hex(8)}
            codes.append((await http.post("/api/shows/t/comments", json=body)).status_code)
    assert codes == [200] * 5 + [429] * 25  # the address's 5 (the device allows 6)
    neighbour = await say(talkers, "10.8.8.2", "邻居")
    assert neighbour.status_code == 200  # the /24 counted only the 5 taken: 6 of its 8 now


# -- 11. nesting, and who may create shows ----------------------------------------------------


@pytest.mark.parametrize(
    "deep", ["deep = " + "[" * 1000 + "]" * 1000, "deep = " + "{a = " * 1000 + "1" + "}" * 1000]
)
async def test_a_definition_nested_a_thousand_deep_is_a_400(live: LiveServer, deep: str) -> None:
    client, _ = await create(live, "gala")
    async with client as http:
        reply = await redefine_toml(http, "gala", "\n" + deep + "\n")
    assert reply.status_code == 400, reply.text
    assert "nested too deep" in reply.text


async def new_show(http: httpx.AsyncClient, show: str) -> httpx.Response:
    return await http.post("/api/shows", json={"id": show, "title": "新", "title_en": "New"})


async def test_an_admin_of_a_show_creates_no_show_without_the_operators_grant(
    live: LiveServer,
) -> None:
    cookie, csrf = await staff_login(live, "admin", "Plain admin")
    async with staff_client(live, cookie, headers={"X-CSRF-Token": csrf}) as http:
        reply = await new_show(http, "mine")
    assert (reply.status_code, reply.json()["error"]["code"]) == (403, "organiser_required")
    assert "mine" not in live.rt.service.shows


async def test_an_organiser_creates_up_to_the_quota(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    member, token = await live.rt.sessions.invite("t", "admin", "Org")
    code, out, err = await run_cli(live, monkeypatch, capsys, "staff", "organiser", "--show", "t",
                                   "--id", member.id, "--quota", "2")  # fmt: skip
    assert code == 0 and "may create 2 show(s), 0 created" in out, err
    cookie, session = await sign_in(live, "t", token)
    async with staff_client(live, cookie, headers={"X-CSRF-Token": session.csrf}) as http:
        taken = await new_show(http, "t")  # an id in use: refused, and the unit given back
        made = [await new_show(http, name) for name in ("one", "two", "three")]
    assert taken.status_code == 409
    assert [r.status_code for r in made] == [201, 201, 403]
    assert made[-1].json()["error"]["code"] == "quota_spent"
    assert "three" not in live.rt.service.shows


def test_a_line_after_the_end_and_entries_out_of_order_are_refused(tmp_path: Path) -> None:
    end = {"end": True, "keys": 0, "entries": 0}
    with pytest.raises(ConfigError, match="a line after the end line"):
        check_file(backup_file(tmp_path / "a.gz", "t", [end]))
    back = [{"s": ":{t}:ledger", "id": "5-0", "f": ["a", "b"]},
            {"s": ":{t}:ledger", "id": "4-9", "f": ["a", "b"]}]  # fmt: skip
    with pytest.raises(ConfigError, match="is not after the last"):
        check_file(backup_file(tmp_path / "b.gz", "t", back))


async def test_a_backup_never_writes_into_a_show_that_has_keys(
    live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Stream lines alone (no key line) must not append to a live ledger: its chain would
    break for good (the app's ACL cannot take an entry back)."""
    ledger = live.rt.store.keys("t").ledger
    before = await live.rt.store.client.xlen(ledger)
    row = {"s": ":{t}:ledger", "id": "99999999999999-0", "f": ["k", "vote", "forged", "1"]}
    file = backup_file(tmp_path / "b.gz", "t", [row])
    code, _, err = await run_cli(live, monkeypatch, capsys, "restore", str(file), "--no-progress")
    assert code != 0 and "has keys under prefix" in err, err
    assert await live.rt.store.client.xlen(ledger) == before


async def test_a_push_refused_for_a_full_queue_counts_when_sent_again(
    douyin_live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps([comment("q1", "u1", "投2")], ensure_ascii=False).encode()
    headers = push_headers(body, "live_comment")
    ingest = douyin_live.rt.ingest
    real = ingest.submit

    def full(show_id: str, events: list[Any]) -> None:
        raise Unavailable("too many platform pushes waiting; send again")

    monkeypatch.setattr(ingest, "submit", full)
    async with douyin_live.client() as http:
        first = await http.post("/ingest/douyin/t", content=body, headers=headers)
        monkeypatch.setattr(ingest, "submit", real)
        again = await http.post("/ingest/douyin/t", content=body, headers=headers)
    assert first.status_code == 503
    assert again.json() == {"status": "ok", "received": 1}  # the retry is not a "replay"


async def test_a_good_signature_gives_back_only_what_it_took(douyin_live: LiveServer) -> None:
    store = douyin_live.rt.ingest.store
    assert await store.reserve_check("t", "268", "addr", 5, 5) == 0
    keys = store._checks("t", "268", "addr")
    await douyin_live.rt.store.client.delete(*keys)  # the window ended meanwhile
    await store.give_back("t", "268", "addr")
    assert [await douyin_live.rt.store.client.get(k) for k in keys] == [None, None]
