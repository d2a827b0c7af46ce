"""Judges' sheets, approvals, corrections, provisional and published results, over real HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from live.domain.judging import inputs_from
from live.domain.reconcile import reconcile
from live.domain.state import JudgingRead
from tests.helpers import LiveServer, staff_client, staff_login, vote_body

FULL = {"innovation": 25, "craft": "27.5", "presentation": 18, "impact": 15}


async def judge(server: LiveServer, name: str = "judge one") -> httpx.AsyncClient:
    cookie, csrf = await staff_login(server, "judge", name)
    return staff_client(server, cookie, headers={"X-CSRF-Token": csrf})


async def admin(server: LiveServer) -> httpx.AsyncClient:
    cookie, csrf = await staff_login(server, "admin")
    return staff_client(server, cookie, headers={"X-CSRF-Token": csrf})


async def sheet(
    http: httpx.AsyncClient,
    contestant: str,
    op: str,
    save_id: str,
    marks: dict[str, Any] | None = None,
    base: int = -1,
    category: str = "cap20",
) -> httpx.Response:
    body = {"op": op, "marks": marks or {}, "save_id": save_id, "base": base}
    return await http.post(f"/api/shows/t/sheets/{category}/{contestant}", json=body)


async def test_bad_marks_are_refused_with_the_field_that_is_wrong(server: LiveServer) -> None:
    async with await judge(server) as http:
        cases: list[tuple[str, dict[str, Any], str, str]] = [
            ("save", {"innovation": 31}, "marks.innovation", "above the maximum 30"),
            ("save", {"innovation": -1}, "marks.innovation", "below the minimum 0"),
            ("save", {"craft": "20.3"}, "marks.craft", "not on a step of 0.5"),
            ("save", {"impact": 0}, "marks.impact", "below the minimum 1"),
            ("save", {"speed": 3}, "marks.speed", "no such criterion"),
            ("save", {"innovation": "ten"}, "marks.innovation", "not a number"),
            (
                "submit",
                {"innovation": 20, "craft": 20, "presentation": 10},
                "marks.impact",
                "missing",
            ),
        ]
        for i, (op, marks, field, why) in enumerate(cases):
            reply = await sheet(http, "p1", op, f"bad-{i}", marks)
            assert reply.status_code == 400, (marks, reply.text)
            error = reply.json()["error"]
            assert error["code"] == "sheet_invalid" and error["field"] == field
            assert why in error["message"]
        boolean = await sheet(http, "p1", "save", "bad-bool", {"innovation": True})
        assert boolean.status_code == 400 and "marks.innovation" in boolean.text
        view = (await http.get("/api/shows/t/sheets/cap20")).json()
    assert view["rows"][0]["state"] == "empty"  # nothing half-saved


async def test_a_retried_save_is_idempotent_and_a_stale_one_conflicts(server: LiveServer) -> None:
    async with await judge(server) as http:
        first = await sheet(http, "p1", "save", "tablet-1", {"innovation": 20}, base=0)
        again = await sheet(http, "p1", "save", "tablet-1", {"innovation": 20}, base=0)
        assert first.json()["status"] == "saved" and again.json()["status"] == "replay"
        assert first.json()["sheet"]["rev"] == again.json()["sheet"]["rev"] == 1
        stale = await sheet(http, "p1", "save", "tablet-2", {"innovation": 5}, base=0)
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "sheet_conflict"
        view = (await http.get("/api/shows/t/sheets/cap20")).json()
    row = view["rows"][0]
    assert (row["state"], row["rev"], row["marks"]) == ("draft", 1, {"innovation": "20"})


async def test_a_locked_sheet_changes_only_by_an_admin_correction_with_a_reason(
    server: LiveServer,
) -> None:
    async with await judge(server) as http:
        locked = await sheet(http, "p2", "lock", "lock-1", FULL)
        assert locked.status_code == 200 and locked.json()["sheet"]["state"] == "locked"
        later = await sheet(http, "p2", "save", "late-1", {"innovation": 1})
        assert later.status_code == 409 and later.json()["error"]["code"] == "sheet_locked"
        recuse = await sheet(http, "p2", "recuse", "late-2")
        assert recuse.status_code == 409
    judge_id = next(m.id for m in await server.rt.sessions.members("t") if m.role == "judge")
    async with await admin(server) as http:
        url = "/api/shows/t/corrections/cap20/p2"
        no_reason = await http.post(url, json={"judge": judge_id, "marks": FULL, "reason": ""})
        assert no_reason.status_code == 400
        fixed = {**FULL, "innovation": 26}
        ok = await http.post(
            url, json={"judge": judge_id, "marks": fixed, "reason": "typo confirmed with the judge"}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["sheet"]["marks"]["innovation"] == "26"
        assert ok.json()["sheet"]["state"] == "locked"
    entries = [f async for _, f in server.rt.store.ledger_entries("t") if f.get("k") == "sheet"]
    correction = [e for e in entries if e["op"] == "correct"]
    assert len(correction) == 1
    assert correction[0]["why"] == "typo confirmed with the judge"
    assert correction[0]["by"].startswith("admin:")
    assert '"innovation":"25"' in correction[0]["before"].replace(" ", "")
    assert '"innovation":"26"' in correction[0]["after"].replace(" ", "")


async def test_a_judge_sees_and_changes_only_their_own_sheets(server: LiveServer) -> None:
    async with await judge(server, "judge A") as a, await judge(server, "judge B") as b:
        assert (await sheet(a, "p1", "submit", "a-1", FULL)).status_code == 200
        mine = (await b.get("/api/shows/t/sheets/cap20")).json()
        assert mine["rows"][0]["state"] == "empty"
        # B's change to p1 is B's own sheet; A's stays as it was
        assert (await sheet(b, "p1", "save", "b-1", {"innovation": 1})).status_code == 200
        theirs = (await a.get("/api/shows/t/sheets/cap20")).json()
        assert theirs["rows"][0]["marks"]["innovation"] == "25"


async def _cast(server: LiveServer, votes: dict[str, int]) -> None:
    async with server.client(server.cookie()) as phone:
        for contestant, n in votes.items():
            for i in range(n):
                reply = await phone.post(
                    "/api/shows/t/votes",
                    json=vote_body("cap20", contestant, f"vote-{contestant}-{i:04}"),
                )
                assert reply.json().get("status") == "accepted", reply.text


async def test_provisional_results_equal_a_recomputation_from_the_ledger(
    server: LiveServer,
) -> None:
    await _cast(server, {"p1": 3, "p2": 5, "p3": 1})
    async with await judge(server, "judge A") as a, await judge(server, "judge B") as b:
        await sheet(a, "p1", "submit", "a1", FULL)
        await sheet(a, "p2", "submit", "a2", {**FULL, "innovation": 10})
        await sheet(b, "p1", "submit", "b1", {**FULL, "impact": 20})
        await sheet(b, "p2", "recuse", "b2")
        await sheet(b, "p3", "save", "b3", FULL)  # a draft does not count
        await a.post("/api/shows/t/approvals/cap20/p1", json={"approve": True})
    async with await admin(server) as http:
        live = (await http.get("/api/shows/t/results/cap20")).json()
    # from scratch: tallies recounted from the ledger, sheets read again
    counted = await server.rt.store.recount("t")
    read = await server.rt.store.judging_read("t", "cap20")
    ledger_read = JudgingRead(
        dict(counted.tallies["cap20"]), read.position, read.sheets, read.approvals
    )
    show = server.rt.service.show("t")
    judges = await server.rt.judging.judges("t")
    scratch = reconcile(
        show.category("cap20").rules, inputs_from(show, show.category("cap20"), ledger_read, judges)
    ).to_json()
    assert live["rows"] == scratch["rows"]
    assert live["rules_hash"] == scratch["rules_hash"] and live["position"] == read.position
    by = {r["contestant"]: r for r in live["rows"]}
    assert len(by["p2"]["breakdown"]["expert"]["sheets"]) == 1  # B recused from p2
    assert by["p2"]["breakdown"]["recused"] != []
    assert by["p3"]["breakdown"]["expert"]["sheets"] == {}  # only a draft
    assert by["p1"]["expert"] == "88.00"  # (85.5 + 90.5) / 2 out of 100


async def test_preview_publish_versions_and_public_exports(server: LiveServer) -> None:
    await _cast(server, {"p1": 1, "p2": 4})
    async with await judge(server) as j:
        await sheet(j, "p1", "lock", "j1", FULL)
        await sheet(j, "p2", "lock", "j2", {**FULL, "innovation": 5})
    async with server.client() as public:
        none = await public.get("/api/shows/t/published/cap20")
        assert none.status_code == 404 and none.json()["error"]["code"] == "not_published"
        assert (await public.get("/results/t/cap20")).status_code == 404
    async with await admin(server) as http:
        provisional = (await http.get("/api/shows/t/results/cap20")).json()
        preview = (
            await http.post(
                "/api/shows/t/results/cap20/preview",
                json={"combine": {"expert_weight": 1, "audience_weight": 0}},
            )
        ).json()
        # 60/40: p2's votes outweigh p1's marks; experts alone: p1
        assert provisional["rows"][0]["contestant"] == "p2"
        assert preview["rows"][0]["contestant"] == "p1"
        assert preview["rules_hash"] != provisional["rules_hash"]
        bad = await http.post(
            "/api/shows/t/results/cap20/preview", json={"combine": {"method": "coin_flip"}}
        )
        assert bad.status_code == 400
        v1 = (await http.post("/api/shows/t/results/cap20/publish", json={"note": "初版"})).json()
        assert v1["version"] == 1 and v1["diff"] == []
        judge_id = next(m.id for m in await server.rt.sessions.members("t") if m.role == "judge")
        await http.post(
            "/api/shows/t/corrections/cap20/p2",
            json={
                "judge": judge_id,
                "marks": {**FULL, "innovation": 30},
                "reason": "recount of the sheet",
            },
        )
        v2 = (await http.post("/api/shows/t/results/cap20/publish", json={})).json()
    assert v2["version"] == 2
    assert v2["diff"] and v2["diff"][0]["contestant"] in ("p1", "p2")
    assert {d["contestant"] for d in v2["diff"]} >= {"p2"}
    async with server.client() as public:
        latest = (await public.get("/api/shows/t/published/cap20")).json()
        first = (await public.get("/api/shows/t/published/cap20?version=1")).json()
        exported = await public.get("/api/shows/t/published/cap20?format=csv")
        page = await public.get("/results/t/cap20")
        missing = await public.get("/api/shows/t/published/cap20?version=9")
        bad = await public.get("/api/shows/t/published/cap20?version=x")
    assert latest["version"] == 2 and latest["versions"] == 2 and first["note"] == "初版"
    assert first["result"]["rows"][0]["contestant"] == "p2"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["entry"] for r in rows] == [r["contestant"] for r in latest["result"]["rows"]]
    assert rows[0]["total"] == latest["result"]["rows"][0]["total"]
    assert (
        page.status_code == 200
        and "选手1" in page.text
        and latest["result"]["rules_hash"][:12] in page.text
    )
    assert missing.status_code == 404 and bad.status_code == 400
    state = await server.state()
    assert state["published"] == {"cap20": 2}
    kinds = [f async for _, f in server.rt.store.ledger_entries("t") if f.get("k") == "publish"]
    assert [k["version"] for k in kinds] == ["1", "2"]
