"""The `live serve` process owns its embedded Redis: SIGTERM or SIGINT stops both."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets

from live.redis.embedded import free_port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone as far as serving goes.
    return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_stops_the_redis_it_started(tmp_path: Path, sig: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "live", "serve", "--port", str(port), "--data-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"live serve did not come up: {proc.communicate()[1]!r}")
            time.sleep(0.05)
        redis_pid = json.loads((tmp_path / "redis.json").read_text())["pid"]
        assert alive(redis_pid)
        proc.send_signal(sig)
        proc.wait(timeout=20)
        assert proc.stderr is not None
        proc.stderr.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for _ in range(100):
        if not alive(redis_pid):
            break
        time.sleep(0.05)
    assert not alive(redis_pid)
    assert not (tmp_path / "redis.json").exists()


def procfile_web() -> str:
    lines = (Path(__file__).resolve().parent.parent / "Procfile").read_text().splitlines()
    webs = [line.split(":", 1)[1].strip() for line in lines if line.startswith("web:")]
    assert len(webs) == 1
    return webs[0]


async def test_the_procfile_serves_with_the_one_configuration_and_goes_away_with_1001(
    tmp_path: Path,
) -> None:
    """The Procfile runs `live serve` (one uvicorn configuration): on SIGTERM, as a Procfile
    runner sends it to the process group, open sockets close with 1001, not uvicorn's 1012."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"PORT": str(port), "LIVE_DATA_DIR": str(tmp_path)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    proc = await asyncio.create_subprocess_shell(
        procfile_web(),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        async with httpx.AsyncClient() as http, asyncio.timeout(60):
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.returncode is None
                await asyncio.sleep(0.1)
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/shows/demo") as ws:
            await ws.recv()
            os.killpg(proc.pid, signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(20):
                    while True:
                        await ws.recv()
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
