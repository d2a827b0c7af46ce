"""The capacity model's plot is a well-formed SVG, and the model grows with the show."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

from loadtest.capacity import need, plot


def test_the_plot_is_an_svg_with_both_panels(tmp_path: Path) -> None:
    path = tmp_path / "capacity.svg"
    path.write_text(plot())
    doc = xml.dom.minidom.parse(str(path))  # noqa: S318 (our own plot, not untrusted input)
    root = doc.documentElement
    assert root is not None and root.tagName == "svg"
    assert len(doc.getElementsByTagName("polyline")) == 5


def test_a_bigger_show_needs_more_of_everything() -> None:
    small, big = need(50_000, 5_000), need(500_000, 50_000)
    assert big.app_processes > small.app_processes
    assert big.partitions > small.partitions >= 1
    assert big.egress_gbit_s > small.egress_gbit_s
