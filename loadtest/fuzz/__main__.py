"""``python -m loadtest.fuzz``: fuzz every parser for ``--seconds`` each; keep the corpus.

Prints one line per target (runs, corpus size, crashes) and exits 1 if any target crashed.
A crash leaves its input as ``loadtest/fuzz/crashes/<target>-crash-*`` to reproduce with
``python -m loadtest.fuzz.child TARGET FILE``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from loadtest.fuzz.targets import SEEDS, TARGETS

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
CRASHES = ROOT / "crashes"


def seed(name: str) -> Path:
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(SEEDS[name]):
        path = folder / f"seed-{i}"
        if not path.exists():
            path.write_bytes(data)
    return folder


def fuzz(
    name: str, seconds: int, max_len: int = 8192, corpus: Path | None = None
) -> dict[str, object]:
    """Run one target for ``seconds`` on ``corpus`` (default: the kept one); its figures."""
    folder = seed(name)
    if corpus is not None:
        shutil.copytree(folder, corpus, dirs_exist_ok=True)
        folder = corpus
    CRASHES.mkdir(exist_ok=True)
    before = len(list(folder.iterdir()))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest.fuzz.child", name, f"-max_total_time={seconds}",
         f"-max_len={max_len}", "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
         f"-artifact_prefix={CRASHES}/{name}-", str(folder)],
        capture_output=True, text=True, timeout=seconds + 120, check=False,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    return {
        "target": name,
        "seconds": round(time.monotonic() - started, 1),
        "runs": int(runs[-1]) if runs else 0,
        "corpus_before": before,
        "corpus_after": len(list(folder.iterdir())),
        "crashed": proc.returncode != 0,
        "tail": "" if proc.returncode == 0 else log[-3000:],
    }


def replay(name: str) -> int:
    """Feed every kept corpus input to the target without atheris; how many there were."""
    folder = seed(name)
    files = sorted(folder.iterdir())
    for path in files:
        TARGETS[name](path.read_bytes())
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--only", default=",".join(TARGETS))
    args = parser.parse_args(argv)
    failed = False
    for name in args.only.split(","):
        out = fuzz(name, args.seconds)
        print(
            f"atheris {name:7} {out['seconds']:>6} s  {out['runs']:>10,} runs  corpus "
            f"{out['corpus_before']} -> {out['corpus_after']}  crashes {int(bool(out['crashed']))}",
            flush=True,
        )
        if out["crashed"]:
            failed = True
            print(out["tail"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
