"""Credentials for experiments against a running server: device cookies and staff sessions,
obtained through the public surface (the show page, the one-time login link) as people do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx


@dataclass(frozen=True, slots=True)
class Staff:
    role: str
    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        return {"Cookie": f"live_staff={self.cookie}", "X-CSRF-Token": self.csrf}


async def device_cookie(base_url: str, show: str) -> str:
    """The signed device cookie the viewer page hands a new phone."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        reply = await http.get(f"/s/{show}")
        reply.raise_for_status()
        return reply.cookies["live_device"]


def invite(show: str, role: str, name: str, env: dict[str, str], organiser: bool = False) -> str:
    """``live staff invite`` (``--organiser``: who may create shows): the one-time token."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "live",
            "staff",
            "invite",
            "--show",
            show,
            "--role",
            role,
            "--name",
            name,
            *(["--organiser"] if organiser else []),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    link = next(line for line in out.splitlines() if "token=" in line)
    return parse_qs(urlparse(link).query)["token"][0]


async def sign_in(base_url: str, show: str, token: str) -> Staff:
    """Use a login token through the real form; the session cookie and the console's CSRF."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        reply = await http.post("/staff/login", data={"show": show, "token": token})
        if reply.status_code != 303:
            raise RuntimeError(f"login failed: {reply.status_code} {reply.text}")
        cookie = reply.cookies["live_staff"]  # the client keeps it for the next request
        page = await http.get(reply.headers["location"])
        found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        csrf = found.group(1) if found else ""
        role_page = reply.headers["location"].split("/")[1]
        role = {"admin": "admin", "judge": "judge", "moderate": "moderator"}.get(
            role_page, role_page
        )
        return Staff(role, cookie, csrf)


def cli_env(data_dir: Path, show_file: Path) -> dict[str, str]:
    """The environment that lets ``live`` commands find a server's embedded Redis."""
    return {"LIVE_DATA_DIR": str(data_dir), "LIVE_SHOW_FILES": str(show_file)}
