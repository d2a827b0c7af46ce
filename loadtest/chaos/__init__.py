"""Faults, floods, fuzzing and attacks against a running server (``make chaos``; loopback only).

Each module is one experiment that prints its figure; the fast variants run in ``make test``.
"""
