"""The fuzz targets: raw bytes in, and only the parser's documented errors out.

Each target feeds its input to one parser exactly as the server or the CLI does. A documented
refusal (:class:`live.domain.errors.LiveError`,
:class:`live.domain.reconcile.eurovision.PointsFileError`) is the parser working; any other
exception is a crash.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from live.cli.backup import check_file
from live.cli.sealed import MAGIC, opener
from live.domain.ballot import parse_like, parse_vote
from live.domain.comments import CommentIn, clean_text
from live.domain.errors import LiveError
from live.domain.identity import (
    PhoneStartIn,
    PhoneVerifyIn,
    check_code_shape,
    mask_phone,
    normalize_phone,
)
from live.domain.ingest import bilibili, douyin, twitch
from live.domain.judging import check_marks
from live.domain.protocol import decode
from live.domain.reconcile.eurovision import PointsFileError, contest_inputs, read_points
from live.domain.roster import read_roster, read_sheet
from live.domain.setup import browser_problems, parse_show_text
from live.domain.show import Show, load_show
from live.domain.wordfilter import WordFilter
from live.web.photos import reencode
from live.web.schemas import SheetIn, parse_model

ROOT = Path(__file__).resolve().parent
SHOW: Show = load_show(ROOT.parent.parent / "tests" / "data" / "show.toml")
BACKUP_FILE = Path(tempfile.gettempdir()) / f"live-fuzz-backup-{os.getpid()}"
COMMENT_FILTER = WordFilter(["赌博", "刷票", "sb"], ["反赌博"])


def show_file(data: bytes) -> None:
    """A show file, as a browser show's definition is read (``parse_show_text``: TOML, the
    model and its checks, nesting refused), then what a browser show may not have."""
    try:
        show = parse_show_text(data.decode("utf-8"), "<fuzz>")
        browser_problems(show)
    except UnicodeDecodeError:
        return  # the route answers 400 before parsing
    except LiveError:
        pass


def roster(data: bytes) -> None:
    """A contestant sheet (``POST /api/shows/{show}/roster``), as CSV and as XLSX: the bounded
    reader, then the rows checked."""
    for name in ("fuzz.csv", "fuzz.xlsx"):
        try:
            header, rows = read_sheet(data, name)
            read_roster(header, rows)
        except (ValueError, LiveError):
            pass


def image(data: bytes) -> None:
    """A contestant photo upload: the header checked, decoded, re-encoded as WebP."""
    try:
        reencode(data)
    except LiveError:
        pass


def backup(data: bytes) -> None:
    """A backup file as ``live restore`` reads it before writing anything (gzip'd JSON lines,
    or sealed: then opened with a passphrase of ours, which fails on the first chunk)."""
    BACKUP_FILE.write_bytes(data)
    try:
        check_file(BACKUP_FILE, opener("a passphrase of the fuzzer"))
    except LiveError:
        pass


def douyin_push(data: bytes) -> None:
    """A Douyin push: its headers (the first line, ``k=v&k=v``) and body (the rest): the
    timestamp's freshness, the signature, then the messages."""
    head, _, body = data.partition(b"\n")
    headers = dict(
        part.split("=", 1) for part in head.decode("utf-8", "replace").split("&") if "=" in part
    )
    douyin.fresh(headers, 1_700_000_000_000)
    douyin.signed(headers, body, "secret")
    try:
        douyin.parse_push(headers, body)
    except douyin.BadPush:
        pass


def bilibili_frame(data: bytes) -> None:
    """One websocket message of bilibili's live socket: packets (compressed ones opened),
    then each message packet's JSON as an event."""
    try:
        packets = bilibili.decode(data)
    except bilibili.BadPacket:
        return
    for packet in packets:
        if packet.op != bilibili.OP_MESSAGE:
            continue
        try:
            message = packet.json()
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(message, dict):
            bilibili.event_of(message, "1")


def twitch_message(data: bytes) -> None:
    """One EventSub websocket message (JSON), as the adapter reads it."""
    try:
        message = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    if isinstance(message, dict):
        twitch.parse(message, "4242")


