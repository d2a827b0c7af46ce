"""Device identity: a random id in a signed, HttpOnly, SameSite cookie. No account needed."""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import time
from pathlib import Path

from itsdangerous import BadSignature, Signer

from live.errors import DeviceRequired

COOKIE = "live_device"
MAX_AGE = 60 * 60 * 24 * 365


class Devices:
    """Issues and verifies device cookies (itsdangerous compares in constant time)."""

    def __init__(self, secret: str) -> None:
        self._signer = Signer(secret, salt="live.device")

    def issue(self, now_ms: int | None = None) -> tuple[str, str]:
        """A new device id and its cookie value.

        The id starts with its creation time (``<ms, hex>.<random>``): signed with the rest, so
        the fraud signals can tell how long a device existed before it voted.
        """
        born = int(time.time() * 1000) if now_ms is None else now_ms
        device = f"{born:x}.{secrets.token_urlsafe(16)}"
        return device, self._signer.sign(device).decode()

    def verify(self, cookie: str | None) -> str:
        """The device id in a cookie; :class:`DeviceRequired` if missing or forged."""
        if not cookie:
            raise DeviceRequired("no device cookie: open the show page first")
        try:
            return self._signer.unsign(cookie).decode()
        except BadSignature:
            raise DeviceRequired("the device cookie is not valid") from None


def load_or_create_secret(data_dir: Path) -> str:
    """The signing key kept in ``<data>/secret.key`` (0600), made on first use.

    Every process started on the same data folder shares it, so a cookie signed by one
    worker verifies in another.
    """
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        key = secrets.token_urlsafe(32)
        f.write(key)
    return key


def born_of(device: str) -> int:
    """When a device id was issued (ms since the epoch), or 0 if the id does not say."""
    head, dot, _ = device.partition(".")
    if not dot or not 8 <= len(head) <= 12:
        return 0
    try:
        return int(head, 16)
    except ValueError:
        return 0


@functools.lru_cache(maxsize=65_536)
def subnet_of(ip: str) -> str:
    """The network a vote is rate-limited with: the /24 for IPv4, the /64 for IPv6.

    Cached: parsing an address costs ~5 µs and every vote (and the fraud consumer) asks."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (a test client or a unix socket): its own bucket
    bits = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))
