"""The `live serve` process owns its embedded Redis: SIGTERM or SIGINT stops both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

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
