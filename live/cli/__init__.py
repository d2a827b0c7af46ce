"""The ``live`` command (also ``python -m live``); see :mod:`live.cli.main`."""

from live.cli.main import main

__all__ = ["main"]
