"""A show file's ``[[ingest]]`` entry: one platform live room whose events join the show."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from live.domain.ingest.event import Platform

EnvName = Annotated[str, Field(pattern=r"^([A-Z][A-Z0-9_]{0,63})?$")]
"""The name of an environment variable holding a credential (never the credential itself)."""

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

    @property
    def base_url(self) -> str:
        return (self.url or DEFAULT_URL[self.platform]).rstrip("/")

    @property
    def api_url(self) -> str:
        return (self.api or DEFAULT_API[self.platform]).rstrip("/")