def comment(data: bytes) -> None:
    """A viewer's comment: the body, the text cleaned, then the word filter's verdict."""
    try:
        body = parse_model(CommentIn, data)
        COMMENT_FILTER.check(clean_text(body.text, 500)).masked()
    except LiveError:
        pass


def vote(data: bytes) -> None:
    """The body of ``POST /api/shows/{show}/votes``."""
    try:
        parse_vote(data)
    except LiveError:
        pass


def like(data: bytes) -> None:
    """The body of ``POST /api/shows/{show}/likes``."""
    try:
        parse_like(data, SHOW)
    except LiveError:
        pass


def sheet(data: bytes) -> None:
    """A judge's sheet change: the request model, then the marks against the criteria."""
    try:
        body = parse_model(SheetIn, data)
        check_marks(SHOW.criteria, dict(body.marks), complete=body.op in ("submit", "lock"))
    except LiveError:
        pass


def ws_message(data: bytes) -> None:
    """A websocket text frame (valid UTF-8 by the protocol), then its vote or like body."""
    text = data.decode("utf-8", "replace")
    try:
        kind, body = decode(text)
        if kind == "vote":
            parse_vote(body)
        elif kind == "like":
            parse_like(body, SHOW)
    except LiveError:
        pass


def points(data: bytes) -> None:
    """An imported points file (``live reconcile --points``): CSV rows, then every contest."""
    try:
        rows = read_points(data.decode("utf-8", "replace").splitlines(keepends=True))
        for year, round_ in sorted({(r.year, r.round) for r in rows})[:3]:
            contest_inputs(rows, year, round_)
    except PointsFileError:
        pass


def phone(data: bytes) -> None:
    """The bodies of ``POST /api/identity/phone/start`` and ``/verify``: the model, the number
    (E.164, masked) and the code's shape."""
    try:
        start = parse_model(PhoneStartIn, data)
        mask_phone(normalize_phone(start.phone))
    except LiveError:
        pass
    try:
        verify = parse_model(PhoneVerifyIn, data)
        mask_phone(normalize_phone(verify.phone))
        check_code_shape(verify.code)
    except LiveError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "show": show_file,
    "vote": vote,
    "like": like,
    "sheet": sheet,
    "ws": ws_message,
    "points": points,
    "phone": phone,
    "roster": roster,
    "image": image,
    "backup": backup,
    "douyin": douyin_push,
    "bilibili": bilibili_frame,
    "twitch": twitch_message,
    "comment": comment,
}


def _xlsx_seed() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["编号", "姓名", "name_en", "单位", "organisation_en", "领域", "成果",
                  "innovation_en"])  # fmt: skip
    sheet.append(["01", "张三", "Zhang San", "工厂", "Works", "craft", "成果", "Innovation"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _image_seed(form: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), "#c00").save(out, format=form)
    return out.getvalue()


def _backup_seed() -> bytes:
    lines = [
        {"format": "live-backup", "version": 1, "show": "t", "prefix": "x", "partitions": 1,
         "created": 1, "registry": None},
        {"key": ":{t}:stage", "type": "hash", "value": ["phase", "waiting"]},
        {"key": ":{t}:ledger", "type": "stream", "last": "1-0"},
        {"s": ":{t}:ledger", "id": "1-0", "f": ["k", "vote"]},
        {"end": True, "keys": 2, "entries": 1},
    ]  # fmt: skip
    return gzip.compress("".join(json.dumps(r) + "\n" for r in lines).encode())


def _bilibili_seed(version: int) -> bytes:
    message = {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": {"msg_id": "m1", "open_id": "o1",
               "msg": "投1", "timestamp": 1_900_000_000, "room_id": 1}}  # fmt: skip
    inner = bilibili.encode(bilibili.Packet(bilibili.OP_MESSAGE, json.dumps(message).encode()))
    if version == bilibili.PLAIN:
        return inner
    return bilibili.encode(bilibili.Packet(bilibili.OP_MESSAGE, inner, version))


