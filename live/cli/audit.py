"""``live reconcile``: rebuild a result offline from an export or a Eurovision-style points
file, for auditors."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from live.domain.errors import LiveError
from live.domain.ledger.chain import entry_key, join_position, split_position
from live.domain.ledger.replay import Replay, same_result
from live.domain.reconcile import Result, preset, reconcile
from live.domain.reconcile.eurovision import PointsFileError, contest_inputs, read_points
from live.domain.show import load_show
from live.services.export import LEDGER, chain_rows, other_chains, read_published


def _print_result(result: Result, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(result.to_csv())


def reconcile_export(folder: Path, category: str, fmt: str) -> int:
    """``live reconcile --export``: rebuild a category's latest published result from the
    export alone; 0 if it is reproduced, 1 if not, 2 on bad input."""
    try:
        show = load_show(folder / "show.toml")
        show.category(category)
        versions = read_published(folder).get(category, [])
        position = (versions[-1]["result"]["position"] or "0-0") if versions else None
        # Not published: the result at the end of every chain.
        upto = position or join_position(["+"] * show.partitions)
        others = Counter[str]()
        if show.partitions > 1:
            others = other_chains(folder, show, [(upto, category)], None)[0]
        last = entry_key(split_position(upto, show.partitions)[0])
        replay = Replay(show)

        def rows() -> Iterator[tuple[str, dict[str, str]]]:
            for entry_id, fields in chain_rows(folder / LEDGER):
                if entry_key(entry_id) > last:
                    return
                yield entry_id, fields

        replay.feed_many(rows())
    except (OSError, ValueError, KeyError, LiveError) as exc:
        print(f"live: {folder}: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    result = replay.result(category, others, position or "")
    _print_result(result, fmt)
    if not versions:
        print(f"{category}: not published; this is the result at the end of the ledger",
              file=sys.stderr)  # fmt: skip
        return 0
    same = same_result(versions[-1]["result"], result)
    word = "reproduces" if same else "DIFFERS FROM"
    print(f"{category}: {word} published version {len(versions)}", file=sys.stderr)
    return 0 if same else 1


def reconcile_points(preset_name: str, path: Path, year: str, round_: str, fmt: str) -> int:
    """``live reconcile``: print the ranking of one contest in a points file; 2 on bad input."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = read_points(fh)
        inputs = contest_inputs(rows, year, round_)
    except OSError as exc:
        print(f"live: {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (PointsFileError, UnicodeDecodeError, csv.Error) as exc:
        print(f"live: {path}: {exc}", file=sys.stderr)
        return 2
    _print_result(reconcile(preset(preset_name), inputs), fmt)
    return 0
