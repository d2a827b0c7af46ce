"""A show file's ``[[ingest]]`` entry: one platform live room whose events join the show."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from live.domain.ingest.event import Platform

CREDENTIALS = ("secret_env", "key_id_env", "code_env", "client_id_env", "token_env")
"""The fields of a source that name an environment variable."""

ENV_PREFIX = "LIVE_INGEST_"
"""The only environment variables a show may name for a platform credential: the operator's
own, set for this purpose. Never another setting (``LIVE_METRICS_TOKEN``, ``REDIS_URL``, ...):
a show admin is not the operator, and a webhook that answers differently for a variable that
is set would let them probe the server's secrets."""

EnvName = Annotated[str, Field(pattern=r"^([A-Z][A-Z0-9_]{0,127})?$")]
"""The name of an environment variable holding a credential (never the credential itself);
which names a show may use is :func:`env_allowed`'s (``_env_name`` says so early)."""

NEEDS: dict[str, tuple[str, ...]] = {
    "douyin": ("secret_env",),
    "bilibili": ("key_id_env", "secret_env", "code_env"),
    "twitch": ("client_id_env", "token_env"),
}

DEFAULT_URL = {
    "bilibili": "https://live-open.biliapi.com",
    "twitch": "wss://eventsub.wss.twitch.tv/ws",
    "douyin": "",
}
DEFAULT_API = {"twitch": "https://api.twitch.tv", "bilibili": "", "douyin": ""}


class IngestSource(BaseModel):
    """One live room on one platform.

    Credentials are named by environment variable (``*_env``), read when the server starts;
    the show file never holds them. ``category``: the category chat votes count in ('' for
    none: comments, likes and gifts only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    platform: Platform
    room: Annotated[str, Field(pattern=r"^([A-Za-z0-9_-]{1,64}|\*)$")]
    """The room (bilibili room id, Douyin ``x-roomid``, Twitch broadcaster user id); for
    Douyin ``*`` takes a push from any room signed with the secret."""
    category: str = ""
    secret_env: EnvName = ""
    """Douyin: the push secret; bilibili: the access key secret."""
    key_id_env: EnvName = ""
    """bilibili: the access key id."""
    code_env: EnvName = ""
    """bilibili: the streamer's 身份码."""
    app_id: Annotated[int, Field(ge=0)] = 0
    """bilibili: the project's app id."""
    client_id_env: EnvName = ""
    """Twitch: the app's client id."""
    token_env: EnvName = ""
    """Twitch: a user access token with ``user:read:chat``."""
    user_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,64}$")] = ""
    """Twitch: the user reading the chat (default: the broadcaster)."""
    url: Annotated[str, Field(max_length=300)] = ""
    """bilibili: the open platform's base URL; Twitch: the EventSub websocket. Default: the
    platform's own (tests point it at a local fake)."""
    api: Annotated[str, Field(max_length=300)] = ""
    """Twitch: the Helix API's base URL (default ``https://api.twitch.tv``)."""
    grace_ms: Annotated[int, Field(ge=0, le=60_000)] = 3000
    """A chat vote counts while its category is open, if the platform's timestamp is no
    earlier than the window's opening minus this (typed before voting opened: not a vote)."""

    @model_validator(mode="after")
    def _credentials(self) -> IngestSource:
        missing = [name for name in NEEDS[self.platform] if not getattr(self, name)]
        if missing:
            raise ValueError(f"{self.platform} needs {', '.join(missing)}")
        if self.room == "*" and self.platform != "douyin":
            raise ValueError("room '*' (any room) is for Douyin's pushes only")
        if self.platform == "bilibili" and not self.app_id:
            raise ValueError("bilibili needs app_id")
        return self

    @field_validator(*CREDENTIALS, mode="before")
    @classmethod
    def _env_name(cls, value: object) -> object:
        if isinstance(value, str) and value and not value.startswith(ENV_PREFIX):
            raise ValueError(
                f"{value!r}: a platform credential is named by an environment variable "
                f"starting {ENV_PREFIX} (the operator's; never another setting)"
            )
        return value

    @property
    def base_url(self) -> str:
        return (self.url or DEFAULT_URL[self.platform]).rstrip("/")

    @property
    def api_url(self) -> str:
        return (self.api or DEFAULT_API[self.platform]).rstrip("/")


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower case ('' for what is not an absolute URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("https", "wss", "http", "ws") or not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def endpoint_problems(src: IngestSource, allowed: frozenset[str]) -> list[str]:
    """Why ``src`` may not be reached where it says (``url``, ``api``): only the platform's own
    endpoints, and the origins the operator allows (``LIVE_INGEST_ENDPOINTS``, e.g. a local
    fake in tests). A show may otherwise send the operator's credentials to any host. Pure."""
    own = {origin(DEFAULT_URL[src.platform]), origin(DEFAULT_API[src.platform])} - {""}
    problems = []
    for name in ("url", "api"):
        value = getattr(src, name)
        if value and origin(value) not in own | allowed:
            problems.append(
                f"{src.platform} room {src.room}: {name} {value!r} is not the platform's own "
                "endpoint nor one the operator allows (LIVE_INGEST_ENDPOINTS)"
            )
    return problems


_NAME = re.compile(r"[A-Z0-9]+(_[A-Z0-9]+)*")


def env_prefix(show: str) -> str:
    """The prefix of the variables ``show`` may name for its credentials:
    ``LIVE_INGEST_<SHOW>__`` (the id in capitals, ``-`` as ``_``): one show cannot name
    another's (``LIVE_INGEST_DEMO__DOUYIN_SECRET`` is the demo show's)."""
    return f"{ENV_PREFIX}{show.upper().replace('-', '_')}__"


def env_allowed(show: str, var: str) -> bool:
    """Whether ``show`` may read the variable ``var``: its own prefix, then a name without
    ``__`` (so that show ``a`` cannot reach ``LIVE_INGEST_A__B__X``, show ``a--b``'s). Pure."""
    head = env_prefix(show)
    return var.startswith(head) and bool(_NAME.fullmatch(var[len(head) :]))


def env_problems(show: str, src: IngestSource) -> list[str]:
    """The credentials of ``src`` that name a variable ``show`` may not read. Pure."""
    return [
        f"{src.platform} room {src.room}: {name} {getattr(src, name)!r} is not one of this "
        f"show's variables ({env_prefix(show)}NAME)"
        for name in CREDENTIALS
        if getattr(src, name) and not env_allowed(show, getattr(src, name))
    ]
