"""Device identity: a random id in a signed, HttpOnly, SameSite cookie. No account needed."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from pathlib import Path

from itsdangerous import BadSignature, Signer

from live.domain.errors import ConfigError, DeviceRequired

COOKIE = "live_device"
MAX_AGE = 60 * 60 * 24 * 365


class _Signer(Signer):
    """itsdangerous derives the signing key from the secret and salt (an HMAC) on every sign
    and verify; the secret never changes while the process runs, so it is derived once."""

    def __init__(self, secret: str, salt: str) -> None:
        super().__init__(secret, salt=salt)
        self._derived: dict[bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = secret_key.encode() if isinstance(secret_key, str) else secret_key
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = super().derive_key(secret_key)
        return found


class Devices:
    """Issues and verifies device cookies (itsdangerous compares in constant time)."""

    def __init__(self, secret: str) -> None:
        if not secret.strip():
            raise ConfigError("the device cookie key is empty: set LIVE_SECRET_KEY")
        self._signer = _Signer(secret, salt="live.device")

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

    Every process started on the same data folder shares it, so a cookie signed by one worker
    verifies in another. The file appears atomically with its content (written and fsynced
    under a temporary name, then hard-linked into place, which fails if another process got
    there first), so a worker racing another never reads a half-written key. An empty key is
    refused: it would sign cookies anyone can forge.
    """
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # the first process's key wins; the others read it
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it (a new key is made) or set LIVE_SECRET_KEY")
    return key
