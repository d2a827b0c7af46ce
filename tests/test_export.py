"""`live export` writes an anonymised ledger that verifies and reproduces published results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LiveServer, run_cli, staff_client, staff_login, vote_body
from tests.test_judging import FULL, admin, judge, sheet


async def _night(server: LiveServer) -> list[str]:
    """Votes (one voided), locked sheets, a correction, two publications. The device ids."""
    devices = []
    async with server.client(server.cookie(), headers={"user-agent": "Phone/1.0"}) as http:
        for i, who in enumerate(["p1", "p2", "p2", "p3", "p2"]):
            body = vote_body("cap20", who, f"export-{i:04d}")
            assert (await http.post("/api/shows/t/votes", json=body)).status_code == 200
        devices.append(http.cookies["live_device"])
    async with await judge(server, "judge A") as a, await judge(server, "judge B") as b:
        await sheet(a, "p1", "lock", "a1", FULL)
        await sheet(a, "p2", "submit", "a2", {**FULL, "innovation": 5})
        await sheet(b, "p1", "submit", "b1", {**FULL, "craft": 10})
        await sheet(b, "p2", "recuse", "b2")
        await a.post("/api/shows/t/approvals/cap20/p1", json={"approve": True})
    cookie, csrf = await staff_login(server, "moderator")
    async with staff_client(server, cookie, headers={"X-CSRF-Token": csrf}) as http:
        void = {"op": "void", "vote_ids": ["export-0001"], "reason": "duplicate phone"}
        assert (await http.post("/api/shows/t/voids", json=void)).status_code == 200
    async with await admin(server) as http:
        assert (await http.post("/api/shows/t/results/cap20/publish", json={})).status_code == 200
        judge_a = next(m.id for m in await server.rt.sessions.members("t") if m.name == "judge A")
        fix = {"judge": judge_a, "marks": {**FULL, "impact": 1}, "reason": "typo"}
        assert (await http.post("/api/shows/t/corrections/cap20/p1", json=fix)).status_code == 200
        assert (await http.post("/api/shows/t/results/cap20/publish", json={})).status_code == 200
    return devices


async def test_an_export_verifies_and_reproduces_every_published_result(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    await _night(server)
    out = tmp_path / "export"
    code, stdout, stderr = await run_cli(
        server, monkeypatch, capsys, "export", "--show", "t", "--out", str(out)
    )
    assert code == 0, stderr
    assert "export" in stderr  # the progress display
    live_code, live_out, _ = await run_cli(server, monkeypatch, capsys, "verify", "--show", "t")
    assert live_code == 0, live_out
    head = next(line for line in live_out.splitlines() if line.startswith("chain head"))
    assert head in stdout  # the export ends on the live chain head

    code, report, _ = await run_cli(server, monkeypatch, capsys, "verify", "--export", str(out))
    assert code == 0, report
    assert head in report
    assert "published       cap20 v1: reproduced from the ledger" in report
    assert "published       cap20 v2: reproduced from the ledger" in report

    code, csv_out, stderr = await run_cli(
        server, monkeypatch, capsys, "reconcile", "--export", str(out), "--category", "cap20"
    )
    assert code == 0 and "reproduces published version 2" in stderr
    published = json.loads((out / "published" / "cap20.json").read_text())[-1]["result"]
    assert csv_out.splitlines()[1].split(",")[1] == published["rows"][0]["contestant"]


async def test_an_export_holds_no_device_id_address_or_user_agent(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    (device,) = await _night(server)
    out = tmp_path / "export"
    assert (
        await run_cli(
            server, monkeypatch, capsys, "export", "--show", "t", "--out", str(out), "--no-progress"
        )
    )[0] == 0
    text = (out / "ledger.jsonl").read_text()
    for raw in (device, "127.0.0.1", "Phone/1.0"):
        assert raw not in text
    votes = [json.loads(line)["fields"] for line in text.splitlines()]
    votes = [v for v in votes if v["k"] == "vote"]
    assert len({v["pdev"] for v in votes}) == 1 and len(votes[0]["pdev"]) == 32


async def test_a_changed_export_fails_verification_at_the_changed_entry(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    await _night(server)
    out = tmp_path / "export"
    assert (
        await run_cli(
            server, monkeypatch, capsys, "export", "--show", "t", "--out", str(out), "--no-progress"
        )
    )[0] == 0
    lines = (out / "ledger.jsonl").read_text().splitlines()
    position = next(i for i, line in enumerate(lines) if '"k":"vote"' in line) + 1
    row = json.loads(lines[position - 1])
    row["fields"]["c"] = "p5"  # move one vote to another contestant
    lines[position - 1] = json.dumps(row, separators=(",", ":"))
    (out / "ledger.jsonl").write_text("\n".join(lines) + "\n")
    code, report, _ = await run_cli(server, monkeypatch, capsys, "verify", "--export", str(out))
    assert code == 1
    assert f"BROKEN at entry #{position} " in report
    assert "ledger.jsonl: its SHA-256 differs from the manifest" in report
