"""Every parser under atheris (coverage-guided): the kept corpus replays without a crash, and a
short fuzzing run of each target finds none. ``make chaos`` runs each for 10 minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.fuzz.__main__ import fuzz as run_atheris
from loadtest.fuzz.__main__ import replay
from loadtest.fuzz.targets import SEEDS, TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_kept_corpus_replays_without_a_crash(name: str) -> None:
    assert replay(name) >= len(SEEDS[name])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_atheris_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    out = run_atheris(name, seconds=2, corpus=tmp_path / name)
    print(f"\natheris {name}: {out['runs']:,} runs, corpus {out['corpus_after']}")
    assert not out["crashed"], out["tail"]
    assert isinstance(out["runs"], int) and out["runs"] > 100


def test_a_target_reports_a_crash_as_one() -> None:
    """The harness is not blind: an exception other than a documented refusal escapes."""
    with pytest.raises(AttributeError):
        TARGETS["ws"](None)  # type: ignore[arg-type]
