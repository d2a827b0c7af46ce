"""One log line per refused request or socket: who asked, what for, and why not.

Logger ``live.refusals``. Authentication and authorisation refusals (401, 403, websocket 44xx
and 4003 closes) and every refusal on a staff route are WARNING; other refused input (a
viewer's malformed vote) is INFO, so a flood of bad input costs nothing unless asked for.
Each record carries ``who``, ``what``, ``code`` and ``ip`` as attributes, for log shippers.
"""

from __future__ import annotations

import logging

log = logging.getLogger("live.refusals")
ANONYMOUS = "anonymous"


def refused(who: str, what: str, code: str | int, ip: str, warn: bool = True) -> None:
    """Log one refusal. ``who``: ``role:staff-id``, ``device``, or ``anonymous``."""
    log.log(
        logging.WARNING if warn else logging.INFO,
        "refused %s from %s: %s (%s)",
        who,
        ip,
        what,
        code,
        extra={"who": who, "what": what, "code": code, "ip": ip},
    )
