"""The objects a running app owns, created in the lifespan and reached from the edges."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.templating import Jinja2Templates

from live.flood import Addresses
from live.hub import Hub
from live.identity import Devices
from live.judging_service import Judging
from live.moderation import Moderation
from live.service import Service
from live.sessions import Sessions
from live.settings import Settings
from live.store import Store


@dataclass(slots=True)
class Runtime:
    settings: Settings
    store: Store
    service: Service
    hub: Hub
    devices: Devices
    templates: Jinja2Templates
    sessions: Sessions
    judging: Judging
    moderation: Moderation
    addresses: Addresses
    """Open websockets per client address in this process (``LIVE_WS_PER_IP``)."""


def runtime(app: Starlette) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt
