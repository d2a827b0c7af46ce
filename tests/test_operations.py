"""Running it in production: /metrics summed over workers and guarded by its token, /readyz
draining from SIGTERM on, and JSON log lines. Real `live serve` processes on a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from live.redis.embedded import free_port
from live.web.identity import COOKIE, Devices
from tests.helpers import SECRET, SHOW, LiveServer, staff_client, staff_login, vote_body
from tests.test_browser import ARTIFACTS, browser, chromium  # noqa: F401

TOKEN = "scrape-" + "x" * 24


@contextmanager
def live_serve(
    redis_url: str, prefix: str, data: Path, *args: str, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """``live serve`` on a free port; (process, port, its stderr file)."""
    port = free_port()
    full = {
        **os.environ,
        "REDIS_URL": redis_url,
        "LIVE_KEY_PREFIX": prefix,
        "LIVE_SECRET_KEY": SECRET,
        "LIVE_SHOW_FILES": str(SHOW),
        "LIVE_DATA_DIR": str(data),
        "LIVE_FLAGGER": "inline",
        **env,
    }
    full.pop("PROMETHEUS_MULTIPROC_DIR", None)
    err = data / "stderr.log"
    data.mkdir(parents=True, exist_ok=True)
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "live", "serve", "--port", str(port), *args],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield proc, port, err
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=20)


async def ready(port: int) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the server on {port} never became ready")


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        found = re.match(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", line)
        if not found or found.group(1) != name:
            continue
        got = ",".join(
            sorted(p for p in (found.group(2) or "").split(",") if p and "pid=" not in p)
        )
        if got == want:
            total += float(found.group(3))
    return total


@asynccontextmanager
async def scraper(port: int, token: str | None = TOKEN) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
        yield http


async def test_metrics_sum_every_worker_and_need_the_token(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    with live_serve(redis_url, prefix, tmp_path, "--workers", "2", LIVE_METRICS_TOKEN=TOKEN) as (
        _,
        port,
        _err,
    ):
        await ready(port)
        for i in range(40):  # a connection each: the kernel hands them to either worker
            cookie = Devices(SECRET).issue()[1]
            async with httpx.AsyncClient(cookies={COOKIE: cookie}) as phone:
                body = vote_body("cap20", f"p{1 + i % 5}", f"metrics-{i:04d}")
                reply = await phone.post(f"http://127.0.0.1:{port}/api/shows/t/votes", json=body)
            assert reply.json()["status"] == "accepted", reply.text
        shared = tmp_path / "metrics"
        pids = {re.sub(r"\D", "", f.name.rsplit("_", 1)[-1]) for f in shared.glob("*.db")}
        assert len(pids) >= 2, sorted(p.name for p in shared.glob("*"))  # two workers wrote
        for _ in range(6):  # whichever worker answers, the figure is the sum of both
            async with scraper(port) as http:
                text = (await http.get("/metrics")).text
            labels = {"show": "t", "category": "cap20", "status": "accepted"}
            assert sample(text, "live_votes_total", **labels) == 40
            assert sample(text, "live_vote_seconds_count") == 40
            assert sample(text, "live_task_up", task="hub") == 1
        print(f"\n/metrics after 40 votes on 2 workers ({len(pids)} pid files):")
        for line in text.splitlines():
            if line.startswith(("live_votes_total", "live_vote_seconds_count", "live_task_up")):
                print("  " + line)
        async with scraper(port, None) as http:
            anonymous = await http.get("/metrics")
        async with scraper(port, "wrong") as http:
            wrong = await http.get("/metrics")
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_signed_in"
    assert "live_votes_total" not in wrong.text


async def test_metrics_are_off_without_a_token(server: LiveServer) -> None:
    async with server.client() as http:
        reply = await http.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "metrics_disabled")


async def test_readyz_turns_503_from_sigterm_while_the_process_drains(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    with live_serve(redis_url, prefix, tmp_path, LIVE_DRAIN_SECONDS="3") as (proc, port, _):
        await ready(port)
        proc.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(40):
                reply = await http.get("/readyz")
                if reply.status_code == 503:
                    break
                await asyncio.sleep(0.05)
            assert (reply.status_code, reply.json()["status"]) == (503, "draining")
            assert (await http.get("/healthz")).status_code == 200  # alive while it drains
            state = await http.get("/api/shows/t")  # and still serving its phones
            assert state.status_code == 200
        code = await asyncio.to_thread(proc.wait, 20)
    assert code in (0, 128 + signal.SIGTERM), code


async def test_json_logs_are_one_object_per_line_with_the_refusal_fields(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    with live_serve(redis_url, prefix, tmp_path, LIVE_LOG_FORMAT="json") as (proc, port, err):
        await ready(port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            refused = await http.post("/api/shows/t/stage", json={"action": "next"})
        assert refused.status_code == 401
        proc.terminate()
        await asyncio.to_thread(proc.wait, 20)
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    refusal = [r for r in records if r["logger"] == "live.refusals"]
    assert refusal and refusal[0]["code"] == "not_signed_in" and refusal[0]["ip"] == "127.0.0.1"
    assert refusal[0]["what"] == "POST /api/shows/t/stage"
    assert any(r["logger"].startswith("uvicorn") for r in records)


DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "live.json"


async def test_every_metric_the_dashboard_queries_is_exported(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())  # it loads
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {m for q in queries for m in re.findall(r"\b((?:live|process)_[a-z_]+)\b", q)}
    with live_serve(redis_url, prefix, tmp_path, LIVE_METRICS_TOKEN=TOKEN) as (_, port, _err):
        await ready(port)
        async with scraper(port) as http:
            text = (await http.get("/metrics")).text
    exported: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        exported.add(name)
        if kind == "histogram":
            exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    assert used and used <= exported, sorted(used - exported)
    assert len(dashboard["panels"]) >= 10


async def test_the_console_plots_votes_and_likes_per_minute_since_voting_opened(
    server: LiveServer,
    browser: Browser,  # noqa: F811
) -> None:
    for i in range(9):
        async with server.client(server.cookie()) as phone:
            body = vote_body("cap20" if i < 6 else "cap1", "p2", f"activity-{i:04d}")
            assert (await phone.post("/api/shows/t/votes", json=body)).status_code == 200
            await phone.post("/api/shows/t/likes", json={"n": 4})
    await server.rt.likes.flush()
    cookie, _ = await staff_login(server, "admin")
    async with staff_client(server, cookie) as http:
        activity = (await http.get("/api/shows/t/activity")).json()
        again = (await http.get("/api/shows/t/activity")).json()  # read on from where it was
    assert sum(activity["votes"]["cap20"]) == 6 and sum(activity["votes"]["cap1"]) == 3
    assert sum(activity["likes"]) == 36 and activity["since"] is not None
    assert sum(again["votes"]["cap20"]) == 6  # read on from where it was: nothing counted twice
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_cookies([{"name": "live_staff", "value": cookie, "url": server.url}])
    page = await context.new_page()
    await page.goto(f"{server.url}/admin/t")
    await expect(page.locator("#votes-chart polyline")).to_have_count(len(activity["votes"]))
    await expect(page.locator("#likes-chart polyline")).to_have_count(1)
    await expect(page.locator("#votes-summary")).to_contain_text("votes/min")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("#activity-panel").screenshot(path=str(ARTIFACTS / "console-activity.png"))
    await context.close()


WORKER = """
import sys
from prometheus_client import Counter, Gauge
Gauge("live_demo_open", "open", multiprocess_mode="livesum").set(int(sys.argv[1]))
Counter("live_demo_done", "done").inc(int(sys.argv[1]))
"""


def test_a_dead_workers_gauges_leave_the_sum_and_its_counters_stay(tmp_path: Path) -> None:
    """A worker that died without a clean exit (a crash, a kill) leaves its metric files; the
    scrape forgets its live gauges (open connections) but keeps its counters (a total never
    falls)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from live.metrics import workers_registry

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (3, 4):  # two workers that have exited, leaving their files
        subprocess.run([sys.executable, "-c", WORKER, str(n)], env=env, check=True)
    plain = CollectorRegistry()
    MultiProcessCollector(plain, path=str(tmp_path))  # type: ignore[no-untyped-call]
    before = generate_latest(plain).decode()
    assert "live_demo_open 7.0" in before  # without forgetting, the dead count as open
    after = generate_latest(workers_registry(str(tmp_path))).decode()
    assert "live_demo_open " not in after
    assert "live_demo_done_total 7.0" in after
