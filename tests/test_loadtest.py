"""A short run of the load generator, so it cannot rot: its own ``live serve`` and Redis, real
phones over HTTP and websockets, the report files and the recount (0 lost, 0 unexpected)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest import report
from loadtest.__main__ import main


@pytest.mark.parametrize(("transport", "procs"), [("http", 1), ("ws", 1), ("ws", 2)])
def test_a_short_run_reports_and_recounts(
    tmp_path: Path, transport: str, procs: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``procs`` 2 half the phones run in a second process: its votes must be merged
    into the recount (else they count as unexpected) and its CPU into the generator's."""
    results = tmp_path / "RESULTS.md"
    argv = ["--viewers", "30", "--voters", "6", "--likers", "4", "--ramp", "1"]
    argv += ["--duration", "2", "--vote-transport", transport, "--seed", "5"]
    argv += ["--procs", str(procs)]
    argv += ["--out", str(tmp_path), "--results", str(results), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    print(printed)  # the figures, for whoever reads the log
    (json_path,) = tmp_path.glob("run-*.json")
    (png_path,) = tmp_path.glob("run-*.png")
    assert png_path.read_bytes().startswith(b"\x89PNG")
    out = json.loads(json_path.read_text())
    rc = out["recount"]
    assert (rc["lost"], rc["unexpected"], rc["tally_mismatch"]) == (0, 0, 0)
    assert rc["seen_accepted"] > 0
    figures = out["figures"]
    assert figures["votes"]["outcomes"].get("accepted", 0) > 0
    assert figures["viewers"]["snapshots"] > 0
    assert figures["likes"]["taps_acked"] > 0
    assert set(figures["votes"]["latency_ms"]) == {"n", "p50", "p95", "p99", "max"}
    assert figures["server"]["cpu_cores"]["server"] > 0
    assert figures["generator"]["cpu_cores"] > 0
    assert figures["generator"]["processes"] == procs
    assert out["timeline"], "a row per second for the plot"
    table = results.read_text()
    assert table.count(out["commit"]) == 1 and "0 lost, 0 unexpected" in table


def test_results_rows_are_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    base = {
        "machine": {"cpus": 2, "memory_gb": 24},
        "plan": {
            "viewers": 1,
            "voters": 1,
            "vote_transport": "http",
            "vote_rate": 0,
            "likers": 0,
            "like_batch": 1,
            "like_rate": 1,
            "ramp": 0,
            "duration": 1,
            "seed": 1,
        },
        "figures": {
            "votes": {"accepted_per_s": 1, "latency_ms": {}},
            "viewers": {"staleness_ms": {}},
            "likes": {"taps_per_s": 0},
            "errors": {},
            "generator": {"cpu_cores": 0.1},
        },
        "recount": {},
    }
    report.add_row({**base, "date": "first", "commit": "aaa"}, path)
    report.add_row({**base, "date": "second", "commit": "bbb"}, path)
    rows = [line for line in path.read_text().splitlines() if "aaa" in line or "bbb" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["second", "first"]


def test_bench_rows_are_newest_first_and_name_every_figure(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    figure = {"name": "bytes per push", "value": 686.0, "unit": "B", "ratio": None, "met": True}
    slow = {**figure, "name": "memory per idle viewer", "value": 22.1, "unit": "KB"}
    base = {"machine": {"cpus": 2, "memory_gb": 24}}
    report.add_bench_row({**base, "date": "first", "commit": "aaa", "figures": [figure]}, path)
    slower = {**slow, "ratio": 1.47, "met": False}
    report.add_bench_row({**base, "date": "second", "commit": "bbb", "figures": [slower]}, path)
    rows = [line for line in path.read_text().splitlines() if "aaa" in line or "bbb" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["second", "first"]
    assert "memory per idle viewer: 22.1 KB (1.47x) missed" in rows[0]
    assert "bytes per push: 686.0 B met" in rows[1]
