"""Show files: the demo loads; a malformed file is refused with every problem listed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from live.domain.errors import ShowFileError
from live.domain.show import load_show, load_shows
from live.settings import DEMO_SHOW


def test_demo_show_is_a_craftsman_roadshow_with_three_awards() -> None:
    show = load_show(DEMO_SHOW)
    assert len(show.contestants) == 15
    assert [c.order for c in show.running_order()] == list(range(1, 16))
    assert {c.field for c in show.contestants} >= {
        "aerospace",
        "electric-power",
        "rail-transit",
        "marine-equipment",
    }
    assert [c.name_en for c in show.categories] == [
        "Best Display Award",
        "Wonderful Display Award",
        "Excellent Display Award",
    ]
    assert any(c.open for c in show.categories)


BAD = """
id = "Bad Id"
title = ""
title_en = "x"
[[contestants]]
id = "a"
name = "A"
name_en = "A"
organisation = "O"
organisation_en = "O"
field = "aerospace"
innovation = "I"
innovation_en = "I"
order = 1
[[contestants]]
id = "a"
name = "B"
name_en = "B"
organisation = "O"
organisation_en = "O"
field = "aerospace"
innovation = "I"
innovation_en = "I"
order = "two"
[[categories]]
id = "best"
name = "Best"
name_en = "Best"
votes_per_device = 0
"""


def test_malformed_show_lists_every_problem_with_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    with pytest.raises(ShowFileError) as err:
        load_show(path)
    fields = {p.field for p in err.value.problems}
    assert {"id", "title", "contestants.1.order", "categories.0.votes_per_device"} <= fields
    assert all(p.file == str(path) for p in err.value.problems)


def test_semantic_problems_are_all_listed(tmp_path: Path) -> None:
    text = BAD.replace('id = "Bad Id"', 'id = "bad"').replace('title = ""', 'title = "t"')
    text = text.replace('order = "two"', "order = 1").replace("votes_per_device = 0", "")
    text += 'contestants = ["a", "ghost"]\nper_contestant = 3\n'
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ShowFileError) as err:
        load_show(path)
    whys = sorted(p.why for p in err.value.problems)
    assert whys == [
        "cannot exceed votes_per_device",
        "duplicate id 'a'",
        "duplicate order 1",
        "unknown contestant 'ghost'",
    ]


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("id = ")
    with pytest.raises(ShowFileError) as err:
        load_shows((path,))
    assert err.value.problems[0].file == str(path)
    assert err.value.problems[0].field == "(syntax)"


def test_serve_refuses_a_bad_show_file_before_starting(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    done = subprocess.run(
        [sys.executable, "-m", "live", "serve", "--show-file", str(path), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"LIVE_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert f"{path}: contestants.1.order:" in done.stderr
    assert f"{path}: categories.0.votes_per_device:" in done.stderr
    assert not (tmp_path / "data" / "redis.json").exists()


def test_a_preset_given_as_a_table_is_a_listed_problem_not_a_crash(tmp_path: Path) -> None:
    """Found by atheris: ``preset = {...}`` raised TypeError (unhashable) out of the loader."""
    demo = DEMO_SHOW.read_text()
    path = tmp_path / "bad.toml"
    path.write_text(demo.replace('rules = { preset = "', 'rules = { preset = { x = 0 }, y = "', 1))
    with pytest.raises(ShowFileError) as err:
        load_show(path)
    assert "unknown preset" in str(err.value)
