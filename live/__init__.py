"""live: a platform for live-streamed award events."""

__version__ = "0.1.0"
