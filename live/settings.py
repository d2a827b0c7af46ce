"""One immutable settings object, read once from the environment.

Every variable is documented in the README; nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from live.domain.errors import ConfigError
from live.domain.ingest.source import origin

DEMO_SHOW = Path(__file__).parent / "shows" / "demo.toml"


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < lo:
        raise ConfigError(f"{name} must be at least {lo}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = env.get(name) or allowed[0]
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Sms:
    """The SMS provider of phone codes (``LIVE_SMS_*``)."""

    provider: str = "console"
    """``LIVE_SMS_PROVIDER``: ``console`` (development: the code goes to the log), ``aliyun``
    (Alibaba Cloud SMS, SendSms) or ``tencent`` (Tencent Cloud SMS, SendSms 2021-01-11)."""
    key_id: str = ""
    """``LIVE_SMS_KEY_ID``: AccessKey ID (aliyun) or SecretId (tencent)."""
    key_secret: str = field(default="", repr=False)
    """``LIVE_SMS_KEY_SECRET``: AccessKey secret (aliyun) or SecretKey (tencent)."""
    sign_name: str = ""
    """``LIVE_SMS_SIGN_NAME``: the approved signature (签名)."""
    template: str = ""
    """``LIVE_SMS_TEMPLATE``: the approved template: TemplateCode (aliyun, with a ``${code}``
    parameter) or TemplateId (tencent, whose first parameter is the code)."""
    app_id: str = ""
    """``LIVE_SMS_APP_ID``: tencent's SmsSdkAppId."""
    region: str = ""
    """``LIVE_SMS_REGION``: default ``cn-hangzhou`` (aliyun), ``ap-guangzhou`` (tencent)."""
    per_address: int = 30
    """``LIVE_SMS_PER_ADDRESS``: codes one client address may ask for in an hour."""
    per_device: int = 5
    """``LIVE_SMS_PER_DEVICE``: codes one device may ask for in an hour."""
    per_subnet: int = 60
    """``LIVE_SMS_PER_SUBNET``: codes one /24 (IPv4) or /64 (IPv6) may ask for in an hour."""
    hourly_budget: int = 1000
    """``LIVE_SMS_HOURLY_BUDGET``: codes the server sends in an hour; past it the breaker
    opens (``live_sms_breaker_open``) and nothing is sent for an hour."""
    captcha_after: int = 3
    """``LIVE_SMS_CAPTCHA_AFTER``: codes one address may ask for in an hour before the
    captcha is required (when ``LIVE_CAPTCHA_VERIFY_URL`` is set)."""
    countries: tuple[str, ...] = ("86",)
    """``LIVE_SMS_COUNTRIES``: comma-separated country calling codes codes are sent to
    (default ``+86``; e.g. ``+86,+852,+853``)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one server process (and of the CLI commands beside it)."""

    redis_url: str | None = None
    """``REDIS_URL``: an external Redis. Unset: the embedded redis-server in ``data_dir``."""
    data_dir: Path = Path(".live")
    """``LIVE_DATA_DIR``: where the embedded Redis keeps its AOF and where secrets are kept."""
    show_files: tuple[Path, ...] = (DEMO_SHOW,)
    """``LIVE_SHOW_FILES``: comma-separated TOML show files served by this process."""
    key_prefix: str = "live"
    """``LIVE_KEY_PREFIX``: prefix of every Redis key (tests use a unique one each)."""
    secret_key: str | None = None
    """``LIVE_SECRET_KEY``: signs device cookies. Unset: a random key kept in ``data_dir``."""
    public_url: str | None = None
    """``LIVE_PUBLIC_URL``: the address phones use (``https://vote.example.com``), for QR
    codes, posters and share links. Unset: the address the request came to."""
    push_interval_ms: int = 250
    """``LIVE_PUSH_INTERVAL_MS``: the ticker period; tallies are pushed at most this often."""
    like_flush_ms: int = 200
    """``LIVE_LIKE_FLUSH_MS``: likes are merged in memory this long before one Redis write."""
    slow_client_ms: int = 5000
    """``LIVE_SLOW_CLIENT_MS``: a socket whose send is stuck this long is closed (4008)."""
    redis_timeout_ms: int = 1000
    """``LIVE_REDIS_TIMEOUT_MS``: budget of one Redis call; past it the request gets a 503."""
    redis_pool_size: int = 64
    """``LIVE_REDIS_POOL_SIZE``: connections per process (a blocking pool; on a cluster, per
    node)."""
    redis_cluster: bool = False
    """``LIVE_REDIS_CLUSTER``: 1 when ``REDIS_URL`` names a node of a Redis Cluster."""
    redis_wait_replicas: int = 0
    """``LIVE_REDIS_WAIT_REPLICAS``: replicas a vote must reach before it is answered
    ``accepted`` (``WAIT``, once per micro-batch); default 1 on a cluster, 0 otherwise."""
    redis_wait_ms: int = 200
    """``LIVE_REDIS_WAIT_MS``: how long a batch waits for those replicas before its votes are
    answered 503 ``not_replicated`` (a retry with the same ``vote_id`` is safe)."""
    max_body_bytes: int = 4096
    """``LIVE_MAX_BODY_BYTES``: larger JSON bodies are refused with 413."""
    ws_max_bytes: int = 4096
    """``LIVE_WS_MAX_BYTES``: larger websocket frames close the socket with 1009."""
    ws_per_ip: int = 256
    """``LIVE_WS_PER_IP``: open websockets per client address and process; more close (4030)."""
    ws_msg_rate: float = 20.0
    """``LIVE_WS_MSG_RATE``: messages a second one socket may send (a token bucket)."""
    ws_msg_burst: int = 40
    """``LIVE_WS_MSG_BURST``: messages one socket may send at once before the rate applies."""
    max_inflight: int = 512
    """``LIVE_MAX_INFLIGHT``: HTTP requests one process serves at once; more are shed with 503
    and ``Retry-After`` before any work is done."""
    cookie_secure: bool = False
    """``LIVE_COOKIE_SECURE``: mark cookies Secure (set to 1 behind TLS)."""
    trusted_proxies: str = ""
    """``LIVE_TRUSTED_PROXIES``: addresses whose X-Forwarded-For is believed (``live serve``)."""
    allowed_origins: tuple[str, ...] = ()
    """``LIVE_ALLOWED_ORIGINS``: comma-separated origins allowed for websockets and POSTs
    (e.g. ``https://vote.example.com``). Empty: only the server's own host."""
    metrics_token: str = field(default="", repr=False)
    """``LIVE_METRICS_TOKEN``: the bearer token ``GET /metrics`` asks for (unset: ``/metrics``
    answers 404 ``metrics_disabled``; ``live serve --metrics-port`` serves them apart)."""
    drain_seconds: float = 0.0
    """``LIVE_DRAIN_SECONDS``: after SIGTERM, how long the process keeps serving while
    ``/readyz`` answers 503 ``draining``, so that a balancer probing it stops sending new
    phones before it stops (set it to about two probe intervals behind a balancer)."""
    log_json: bool = False
    """``LIVE_LOG_FORMAT=json``: one JSON object per log line (time, level, logger, message
    and the record's extra fields)."""
    flagger_inline: bool = False
    """``LIVE_FLAGGER``: ``process`` (the default) leaves the fraud detector to its own process,
    ``live flagger`` (``live demo`` starts one; the Procfile lists it); ``inline`` runs it in the
    serving process (one-process setups and the tests)."""

    identity_key: str | None = field(default=None, repr=False)
    """``LIVE_IDENTITY_KEY``: the key of the HMAC-SHA-256 under which phone numbers, WeChat
    openids and OIDC subjects are kept (never in plain). Unset: a random key kept in
    ``data_dir`` (``identity.key``); set it on every machine of a multi-machine setup."""
    sms: Sms = field(default_factory=lambda: Sms())
    """``LIVE_SMS_*``: the SMS provider that sends phone codes."""
    wechat_app_id: str = ""
    """``LIVE_WECHAT_APP_ID``: the WeChat official account's AppID (empty: no WeChat tier)."""
    wechat_secret: str = field(default="", repr=False)
    """``LIVE_WECHAT_SECRET``: its AppSecret."""
    oidc_issuer: str = ""
    """``LIVE_OIDC_ISSUER``: the OpenID provider (its ``/.well-known/openid-configuration``
    is read); empty: no OIDC tier."""
    oidc_client_id: str = ""
    """``LIVE_OIDC_CLIENT_ID``."""
    oidc_client_secret: str = field(default="", repr=False)
    """``LIVE_OIDC_CLIENT_SECRET``."""
    captcha_url: str = ""
    """``LIVE_CAPTCHA_VERIFY_URL``: a siteverify endpoint (Turnstile, hCaptcha, reCAPTCHA
    style: POST ``secret``, ``response``, ``remoteip``; answers ``{"success": true}``) asked
    before a phone code is sent; empty: no captcha."""
    captcha_secret: str = field(default="", repr=False)
    """``LIVE_CAPTCHA_SECRET``."""
    backup_passphrase: str | None = field(default=None, repr=False)
    """``LIVE_BACKUP_PASSPHRASE``: seals ``live backup --encrypt`` files and opens them for
    ``live restore`` (at least 12 characters)."""
    ingest_endpoints: frozenset[str] = frozenset()
    """``LIVE_INGEST_ENDPOINTS``: comma-separated origins (``https://host:port``) a show's
    platform source may name as its ``url`` or ``api`` besides the platform's own (a proxy, a
    local fake). Empty: only the platforms' own endpoints."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        shows = env.get("LIVE_SHOW_FILES", "")
        show_files = (
            tuple(Path(p.strip()) for p in shows.split(",") if p.strip()) if shows else (DEMO_SHOW,)
        )
        prefix = env.get("LIVE_KEY_PREFIX", "live")
        if not prefix or any(c in prefix for c in "{}: \t"):
            raise ConfigError(f"LIVE_KEY_PREFIX must be a plain word, got {prefix!r}")
        cluster = env.get("LIVE_REDIS_CLUSTER", "") in {"1", "true", "yes"}
        if cluster and not env.get("REDIS_URL"):
            raise ConfigError("LIVE_REDIS_CLUSTER=1 needs REDIS_URL naming a node of the cluster")
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            redis_cluster=cluster,
            redis_wait_replicas=_int(env, "LIVE_REDIS_WAIT_REPLICAS", 1 if cluster else 0, lo=0),
            redis_wait_ms=_int(env, "LIVE_REDIS_WAIT_MS", 200, lo=1),
            data_dir=Path(env.get("LIVE_DATA_DIR") or ".live"),
            show_files=show_files,
            key_prefix=prefix,
            secret_key=env.get("LIVE_SECRET_KEY") or None,
            public_url=_public_url(env.get("LIVE_PUBLIC_URL", "")),
            push_interval_ms=_int(env, "LIVE_PUSH_INTERVAL_MS", 250, lo=10),
            like_flush_ms=_int(env, "LIVE_LIKE_FLUSH_MS", 200, lo=10),
            slow_client_ms=_int(env, "LIVE_SLOW_CLIENT_MS", 5000, lo=100),
            redis_timeout_ms=_int(env, "LIVE_REDIS_TIMEOUT_MS", 1000, lo=50),
            redis_pool_size=_int(env, "LIVE_REDIS_POOL_SIZE", 64),
            max_body_bytes=_int(env, "LIVE_MAX_BODY_BYTES", 4096, lo=256),
            ws_max_bytes=_int(env, "LIVE_WS_MAX_BYTES", 4096, lo=256),
            ws_per_ip=_int(env, "LIVE_WS_PER_IP", 256, lo=1),
            ws_msg_rate=float(_int(env, "LIVE_WS_MSG_RATE", 20, lo=1)),
            ws_msg_burst=_int(env, "LIVE_WS_MSG_BURST", 40, lo=1),
            max_inflight=_int(env, "LIVE_MAX_INFLIGHT", 512, lo=1),
            cookie_secure=env.get("LIVE_COOKIE_SECURE", "") in {"1", "true", "yes"},
            trusted_proxies=env.get("LIVE_TRUSTED_PROXIES", ""),
            flagger_inline=_choice(env, "LIVE_FLAGGER", ("process", "inline")) == "inline",
            metrics_token=env.get("LIVE_METRICS_TOKEN", ""),
            drain_seconds=_int(env, "LIVE_DRAIN_SECONDS", 0, lo=0) * 1.0,
            log_json=_choice(env, "LIVE_LOG_FORMAT", ("text", "json")) == "json",
            identity_key=env.get("LIVE_IDENTITY_KEY") or None,
            sms=Sms(
                provider=_choice(env, "LIVE_SMS_PROVIDER", ("console", "aliyun", "tencent")),
                key_id=env.get("LIVE_SMS_KEY_ID", ""),
                key_secret=env.get("LIVE_SMS_KEY_SECRET", ""),
                sign_name=env.get("LIVE_SMS_SIGN_NAME", ""),
                template=env.get("LIVE_SMS_TEMPLATE", ""),
                app_id=env.get("LIVE_SMS_APP_ID", ""),
                region=env.get("LIVE_SMS_REGION", ""),
                per_address=_int(env, "LIVE_SMS_PER_ADDRESS", 30),
                per_device=_int(env, "LIVE_SMS_PER_DEVICE", 5),
                per_subnet=_int(env, "LIVE_SMS_PER_SUBNET", 60),
                hourly_budget=_int(env, "LIVE_SMS_HOURLY_BUDGET", 1000),
                captcha_after=_int(env, "LIVE_SMS_CAPTCHA_AFTER", 3, lo=0),
                countries=_countries(env.get("LIVE_SMS_COUNTRIES", "+86")),
            ),
            wechat_app_id=env.get("LIVE_WECHAT_APP_ID", ""),
            wechat_secret=env.get("LIVE_WECHAT_SECRET", ""),
            oidc_issuer=env.get("LIVE_OIDC_ISSUER", "").rstrip("/"),
            oidc_client_id=env.get("LIVE_OIDC_CLIENT_ID", ""),
            oidc_client_secret=env.get("LIVE_OIDC_CLIENT_SECRET", ""),
            captcha_url=env.get("LIVE_CAPTCHA_VERIFY_URL", ""),
            captcha_secret=env.get("LIVE_CAPTCHA_SECRET", ""),
            ingest_endpoints=_origins(env, "LIVE_INGEST_ENDPOINTS"),
            backup_passphrase=env.get("LIVE_BACKUP_PASSPHRASE") or None,
            allowed_origins=tuple(
                o.strip().lower().rstrip("/")
                for o in env.get("LIVE_ALLOWED_ORIGINS", "").split(",")
                if o.strip()
            ),
        )


def _public_url(raw: str) -> str | None:
    url = raw.strip().rstrip("/")
    if not url:
        return None
    if not url.startswith(("https://", "http://")) or any(c in url for c in " <>\"'"):
        raise ConfigError(f"LIVE_PUBLIC_URL must be an http(s) address, got {raw!r}")
    return url


def _origins(env: Mapping[str, str], name: str) -> frozenset[str]:
    out = set()
    for raw in env.get(name, "").split(","):
        if not raw.strip():
            continue
        found = origin(raw)
        if not found or found != raw.strip().lower().rstrip("/"):
            raise ConfigError(f"{name}: {raw.strip()!r} is not an origin (scheme://host[:port])")
        out.add(found)
    return frozenset(out)


def _countries(raw: str) -> tuple[str, ...]:
    out = []
    for part in raw.split(","):
        code = part.strip().lstrip("+")
        if not code:
            continue
        if not code.isdigit() or not 1 <= len(code) <= 3:
            raise ConfigError(f"LIVE_SMS_COUNTRIES: {part.strip()!r} is not a calling code (+86)")
        out.append(code)
    if not out:
        raise ConfigError("LIVE_SMS_COUNTRIES: name at least one calling code (+86)")
    return tuple(out)
