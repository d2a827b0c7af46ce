"""The objects a running app owns, created in the lifespan and reached from the edges."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.templating import Jinja2Templates

from live.realtime.flagger import Flagger
from live.realtime.flood import Addresses
from live.realtime.hub import Hub
from live.realtime.likes import LikeBuffer
from live.realtime.supervisor import Supervisor
from live.redis.pubsub import Broker
from live.redis.sessions import Sessions
from live.redis.store import Store
from live.services.activity import ActivityFeed
from live.services.comments import Comments
from live.services.identity import Identity
from live.services.ingest import Ingest
from live.services.judging import Judging
from live.services.moderation import Moderation
from live.services.setup import Setup
from live.services.shows import Service
from live.services.signin import Oidc, WeChat
from live.settings import Settings
from live.web.identity import Devices, Identities


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
    likes: LikeBuffer
    broker: Broker
    flagger: Flagger | None
    """The fraud detector when it runs in this process (``LIVE_FLAGGER=inline``)."""
    supervisor: Supervisor
    """Owns every background task above: restarts them, reports them in ``/healthz``."""
    setup: Setup
    """Shows set up in the browser (the registry), served by every process."""
    activity: ActivityFeed
    """Votes and likes per minute for the admin console's plots."""
    ingest: Ingest
    """Platform events (bilibili, Douyin, Twitch) into the show."""
    comments: Comments
    """Comments: posting, the word filter, moderation, the danmaku layer."""
    identity: Identity
    """Phone codes (and the claims of every sign-in)."""
    identities: Identities
    """Signs and reads the device's ``live_identity`` cookie."""
    wechat: WeChat
    oidc: Oidc
    decoding: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while an uploaded image is decoded (one at a time per process)."""
    draining: bool = False
    """Set from the moment SIGTERM arrives: ``/readyz`` answers 503 so that a balancer sends
    no new phones here while the process finishes (``LIVE_DRAIN_SECONDS``)."""


def runtime(app: Starlette) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt
