"""``live backup`` and ``live restore``: everything of one show in one file, and back.

The file is gzip'd JSON lines: a header (``format``, ``show``, ``prefix``, ``partitions``,
``created``, ``registry``), then per partition its keys (``{"key", "type", "value"}``; a stream
as ``{"key", "type": "stream", "last"}`` followed by its entries ``{"s", "id", "f"}``), and an
``{"end": true, "keys", "entries"}`` line: a file without it (cut short) is refused before
anything is written. A restore writes into a Redis (or under a prefix) holding nothing of the
show; afterwards ``live verify`` passes and the chain heads are the ones backed up.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from tqdm import tqdm

from live.cli.sealed import CHUNK, SealingWriter, opener
from live.domain.errors import ConfigError
from live.redis.backup import Backups, Record, restorable
from live.redis.store import Store

FORMAT = "live-backup"
MAX_PARTITIONS = 64
"""As a show file allows."""
VERSION = 1
BATCH = 1000


def _line(out: Any, row: dict[str, Any]) -> None:
    out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


@contextlib.contextmanager
def _writing(path: Path, passphrase: str | None) -> Iterator[TextIO]:
    """A new file only its owner may read (0600: a backup is personal data), gzip'd JSON
    lines, sealed under ``passphrase`` when one is given."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing temporary file keeps no wider mode
    raw: BinaryIO = os.fdopen(fd, "wb")
    sink: BinaryIO = (
        cast(BinaryIO, io.BufferedWriter(SealingWriter(raw, passphrase), CHUNK))
        if passphrase
        else raw
    )
    with sink, gzip.GzipFile(fileobj=sink, mode="wb") as packed:
        with io.TextIOWrapper(packed, encoding="utf-8") as text:
            yield text


async def backup(
    store: Store,
    show: str,
    partitions: int,
    out: Path,
    progress: bool,
    passphrase: str | None = None,
) -> dict[str, int]:
    """Write the backup of ``show`` to ``out`` (atomically: a temporary file, renamed; mode
    0600; sealed under ``passphrase`` when one is given: :mod:`live.cli.sealed`)."""
    backups = Backups(store)
    total = sum([await store.ledger_length(show, p) for p in range(partitions)])
    bar = tqdm(total=int(total), unit=" entries", desc="backup", file=sys.stderr,
               disable=not progress, mininterval=0.5)  # fmt: skip
    keys = entries = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with bar, _writing(tmp, passphrase) as fh:
        header = {
            "format": FORMAT,
            "version": VERSION,
            "show": show,
            "prefix": store.prefix,
            "partitions": partitions,
            "created": int(time.time() * 1000),
            "registry": await backups.registered(show),
        }
        _line(fh, header)
        for part in range(partitions):
            records = await backups.read_partition(show, part)
            for rec in records:
                keys += 1
                if rec.type != "stream":
                    _line(fh, {"key": rec.key, "type": rec.type, "value": rec.value})
                    continue
                _line(fh, {"key": rec.key, "type": "stream", "last": rec.value})
                async for entry_id, flat in backups.stream(store.prefix + rec.key, rec.value):
                    _line(fh, {"s": rec.key, "id": entry_id, "f": flat})
                    entries += 1
                    bar.update()
        _line(fh, {"end": True, "keys": keys, "entries": entries})
    tmp.replace(out)
    return {"keys": keys, "entries": entries}


MAX_LINE = 256 * 1024 * 1024
"""The longest line a backup may have (one key: a show's photos hash is its largest)."""
TYPES = ("hash", "set", "zset", "list", "string", "stream")
SHOW_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
ENTRY_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


Opener = Callable[[BinaryIO], IO[bytes]]


def _rows(path: Path, open_: Opener) -> Iterator[dict[str, Any]]:
    with (
        open_(path.open("rb")) as raw,
        gzip.GzipFile(fileobj=raw, mode="rb") as packed,
        io.TextIOWrapper(packed, encoding="utf-8") as fh,
    ):
        while line := fh.readline(MAX_LINE + 1):
            if len(line) > MAX_LINE:
                raise ValueError(f"a line longer than {MAX_LINE:,} characters")
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line that is not a JSON object")
            yield row


def _strings(value: Any, even: bool = False) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) for v in value)
        and (not even or len(value) % 2 == 0)
    )


SHAPES = (
    frozenset({"end", "keys", "entries"}),
    frozenset({"s", "id", "f"}),
    frozenset({"key", "type", "value"}),
    frozenset({"key", "type", "last"}),
)
"""The only lines a backup has after its header: exactly these fields (a line with more, say
an end line that also names a key, is refused: each line is one thing)."""


