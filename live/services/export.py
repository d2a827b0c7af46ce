"""``live export``: an anonymised, self-checking copy of a show's ledger and published results.

The folder holds:

- ``ledger.jsonl``: every entry, oldest first, ``{"id": ..., "fields": {...}}``, fields in
  stored order, device ids, addresses and user agents replaced by their keyed hashes (the key
  stays on the server). These are the values the chain hashes, so the export verifies against
  the same chain head the overlay showed.
- ``ledger.p1.jsonl`` ... (a show with ``partitions = N``): partitions 1..N-1's chains, the
  same way; ``ledger.jsonl`` is partition 0's.
- ``show.toml``: the show file; ``published/<category>.json``: every published version.
- ``MANIFEST.json``: the chain head, entry count and the SHA-256 of each file (and, with
  partitions, ``chains``: each chain's file, entries and head).

:func:`verify_export` checks the chain, recounts, and rebuilds every published result at the
ledger position it was computed at (:mod:`live.domain.ledger.replay`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from live.domain.ledger.audit import Audit, Verdict, combine
from live.domain.ledger.chain import anonymise, entry_key, split_position
from live.domain.ledger.replay import Replay, same_result, tallies_at
from live.domain.show import Show, load_show
from live.redis.store import Store

LEDGER = "ledger.jsonl"


def chain_file(part: int) -> str:
    """The export file of partition ``part``'s chain."""
    return LEDGER if part == 0 else f"ledger.p{part}.jsonl"


MANIFEST = "MANIFEST.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_chain(out: Path, part: int) -> TextIO:
    out.mkdir(parents=True, exist_ok=True)
    (out / "published").mkdir(exist_ok=True)
    return (out / chain_file(part)).open("w", encoding="utf-8")


def _finish(
    out: Path,
    show: Show,
    show_file: Path,
    published: dict[str, list[Any]],
    chains: list[tuple[int, str]],
) -> dict[str, Any]:
    """Write the show file, the published results and the manifest (blocking file work; the
    CLI runs it, never the server's event loop)."""
    (out / "show.toml").write_bytes(show_file.read_bytes())
    files = [chain_file(p) for p in range(len(chains))] + ["show.toml"]
    for cat, versions in published.items():
        name = f"published/{cat}.json"
        (out / name).write_text(json.dumps(versions, ensure_ascii=False, indent=1))
        files.append(name)
    n, head = chains[0]
    manifest: dict[str, Any] = {
        "show": show.id,
        "exported_at": int(time.time() * 1000),
        "entries": sum(c[0] for c in chains),
        "chain_head": {"n": n, "h": head},
    }
    if len(chains) > 1:
        manifest["chains"] = [
            {"file": chain_file(p), "n": n, "h": h} for p, (n, h) in enumerate(chains)
        ]
    manifest |= {
        "anonymised": ["dev", "ip", "ua"],
        "pseudonymous": ["pdev", "pip", "pua", "pid"],
        "pseudonym": "HMAC-SHA-256, first 128 bits, hex; the key stays on the server",
        "sha256": {name: _sha256(out / name) for name in files},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


async def export(
    store: Store, show: Show, show_file: Path, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Write the export of ``show`` into ``out`` (created); returns the manifest."""
    store.register([show])
    pseudonym = await store.pseudonym(show.id)
    parts = range(show.partitions)
    total = sum([await store.ledger_length(show.id, part) for part in parts])
    chains = []
    bar = tqdm(
        total=int(total),
        unit=" entries",
        desc="export",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
    )
    with bar:
        for part in parts:
            head, n = "0" * 40, 0
            with _open_chain(out, part) as fh:
                async for entry_id, fields in store.ledger_entries(show.id, part=part):
                    row = {"id": entry_id, "fields": anonymise(fields, pseudonym)}
                    fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                    head, n = fields.get("h", head), n + 1
                    bar.update()
            chains.append((n, head))
    published = {}
    for cat in show.categories:
        versions = [json.loads(v) for v in await store.publications(show.id, cat.id)]
        if versions:
            published[cat.id] = versions
    return _finish(out, show, show_file, published, chains)


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


def chain_rows(path: Path, audit: Audit | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """An exported chain's ``(id, fields)`` rows, oldest first (each fed to ``audit`` too)."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if audit is not None:
                audit.feed(row["id"], row["fields"])
            yield row["id"], row["fields"]


def other_chains(
    folder: Path, show: Show, positions: list[tuple[str, str]], audits: list[Audit] | None
) -> list[Counter[str]]:
    """Partitions 1..N-1's share of each ``(position, category)``: the category's tally summed
    over those chains, each counted up to its own id in the position. One pass per chain;
    ``audits`` (one per partition, 0 included) check the chains on the way."""
    out: list[Counter[str]] = [Counter() for _ in positions]
    for part in range(1, show.partitions):
        audit = audits[part] if audits is not None else None
        stops = [(split_position(pos, show.partitions)[part], cat) for pos, cat in positions]
        rows = chain_rows(folder / chain_file(part), audit)
        for total, tally in zip(out, tallies_at(rows, stops), strict=True):
            total.update(tally)
        for _ in rows:  # the rest of the chain, checked
            pass
    return out


def verify_export(folder: Path) -> ExportCheck:
    """Chains, manifest, recount and every published result, from the export alone."""
    manifest = json.loads((folder / MANIFEST).read_text())
    show = load_show(folder / "show.toml")
    problems = [
        f"{name}: its SHA-256 differs from the manifest"
        for name, digest in manifest["sha256"].items()
        if _sha256(folder / name) != digest  # public: a file's hash against the manifest
    ]
    records = [
        (cat, i + 1, rec)
        for cat, versions in read_published(folder).items()
        for i, rec in enumerate(versions)
    ]
    positions = [(rec["result"]["position"] or "0-0", cat) for cat, _, rec in records]
    audits = [Audit(None) for _ in range(show.partitions)]
    others = other_chains(folder, show, positions, audits)
    pending = sorted(
        (
            (entry_key(split_position(pos, show.partitions)[0]), i)
            for i, (pos, _) in enumerate(positions)
        ),
    )
    replay = Replay(show)
    published: list[str] = []

    def settle(upto: tuple[int, ...]) -> None:
        while pending and pending[0][0] <= upto:
            _, i = pending.pop(0)
            cat, version, record = records[i]
            rebuilt = replay.result(cat, others[i], record["result"]["position"] or "")
            if same_result(record["result"], rebuilt):
                published.append(f"published       {cat} v{version}: reproduced from the ledger")
            else:
                problems.append(f"published {cat} v{version} differs from the ledger's rebuild")

    settle((0, 0))
    for entry_id, fields in chain_rows(folder / LEDGER, audits[0]):
        replay.feed(entry_id, fields)
        settle(entry_key(entry_id))
    for _, i in pending:
        cat, version, _ = records[i]
        problems.append(f"published {cat} v{version}: its ledger position is not in the export")
    verdicts = [audit.verdict() for audit in audits]
    heads = manifest.get("chains") or [manifest["chain_head"]]
    for part, (head, verdict) in enumerate(zip(heads, verdicts, strict=False)):
        if (head["n"], head["h"]) != (verdict.entries, verdict.head):
            name = "the manifest's chain head" if part == 0 else f"the manifest's chain {part} head"
            problems.append(f"{name} #{head['n']} {head['h']} is not the ledger's")
    if len(heads) != len(verdicts):
        problems.append(f"the manifest lists {len(heads)} chain(s); the show has {len(verdicts)}")
    return ExportCheck(combine(verdicts), published, problems)
