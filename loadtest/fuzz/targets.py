"""The fuzz targets: raw bytes in, and only the parser's documented errors out.

Each target feeds its input to one parser exactly as the server or the CLI does. A documented
refusal (:class:`live.domain.errors.LiveError`,
:class:`live.domain.reconcile.eurovision.PointsFileError`) is the parser working; any other
exception is a crash.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from live.domain.ballot import parse_like, parse_vote
from live.domain.errors import LiveError
from live.domain.identity import (
    PhoneStartIn,
    PhoneVerifyIn,
    check_code_shape,
    mask_phone,
    normalize_phone,
)
from live.domain.judging import check_marks
from live.domain.protocol import decode
from live.domain.reconcile.eurovision import PointsFileError, contest_inputs, read_points
from live.domain.show import Show, load_show, parse_show
from live.web.schemas import SheetIn, parse_model

ROOT = Path(__file__).resolve().parent
SHOW: Show = load_show(ROOT.parent.parent / "tests" / "data" / "show.toml")


def show_file(data: bytes) -> None:
    """A show file, as ``load_show`` reads it: UTF-8, TOML, then the model and its checks."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # load_show reports these as a (syntax) problem
    try:
        parse_show(doc, "<fuzz>")
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
}

SEEDS: dict[str, list[bytes]] = {
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
