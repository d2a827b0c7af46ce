"""``live backup`` and ``live restore``: everything of one show in one file, and back.

The file is gzip'd JSON lines: a header (``format``, ``show``, ``prefix``, ``partitions``,
``created``, ``registry``), then per partition its keys (``{"key", "type", "value"}``; a stream
as ``{"key", "type": "stream", "last"}`` followed by its entries ``{"s", "id", "f"}``), and an
``{"end": true, "keys", "entries"}`` line: a file without it (cut short) is refused before
anything is written. A restore writes into a Redis (or under a prefix) holding nothing of the
show; afterwards ``live verify`` passes and the chain heads are the ones backed up.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from live.domain.errors import ConfigError
from live.redis.backup import Backups, Record
from live.redis.store import Store

FORMAT = "live-backup"
VERSION = 1
BATCH = 1000


def _line(out: Any, row: dict[str, Any]) -> None:
    out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


async def backup(
    store: Store, show: str, partitions: int, out: Path, progress: bool
) -> dict[str, int]:
    """Write the backup of ``show`` to ``out`` (atomically: a temporary file, renamed)."""
    backups = Backups(store)
    total = sum([await store.ledger_length(show, p) for p in range(partitions)])
    bar = tqdm(total=int(total), unit=" entries", desc="backup", file=sys.stderr,
               disable=not progress, mininterval=0.5)  # fmt: skip
    keys = entries = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with bar, gzip.open(tmp, "wt", encoding="utf-8") as fh:
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


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def check_file(path: Path) -> dict[str, Any]:
    """The header of a complete backup file, or :class:`ConfigError` saying what is wrong."""
    try:
        rows = _rows(path)
        header = next(rows)
        last: dict[str, Any] = header
        for last in rows:  # noqa: B007 (only the last line matters)
            pass
    except (OSError, EOFError, ValueError, StopIteration) as exc:
        raise ConfigError(f"{path}: not a readable backup ({exc})") from None
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ConfigError(f"{path}: not a live backup (format {FORMAT} {VERSION})")
    if not last.get("end"):
        raise ConfigError(f"{path}: cut short (no end line): nothing restored")
    return header


async def restore(store: Store, path: Path, progress: bool) -> dict[str, Any]:
    """Write the backup at ``path`` under ``store``'s prefix; refuses if any of its keys exist."""
    header = check_file(path)
    show, partitions = str(header["show"]), int(header["partitions"])
    store.parts[show] = partitions  # the partitions' keys, as backed up
    backups = Backups(store)
    wanted = [store.prefix + row["key"] for row in _rows(path) if "key" in row]
    taken = await backups.occupied(wanted)
    if taken:
        raise ConfigError(
            f"{len(taken)} key(s) of show {show!r} exist under prefix {store.prefix!r} "
            f"(e.g. {taken[0]}): restore into an empty Redis or another LIVE_KEY_PREFIX"
        )
    end = next(r for r in _rows(path) if r.get("end"))
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
        for row in _rows(path):
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
