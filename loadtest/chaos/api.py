"""Schemathesis against ``/openapi.json``: positive and negative cases, every check but
``positive_data_acceptance`` (a schema-valid body can still be refused on purpose: an unknown
login token, a mark outside its criterion's range, a vote in a closed category).

``python -m loadtest.chaos.api [--max-examples N] [--url URL]`` prints the requests sent, the
status codes seen, the server errors (5xx) and the failed checks; exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.chaos.access import Staff, cli_env, device_cookie, invite, sign_in
from loadtest.target import BENCH_SHOW, LiveTarget

CHECKS_SKIPPED = "positive_data_acceptance"
NEVER = ("/staff/logout", "/api/shows")
"""Left out of the signed-in runs: the logout would end the very session the run is using; a
show created on the fly would change the document being tested (its ``show`` enum), so every
later request to it would count as schema-violating (tests/test_show_builder.py covers it)."""


@dataclass
class Figures:
    requests: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    runs: list[str] = field(default_factory=list)

    def line(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"schemathesis  {self.requests:,} requests ({len(self.runs)} runs: "
            f"{', '.join(self.runs)}); server errors {self.server_errors}; failed checks "
            f"{len(self.failures)}; statuses {{{codes}}}"
        )


def _count(report_dir: Path, out: Figures) -> None:
    for path in report_dir.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            for interaction in finished["recorder"].get("interactions", {}).values():
                out.requests += 1
                response = interaction.get("response")
                if response:
                    status = int(response["status_code"])
                    out.statuses[status] += 1
                    out.server_errors += status >= 500


async def run_one(
    base_url: str,
    label: str,
    keys: dict[str, str],
    max_examples: int,
    seed: int,
    out: Figures,
    exclude: tuple[str, ...] = (),
) -> None:
    """One schemathesis run; ``keys`` gives values for the document's security schemes
    (``device``, ``staff``, ``csrf``), so schemathesis also tries each request without them."""
    with tempfile.TemporaryDirectory(prefix="st-") as tmp:
        config = Path(tmp) / "schemathesis.toml"
        config.write_text(
            "".join(f'[auth.openapi.{k}]\napi_key = "{v}"\n' for k, v in keys.items())
        )
        argv = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
            f"{base_url}/openapi.json",
            "--checks", "all", "--exclude-checks", CHECKS_SKIPPED,
            "--max-examples", str(max_examples), "--seed", str(seed),
            # One worker: hypothesis' lambda-source parsing is not thread safe on CPython 3.11.
            "--workers", "1", "--request-timeout", "10",
            "--report", "ndjson", "--report-dir", tmp,
            "--suppress-health-check", "all", "--no-color",
        ]  # fmt: skip
        for path in exclude:
            argv += ["--exclude-path", path]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        text = (await proc.communicate())[0].decode(errors="replace")
        before = out.requests
        _count(Path(tmp), out)
        out.runs.append(f"{label} {out.requests - before:,}")
        if proc.returncode != 0:
            found = re.findall(r"^\s*(?:❌|🚫) (.+)$", text, re.M)
            out.failures += [f"{label}: {f}" for f in found] or [f"{label}: exit {proc.returncode}"]
            start = text.find("= FAILURES =")
            end = min(i for i in (text.find("= WARNINGS ="), text.find("= SUMMARY ="), len(text))
                      if i > start)  # fmt: skip
            out.failures.append(text[start:end] if start >= 0 else text[-6000:])


async def run(
    base_url: str, show: str, staff: list[Staff], max_examples: int, seed: int = 1
) -> Figures:
    """Anonymous, a phone (device cookie), then each staff session."""
    out = Figures()
    await run_one(base_url, "anonymous", {}, max_examples, seed, out)
    device = await device_cookie(base_url, show)
    await run_one(base_url, "device", {"device": device}, max_examples, seed, out)
    for member in staff:
        keys = {"device": device, "staff": member.cookie, "csrf": member.csrf}
        await run_one(base_url, member.role, keys, max_examples, seed, out, NEVER)
    return out


async def main_async(args: argparse.Namespace) -> int:
    target = LiveTarget(BENCH_SHOW)
    target.start()
    try:
        env = cli_env(target.data_dir, BENCH_SHOW)
        staff = [
            await sign_in(target.url, "bench", invite("bench", role, f"{role} fuzz", env))
            for role in ("admin", "judge", "moderator")
        ]
        figures = await run(target.url, "bench", staff, args.max_examples, args.seed)
    finally:
        target.stop()
    print(figures.line())
    for failure in figures.failures:
        print(failure)
    return 0 if not figures.failures and figures.server_errors == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.chaos.api", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
