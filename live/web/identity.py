"""Device identity: a random id in a signed, HttpOnly, SameSite cookie. No account needed.

Above it, the verified identities a device holds (phone, WeChat, OIDC) travel in a second signed
cookie, ``live_identity`` (:class:`Identities`): bound to the device id, carrying each
identity's keyed hash, its masked label and when it was verified. Signed rather than looked up
so that a vote needs no extra Redis read (and works alike on every process and cluster node);
the server keeps no binding table that could leak.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from pathlib import Path

from itsdangerous import BadSignature, Signer, URLSafeSerializer, URLSafeTimedSerializer

from live.domain.errors import ConfigError, DeviceRequired
from live.domain.identity import TIERS, Claim

COOKIE = "live_device"
MAX_AGE = 60 * 60 * 24 * 365
IDENTITY_COOKIE = "live_identity"
IDENTITY_MAX_AGE = 60 * 60 * 24 * 3650
"""The browser may keep it long; each claim's age is checked against the show's retention."""


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


class Identities:
    """Issues and reads the signed ``live_identity`` cookie (itsdangerous: constant-time)."""

    def __init__(self, secret: str) -> None:
        if not secret.strip():
            raise ConfigError("the identity cookie key is empty: set LIVE_SECRET_KEY")
        self._serializer = URLSafeSerializer(secret, salt="live.identity")
        self.signin = URLSafeTimedSerializer(secret, salt="live.signin")
        """Signs the ``live_signin`` cookie: state, nonce and PKCE verifier of a sign-in."""

    def read(self, cookie: str | None, device: str) -> tuple[Claim, ...]:
        """The claims in ``cookie`` if it is genuine and bound to ``device``; else none."""
        if not cookie:
            return ()
        try:
            data = self._serializer.loads(cookie)
        except BadSignature:
            return ()
        if not isinstance(data, dict) or data.get("d") != device:
            return ()
        out = []
        for item in data.get("c", []):
            kind, ident, label, at = item
            if kind in TIERS:
                out.append(Claim(kind, str(ident), str(label), int(at)))
        return tuple(out)

    def add(self, claims: tuple[Claim, ...], claim: Claim, device: str) -> str:
        """The cookie value holding ``claims`` with ``claim`` in place of any of its kind."""
        kept = [c for c in claims if c.kind != claim.kind] + [claim]
        body = {"d": device, "c": [[c.kind, c.hash, c.label, c.at] for c in kept]}
        value: str = self._serializer.dumps(body)
        return value


def load_or_create_secret(data_dir: Path, name: str = "secret.key") -> str:
    """The signing key kept in ``<data>/secret.key`` (0600), made on first use (``name``:
    another key kept the same way, such as ``identity.key``).

    Every process started on the same data folder shares it, so a cookie signed by one worker
    verifies in another. The file appears atomically with its content (written and fsynced
    under a temporary name, then hard-linked into place, which fails if another process got
    there first), so a worker racing another never reads a half-written key. An empty key is
    refused: it would sign cookies anyone can forge.
    """
    path = data_dir / name
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
