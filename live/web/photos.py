"""Contestant photos: an upload checked and re-encoded before anything is kept.

Only JPEG, PNG and WebP are read (Pillow is told the formats, so an SVG, an HTML page named
``.png`` or any other file is refused by what it is, not by its name or Content-Type). The
image is decoded, limited in pixels (a decompression bomb is refused), turned upright by its
EXIF orientation, scaled to at most :data:`MAX_SIDE` and written again as WebP without any
metadata (no EXIF, GPS, ICC or XMP leaves the server). The stored bytes are ours, not the
uploader's.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from live.domain.errors import BadRequest, Busy

FORMATS = ("JPEG", "PNG", "WEBP")
MAX_BYTES = 8 * 1024 * 1024
"""An upload larger than this is refused (413) before it is read in full."""
MAX_PIXELS = 16_000_000
"""Pixels of an upload, read from its header before anything is decoded: a 16 M-pixel image
decodes to 64 MB (RGBA), where a 155 KB PNG of 6324 x 6324 would cost ~530 MB. A phone's photo
(12 MP) passes."""
MAX_SIDE = 1200


class BadImage(BadRequest):
    code = "bad_image"


async def reencode_one(data: bytes, decoding: asyncio.Lock) -> tuple[bytes, str]:
    """:func:`reencode` off the event loop, one image at a time per process (``decoding`` is
    the process's lock): a second upload meanwhile is 503 ``busy``, never a second decode."""
    if decoding.locked():
        raise Busy("another image is being decoded here: try again in a moment")
    async with decoding:
        return await asyncio.to_thread(reencode, data)


def reencode(data: bytes) -> tuple[bytes, str]:
    """The upload as a clean WebP, and its revision (the first 12 hex digits of its SHA-256);
    :class:`BadImage` if it is not a JPEG, PNG or WebP image that decodes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise BadImage(f"the image has more than {MAX_PIXELS:,} pixels")
                img.load()
                upright = ImageOps.exif_transpose(img) or img
                clean = upright.convert("RGB")
    except BadImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("not a JPEG, PNG or WebP image") from None
    except (OSError, ValueError, SyntaxError):
        raise BadImage("the image could not be decoded") from None
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=82, method=4)  # no exif=, icc_profile=: none kept
    webp = out.getvalue()
    return webp, hashlib.sha256(webp).hexdigest()[:12]
