"""What pyproject.toml declares is what the code needs."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def declared(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name == name]
    assert len(found) == 1, deps
    return found[0]


def test_uvicorn_is_declared_from_the_release_with_the_sansio_websockets() -> None:
    """``live.web.server`` subclasses ``websockets_sansio_impl``, first shipped in uvicorn
    0.35: with an older uvicorn every ``live`` command would fail at import."""
    spec = declared("uvicorn").specifier
    assert not spec.contains("0.34.3")
    assert not spec.contains("0.30.0")
    assert spec.contains("0.35.0")
    assert spec.contains(metadata.version("uvicorn"))  # and the one we test with


def test_the_installed_versions_satisfy_the_declared_ones() -> None:
    for name in ("starlette", "uvicorn", "websockets", "redis", "pydantic", "jinja2"):
        assert declared(name).specifier.contains(metadata.version(name)), name