def row_problem(row: dict[str, Any], show: str, partitions: int) -> str:
    """What is wrong with one line of a backup of ``show`` ('' if nothing): a line of no known
    shape, a key of another show or of an ephemeral family (sessions, login tokens), an unknown
    type, a value of the wrong shape, a stream entry with a malformed id."""
    if frozenset(row) not in SHAPES:
        return f"a line with the fields {sorted(row)[:6]} is not a backup's line"
    if "end" in row:
        counts = (row["keys"], row["entries"])
        ok = row["end"] is True and all(isinstance(n, int) and n >= 0 for n in counts)
        return "" if ok else "a bad end line"
    if "s" in row:
        key, entry, fields = row["s"], row["id"], row["f"]
        if not isinstance(key, str) or not restorable(key, show, partitions):
            return f"stream {key!r} is not a key of show {show!r} a restore may write"
        if not isinstance(entry, str) or not ENTRY_ID.fullmatch(entry) or entry == "0-0":
            return f"stream {key!r}: entry id {entry!r} is not one"
        if not _strings(fields, even=True) or not fields:
            return f"stream {key!r}: entry {entry} has no field list"
        return ""
    key, kind = row["key"], row["type"]
    value = row.get("value", row.get("last"))
    if not isinstance(key, str) or not restorable(key, show, partitions):
        return f"key {key!r} is not a key of show {show!r} a restore may write"
    if kind not in TYPES or (kind == "stream") != ("last" in row):
        return f"key {key!r}: unknown type {kind!r}"
    if kind in ("string", "stream"):
        ok = isinstance(value, str)
    else:
        ok = _strings(value, even=kind in ("hash", "zset"))
        if ok and kind == "zset":
            ok = all(_number(v) for v in cast(list[str], value)[1::2])
    return "" if ok else f"key {key!r}: its value is not a {kind}"


def _number(text: str) -> bool:
    """A score Redis takes (``nan`` is not one; ``inf`` is none a backup holds)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _entry(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def check_file(path: Path, open_: Opener | None = None) -> dict[str, Any]:
    """The header of a complete backup file whose every line is a key of the show the header
    names, or :class:`ConfigError` saying what is wrong (nothing is written before this): the
    end line is the last; each stream's entries follow each other in increasing ids."""
    try:
        rows = _rows(path, open_ or opener(None))
        header = next(rows)
        if header.get("format") != FORMAT or header.get("version") != VERSION:
            raise ConfigError(f"{path}: not a live backup (format {FORMAT} {VERSION})")
        show, partitions = header.get("show"), header.get("partitions")
        if not isinstance(show, str) or not SHOW_ID.fullmatch(show):
            raise ConfigError(f"{path}: the header names no show id ({show!r})")
        if not isinstance(partitions, int) or not 1 <= partitions <= MAX_PARTITIONS:
            raise ConfigError(f"{path}: the header's partitions is not 1..{MAX_PARTITIONS}")
        registry = header.get("registry")
        if registry is not None and not (isinstance(registry, str) and registry.isdigit()):
            raise ConfigError(f"{path}: the header's registry is not a time")
        last: dict[str, Any] = header
        ended = False
        newest: dict[str, tuple[int, int]] = {}
        for n, last in enumerate(rows, start=2):
            problem = "a line after the end line" if ended else row_problem(last, show, partitions)
            if not problem and "s" in last:
                at = _entry(last["id"])
                if at <= newest.get(last["s"], (0, 0)):
                    problem = f"stream {last['s']!r}: entry {last['id']} is not after the last"
                newest[last["s"]] = at
            if problem:
                raise ConfigError(f"{path}: line {n}: {problem}: nothing restored")
            ended = "end" in last
    except (OSError, EOFError, ValueError, StopIteration, RecursionError, zlib.error) as exc:
        raise ConfigError(f"{path}: not a readable backup ({exc})") from None
    if not last.get("end"):
        raise ConfigError(f"{path}: cut short (no end line): nothing restored")
    return header


async def restore(
    store: Store, path: Path, progress: bool, passphrase: str | None = None
) -> dict[str, Any]:
    """Write the backup at ``path`` under ``store``'s prefix, into a Redis (or prefix) that
    holds no key of its show at all. The file is first copied where only this process reads
    it (a file swapped after the check is not the one written); every line is checked first
    (:func:`check_file`): nothing is written from a file that names a key of another show, a
    session or a login token, or whose lines are not a backup's."""
    with tempfile.TemporaryDirectory(prefix="live-restore-") as private:
        copy = Path(private) / "backup"
        shutil.copyfile(path, copy)
        return await _restore(store, copy, path, progress, passphrase)


async def _restore(
    store: Store, path: Path, named: Path, progress: bool, passphrase: str | None
) -> dict[str, Any]:
    open_ = opener(passphrase)
    try:
        header = check_file(path, open_)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(str(path), str(named))) from None
    show, partitions = str(header["show"]), int(header["partitions"])
    store.parts[show] = partitions  # the partitions' keys, as backed up
    backups = Backups(store)
    taken = await backups.existing(show)
    if taken:
        raise ConfigError(
            f"show {show!r} has keys under prefix {store.prefix!r} already (e.g. {taken}): "
            "restore into an empty Redis or another LIVE_KEY_PREFIX"
        )
    end = next(r for r in _rows(path, open_) if r.get("end"))
    bar = tqdm(total=int(end["entries"]), unit=" entries", desc="restore", file=sys.stderr,
               disable=not progress, mininterval=0.5)  # fmt: skip
    batch: list[tuple[str, list[str]]] = []
    stream = ""

    async def flush() -> None:
        if batch:
            await backups.append(stream, batch)
            bar.update(len(batch))
            batch.clear()

    with bar:
        for row in _rows(path, open_):
            if "s" in row:
                if row["s"] != stream:
                    await flush()
                    stream = row["s"]
                batch.append((row["id"], row["f"]))
                if len(batch) >= BATCH:
                    await flush()
                continue
            await flush()
            if "key" in row and row["type"] != "stream":
                await backups.write(Record(row["key"], row["type"], row["value"]))
        await flush()
    if header.get("registry"):
        await backups.register(show, str(header["registry"]))
    return {"show": show, "keys": end["keys"], "entries": end["entries"]}