SEEDS: dict[str, list[bytes]] = {
    "roster": [
        "编号,姓名,name_en,单位,organisation_en,领域,成果,innovation_en\n"
        "01,张三,Zhang San,工厂,Works,craft,成果,Innovation\n".encode(),
        _xlsx_seed(),
    ],
    "image": [_image_seed("PNG"), _image_seed("JPEG"), _image_seed("WEBP")],
    "backup": [_backup_seed(), MAGIC + bytes([15]) + b"s" * 16 + b"\0" * 40],
    "douyin": [
        b"x-nonce-str=n1&x-timestamp=1700000000&x-roomid=268&x-msg-type=live_comment"
        b"&x-signature=AAAA\n"
        + json.dumps(
            [{"msg_id": "m1", "sec_openid": "u1", "content": "投2", "timestamp": 1700000000}]
        ).encode(),
        b"x-msg-type=live_like&x-timestamp=1700000000000\n"
        b'[{"msg_id":"m2","sec_openid":"u2","like_num":"7"}]',
    ],
    "bilibili": [
        _bilibili_seed(bilibili.PLAIN),
        _bilibili_seed(bilibili.ZLIB),
        _bilibili_seed(bilibili.BROTLI),
    ],
    "twitch": [
        json.dumps(
            {
                "metadata": {
                    "message_id": "m1",
                    "message_type": "notification",
                    "message_timestamp": "2026-12-07T20:00:00Z",
                },
                "payload": {
                    "subscription": {"type": "channel.chat.message"},
                    "event": {"chatter_user_id": "9", "message": {"text": "#2"}},
                },
            }
        ).encode(),
        json.dumps(
            {
                "metadata": {"message_id": "m0", "message_type": "session_welcome"},
                "payload": {"session": {"id": "s1", "keepalive_timeout_seconds": 10}},
            }
        ).encode(),
    ],
    "twitch_regressions": [
        b'{"metadata": "x", "payload": []}',
        b'{"metadata": {"message_type": "session_welcome"}, "payload": {"session": '
        b'{"keepalive_timeout_seconds": "abc", "id": [[[1]]]}}}',
        b'{"metadata": {"message_type": "notification", "message_id": ["m"]}, "payload": {}}',
    ],
    "comment": [
        '{"text":"来賭 博 www.x.com 138 1234 1234","comment_id":"abcdefgh"}'.encode(),
        b'{"text":"hi","comment_id":"c0mment-1"}',
    ],
    "show": [
        (ROOT.parent.parent / "tests" / "data" / "show.toml").read_bytes(),
        (ROOT.parent.parent / "live" / "shows" / "demo.toml").read_bytes(),
    ],
    "vote": [b'{"category":"cap20","contestant":"p1","vote_id":"abcdefgh1"}'],
    "like": [b'{"n":5}'],
    "sheet": [
        json.dumps(
            {
                "op": "submit",
                "save_id": "s1",
                "base": 0,
                "marks": {"innovation": 20, "craft": "20.5", "presentation": 10, "impact": 10},
            }
        ).encode(),
        b'{"op":"save","save_id":"s2","marks":{"craft":1.5}}',
    ],
    "ws": [
        b'{"type":"vote","category":"cap20","contestant":"p1","vote_id":"abcdefgh1"}',
        b'{"type":"like","n":3}',
        b'{"type":"ping"}',
    ],
    "phone": [
        b'{"phone":"138 1234 1234"}',
        b'{"phone":"+447700900123","code":"024816"}',
        b'{"phone":"0086-138-1234-1234","captcha":"token"}',
    ],
    "points": [
        b"year,round,from_country,to_country,jury_points,televoting_points\n"
        b"2019,final,Sweden,Norway,12,8\n2019,final,Norway,Sweden,10,NA\n"
    ],
}
SEEDS["twitch"] += SEEDS.pop("twitch_regressions")  # inputs that crashed once (kept as seeds)
