"""Flood limits for websockets: sockets per address, messages per socket. Pure (time is given).

- :class:`Addresses` caps the open sockets of one client address in this process; the one over
  the cap is closed with 4030 (``LIVE_WS_PER_IP``; carrier NAT puts many phones behind one
  address, so the default is generous).
- :class:`Bucket` is a token bucket per socket (``LIVE_WS_MSG_RATE`` a second, bursts of
  ``LIVE_WS_MSG_BURST``). A message without a token is not handled: it is answered with a
  ``throttled`` error. A socket that keeps sending past :data:`STRIKES` unanswered messages
  without ever letting its bucket refill is closed with 4029.

Hand-written rather than a rate-limit library: this runs once per websocket message on the hot
path, in a few attribute reads, with no lock or clock call of its own.
"""

from __future__ import annotations

from collections import Counter

STRIKES = 50
"""Throttled messages in one unbroken flood before the socket is closed."""


class Bucket:
    __slots__ = ("burst", "last", "rate", "strikes", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = now
        self.strikes = 0

    def take(self, now: float) -> bool:
        """Whether a message arriving at ``now`` may be handled."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            if self.tokens >= self.burst - 1.0:
                self.strikes = 0  # the client went quiet long enough to refill: forgiven
            return True
        self.strikes += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.strikes > STRIKES


class Addresses:
    """Open sockets per client address, in this process."""

    __slots__ = ("cap", "open")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.open: Counter[str] = Counter()

    def acquire(self, ip: str) -> bool:
        if self.open[ip] >= self.cap:
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]
