"""What viewers share: QR codes (segno) and a contestant's poster (Pillow).

QR codes are SVG for pages (sharp at any size, no image request) and PNG inside the poster.
A poster is drawn once per (contestant as shown, address) and kept: it changes only with an
edit made before the show, and drawing one costs ~50 ms of CPU.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from live.domain.show import Contestant, Show

log = logging.getLogger("live.share")

FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)
"""Fonts with Chinese glyphs, first found wins (Debian's fonts-noto-cjk, which `make test`
installs for Chromium too)."""

POSTER_SIZE = (750, 1334)


def qr_svg(url: str, scale: int = 6, title: str = "") -> str:
    """An inline SVG of a QR code of ``url`` (medium error correction, dark on light)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(
        out,
        kind="svg",
        scale=scale,
        border=2,
        dark="#111",
        light="#fff",
        xmldecl=False,
        svgns=True,
        title=title or None,
        nl=False,
    )
    return out.getvalue().decode()


@lru_cache(maxsize=8)
def _font_file() -> Path | None:
    for path in FONTS:
        if path.exists():
            return path
    log.warning("no CJK font found (%s): posters fall back to Pillow's font", FONTS[0])
    return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_file()
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (by character: Chinese has no spaces)."""
    lines, line = [], ""
    for ch in text:
        if draw.textlength(line + ch, font=font) > width and line:  # type: ignore[arg-type]
            lines.append(line)
            line = ch.lstrip()
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


@lru_cache(maxsize=256)
def poster_png(show: Show, contestant: Contestant, url: str, photo: bytes | None = None) -> bytes:
    """A share poster: the show's title, the contestant's photo (if any), number, name,
    organisation and innovation, and a QR code of ``url`` (the contestant's page). PNG."""
    w, h = POSTER_SIZE
    img = Image.new("RGB", (w, h), "#0b1f3a")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w, 120), fill="#c8102e")
    draw.text((40, 36), show.title, font=_font(40), fill="#fff")
    top = 160
    if photo:
        try:
            with Image.open(io.BytesIO(photo)) as raw:
                pic = raw.convert("RGB")
            pic.thumbnail((w - 160, 520))
            img.paste(pic, ((w - pic.width) // 2, top))
            top += pic.height + 30
        except OSError:
            log.warning("poster of %s/%s: its photo could not be read", show.id, contestant.id)
    draw.text((40, top), f"No. {contestant.label}", font=_font(44), fill="#ffd166")
    top += 70
    for line in _wrap(draw, contestant.name, _font(64), w - 80)[:2]:
        draw.text((40, top), line, font=_font(64), fill="#fff")
        top += 80
    for text, size, colour in (
        (contestant.organisation, 32, "#cfd8e3"),
        (contestant.innovation, 36, "#fff"),
    ):
        for line in _wrap(draw, text, _font(size), w - 80)[:3]:
            draw.text((40, top), line, font=_font(size), fill=colour)
            top += size + 14
        top += 10
    qr = io.BytesIO()
    segno.make(url, error="m").save(qr, kind="png", scale=8, border=2)
    with Image.open(io.BytesIO(qr.getvalue())) as code:
        code_img = code.convert("RGB")
    side = min(300, code_img.width)
    code_img = code_img.resize((side, side), Image.Resampling.NEAREST)
    img.paste(code_img, ((w - side) // 2, h - side - 110))
    hint = "扫码为TA投票 · Scan to vote"
    font = _font(30)
    draw.text(((w - draw.textlength(hint, font=font)) // 2, h - 90), hint, font=font, fill="#fff")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
