"""``live export``: an anonymised, self-checking copy of a show's ledger and published results.

The folder holds:

- ``ledger.jsonl``: every entry, oldest first, ``{"id": ..., "fields": {...}}``, fields in
  stored order, device ids, addresses and user agents replaced by their keyed hashes (the key
  stays on the server). These are the values the chain hashes, so the export verifies against
  the same chain head the overlay showed.
- ``show.toml``: the show file; ``published/<category>.json``: every published version.
- ``MANIFEST.json``: the chain head, entry count and the SHA-256 of each file.

:func:`verify_export` checks the chain, recounts, and rebuilds every published result at the
ledger position it was computed at (:mod:`live.domain.ledger.replay`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from live.domain.ledger.audit import Audit, Verdict
from live.domain.ledger.chain import anonymise
from live.domain.ledger.replay import Replay, same_result
from live.domain.show import Show, load_show
from live.redis.store import Store

LEDGER = "ledger.jsonl"
MANIFEST = "MANIFEST.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_ledger(out: Path) -> TextIO:
    out.mkdir(parents=True, exist_ok=True)
    (out / "published").mkdir(exist_ok=True)
    return (out / LEDGER).open("w", encoding="utf-8")


def _finish(
    out: Path, show: Show, show_file: Path, published: dict[str, list[Any]], n: int, head: str
) -> dict[str, Any]:
    """Write the show file, the published results and the manifest (blocking file work; the
    CLI runs it, never the server's event loop)."""
    (out / "show.toml").write_bytes(show_file.read_bytes())
    files = [LEDGER, "show.toml"]
    for cat, versions in published.items():
        name = f"published/{cat}.json"
        (out / name).write_text(json.dumps(versions, ensure_ascii=False, indent=1))
        files.append(name)
    manifest = {
        "show": show.id,
        "exported_at": int(time.time() * 1000),
        "entries": n,
        "chain_head": {"n": n, "h": head},
        "anonymised": ["dev", "ip", "ua"],
        "pseudonym": "HMAC-SHA-256, first 128 bits, hex; the key stays on the server",
        "sha256": {name: _sha256(out / name) for name in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


async def export(
    store: Store, show: Show, show_file: Path, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Write the export of ``show`` into ``out`` (created); returns the manifest."""
    pseudonym = await store.pseudonym(show.id)
    total = await store.ledger_length(show.id)
    head, n = "0" * 40, 0
    bar = tqdm(
        total=int(total),
        unit=" entries",
        desc="export",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
    )
    with _open_ledger(out) as fh, bar:
        async for entry_id, fields in store.ledger_entries(show.id):
            row = {"id": entry_id, "fields": anonymise(fields, pseudonym)}
            fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            head, n = fields.get("h", head), n + 1
            bar.update()
    published = {}
    for cat in show.categories:
        versions = [json.loads(v) for v in await store.publications(show.id, cat.id)]
        if versions:
            published[cat.id] = versions
    return _finish(out, show, show_file, published, n, head)


@dataclass(slots=True)
class ExportCheck:
    verdict: Verdict
    published: list[str] = field(default_factory=list)
    """One line per published version: reproduced, or how it differs."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.problems

    def lines(self) -> list[str]:
        out = self.verdict.lines()[:-1]
        out += self.published
        out += [f"MISMATCH        {p}" for p in self.problems]
        out.append("verified" if self.ok else "VERIFY FAILED")
        return out


def read_published(folder: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for path in sorted((folder / "published").glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


def verify_export(folder: Path) -> ExportCheck:
    """Chain, manifest, recount and every published result, from the export alone."""
    manifest = json.loads((folder / MANIFEST).read_text())
    show = load_show(folder / "show.toml")
    problems = [
        f"{name}: its SHA-256 differs from the manifest"
        for name, digest in manifest["sha256"].items()
        if _sha256(folder / name) != digest  # public: a file's hash against the manifest
    ]
    pending = sorted(
        (
            (tuple(int(x) for x in rec["result"]["position"].split("-")), cat, i + 1, rec)
            for cat, versions in read_published(folder).items()
            for i, rec in enumerate(versions)
        ),
        key=lambda p: p[0],
    )
    audit = Audit(None)
    replay = Replay(show)
    published: list[str] = []

    def settle(upto: tuple[int, ...]) -> None:
        while pending and pending[0][0] <= upto:
            _, cat, version, record = pending.pop(0)
            rebuilt = replay.result(cat)
            if same_result(record["result"], rebuilt):
                published.append(f"published       {cat} v{version}: reproduced from the ledger")
            else:
                problems.append(f"published {cat} v{version} differs from the ledger's rebuild")

    settle((0, 0))
    with (folder / LEDGER).open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            audit.feed(row["id"], row["fields"])
            replay.feed(row["id"], row["fields"])
            settle(tuple(int(x) for x in row["id"].split("-")))
    for _, cat, version, _ in pending:
        problems.append(f"published {cat} v{version}: its ledger position is not in the export")
    verdict = audit.verdict()
    head = manifest["chain_head"]
    if (head["n"], head["h"]) != (verdict.entries, verdict.head):
        problems.append(f"the manifest's chain head #{head['n']} {head['h']} is not the ledger's")
    return ExportCheck(verdict, published, problems)
