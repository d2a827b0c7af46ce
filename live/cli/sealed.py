"""Backups sealed with a passphrase: scrypt for the key, AES-256-GCM for the data, in chunks.

A backup holds the ledger and the key of the show's pseudonyms: whoever reads one can reverse
every IPv4 pseudonym (2^32 guesses). ``live backup --encrypt`` seals it under a passphrase
(``LIVE_BACKUP_PASSPHRASE``) the way age's passphrase recipients do, from ``cryptography``'s
primitives (why hand-written: ``cryptography`` has no streaming AEAD, and Fernet holds the whole
file in memory, where a backup may be gigabytes):

- the file starts with :data:`MAGIC`, ``log2(N)`` of scrypt (one byte) and a 16-byte salt;
- the key is ``scrypt(passphrase, salt, N, r=8, p=1)``, 32 bytes;
- the data follows in chunks of :data:`CHUNK` bytes (the last one shorter, possibly empty), each
  sealed with AES-256-GCM under the nonce ``counter (11 bytes, big-endian) || last (1 byte)``
  and the header as associated data: the STREAM construction (Hoang, Reyhanitabar, Rogaway,
  Vizár, 2015) age uses. A chunk moved, dropped, or a file cut at a chunk's edge fails to open;
  so does a wrong passphrase.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import IO, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from live.domain.errors import ConfigError

MAGIC = b"live-backup-sealed/1\n"
CHUNK = 64 * 1024
TAG = 16
LOG_N = 15
"""scrypt's cost: N = 2^15, r = 8 (32 MB, ~0.1 s), age's work factor for a file at rest."""
MAX_LOG_N = 16
"""The costliest scrypt a file may ask for (2^16: 64 MB): a hostile file asking for 2^20 would
cost a gigabyte before its first chunk is checked."""
MIN_PASSPHRASE = 12


class SealError(ConfigError):
    """A sealed backup that cannot be opened: a wrong passphrase, or a damaged file."""


def sealed(path_or_head: bytes) -> bool:
    """Whether these first bytes are a sealed backup's."""
    return path_or_head.startswith(MAGIC)


def _key(passphrase: str, salt: bytes, log_n: int) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ConfigError(f"LIVE_BACKUP_PASSPHRASE: at least {MIN_PASSPHRASE} characters")
    return Scrypt(salt=salt, length=32, n=2**log_n, r=8, p=1).derive(passphrase.encode())


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class SealingWriter(io.RawIOBase):
    """Write-only: seals what is written into ``raw`` (closed with it)."""

    def __init__(self, raw: BinaryIO, passphrase: str, log_n: int = LOG_N) -> None:
        super().__init__()
        salt = os.urandom(16)
        self.header = MAGIC + bytes([log_n]) + salt
        self.aead = AESGCM(_key(passphrase, salt, log_n))
        self.raw = raw
        self.raw.write(self.header)
        self.buffer = bytearray()
        self.counter = 0

    def writable(self) -> bool:
        return True

    def _emit(self, data: bytes, last: bool) -> None:
        self.raw.write(self.aead.encrypt(_nonce(self.counter, last), data, self.header))
        self.counter += 1

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        # Keep at least one byte back: the last chunk must be sealed as the last one.
        while len(self.buffer) > CHUNK:
            self._emit(bytes(self.buffer[:CHUNK]), False)
            del self.buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self.buffer), True)
            self.raw.close()
        super().close()


class OpeningReader(io.RawIOBase):
    """Read-only: the data of a sealed backup, checked chunk by chunk."""

    def __init__(self, raw: BinaryIO, key_of: Callable[[int, bytes], bytes]) -> None:
        super().__init__()
        head = raw.read(len(MAGIC) + 17)
        if (
            len(head) < len(MAGIC) + 17
            or not sealed(head)
            or not 10 <= head[len(MAGIC)] <= MAX_LOG_N
        ):
            raise SealError("not a sealed backup")
        self.header = head
        self.aead = AESGCM(key_of(head[len(MAGIC)], head[len(MAGIC) + 1 :]))
        self.raw = raw
        self.counter = 0
        self.done = False
        self.ahead = b""
        self.plain = b""

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        want = CHUNK + TAG
        data = self.ahead + self.raw.read(want - len(self.ahead))
        self.ahead = self.raw.read(1) if len(data) == want else b""
        last = not self.ahead
        try:
            self.plain = self.aead.decrypt(_nonce(self.counter, last), data, self.header)
        except InvalidTag:
            raise SealError("a wrong passphrase, or the file is damaged or cut short") from None
        self.counter += 1
        self.done = last

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.plain and not self.done:
            self._next()
        n = min(len(buffer), len(self.plain))
        buffer[:n] = self.plain[:n]
        self.plain = self.plain[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def opener(passphrase: str | None) -> Callable[[BinaryIO], IO[bytes]]:
    """A function that opens a backup file's bytes: sealed ones with ``passphrase`` (the key
    derived once, however often the file is read again), plain ones as they are."""
    keys: dict[tuple[int, bytes], bytes] = {}

    def key_of(log_n: int, salt: bytes) -> bytes:
        if not passphrase:
            raise ConfigError("the backup is sealed: set LIVE_BACKUP_PASSPHRASE")
        if (log_n, salt) not in keys:
            keys[(log_n, salt)] = _key(passphrase, salt, log_n)
        return keys[(log_n, salt)]

    def open_(raw: BinaryIO) -> IO[bytes]:
        """``raw`` opened (it is closed with what this returns, or now if it cannot be)."""
        try:
            head = raw.read(len(MAGIC))
            raw.seek(0)
            if not sealed(head):
                return raw
            return io.BufferedReader(OpeningReader(raw, key_of), CHUNK)
        except BaseException:
            raw.close()
            raise

    return open_
