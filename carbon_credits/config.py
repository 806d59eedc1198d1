"""Settings read once from the environment, validated, failing fast with a clear message."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
from urllib.parse import urlsplit
import zoneinfo
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


DEFAULT_METRICS_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    jwt_issuer: str = "carbon-credits"
    jwt_audience: str = "carbon-credits-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    scheme_timezone: str = "Asia/Shanghai"
    login_rate_limit: str = "10 per minute"
    # Accounts (docs/accounts.md): one-time codes, the notifier, throttling.
    one_time_code_ttl_minutes: int = 15
    notifier: str = "log"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_from: str = "no-reply@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    sms_gateway: str | None = None
    throttle_address_limit: str = "30 per minute"
    throttle_code_limit: str = "10 per 15 minutes"
    throttle_message_limit: str = "5 per hour"
    throttle_failed_login_limit: str = "1000 per minute"
    partner_secret_grace_hours: int = 24
    signature_tolerance_seconds: int = 300
    points_per_gram: int = 1
    points_expiry_months: int = 24
    hold_ttl_minutes: int = 30
    claim_window_days: int = 7
    # A certified lot covers only scheme days closed at least this many days ago.
    lot_review_period_days: int = 7
    # Personal-data retention (docs/privacy.md): ended sessions and their refresh tokens are
    # deleted this many days after they were revoked or expired.
    session_retention_days: int = 30
    environment: str = "development"
    # The edge (docs/operations.md, "The edge: metrics, caching, CORS").
    metrics_allowed_networks: tuple = DEFAULT_METRICS_NETWORKS
    metrics_token: str | None = None
    cors_origins: tuple[str, ...] = ()

    def as_flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.database_url),
            "REDIS_URL": self.redis_url,
            "SETTINGS": self,
        }


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1,
         maximum: int = 10**9) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _networks(env: Mapping[str, str], name: str, default: tuple) -> tuple:
    """Comma-separated CIDRs (a bare address is one host); `none` allows no network."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() == "none":
        return ()
    networks = []
    for part in raw.split(","):
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=True))
        except ValueError as exc:
            raise ConfigError(f"{name} must be comma-separated networks such as "
                              f"10.0.0.0/8,::1/128; {part.strip()!r}: {exc}") from None
    return tuple(networks)


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = env.get("METRICS_TOKEN") or None
    if token is not None and (len(token) < 32 or not token.isascii() or not token.isprintable()
                              or " " in token):
        raise ConfigError("METRICS_TOKEN must be at least 32 printable ASCII characters without spaces")
    return token


def _cors_origins(env: Mapping[str, str], environment: str) -> tuple[str, ...]:
    """Exact browser origins (scheme://host[:port]); '*' only outside production."""
    raw = (env.get("CORS_ORIGINS") or "").strip()
    origins = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if part == "*":
            if environment == "production":
                raise ConfigError("CORS_ORIGINS must list exact origins in production, not '*'")
            origins.append(part)
            continue
        try:
            url = urlsplit(part)
            port = url.port  # raises on a malformed port
        except ValueError:
            url, port = None, None
        if (url is None or url.scheme.lower() not in ("http", "https") or not url.hostname
                or url.path or url.query or url.fragment or url.username or url.password
                or "*" in part or "@" in part):
            raise ConfigError(f"CORS_ORIGINS entries must be origins like https://app.example.cn "
                              f"(scheme://host[:port], no path or wildcard); got {part!r}")
        host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
        origins.append(f"{url.scheme.lower()}://{host}" + (f":{port}" if port is not None else ""))
    return tuple(dict.fromkeys(origins))


_RATE_RE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.I)
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """"10 per minute", "5 per 15 minutes", "100/hour" -> (limit, window seconds)."""
    match = _RATE_RE.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"not a rate like '10 per minute': {text!r}")
    return int(match.group(1)), int(match.group(2) or 1) * _RATE_UNITS[match.group(3).lower()]


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name) or default
    try:
        parse_rate(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like '10 per minute' or '5 per 15 minutes'; "
                          f"got {raw!r}") from None
    return raw


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or default
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"{name} must be true or false; got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def normalise_database_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not (url.startswith("postgresql+psycopg://") or url.startswith("sqlite:///")):
        raise ConfigError(
            "DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db) "
            f"or a SQLite file URL (sqlite:///path); got {url!r}")
    return url


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 20,
        # A stuck transaction must not hold row locks forever (reliability.md).
        "connect_args": {"options": "-c idle_in_transaction_session_timeout=30000"},
    }


def _instance_secret() -> str:
    """Development convenience: a random key kept in instance/ so tokens survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    environment = env.get("CARBON_ENV", "development")
    if environment not in ("development", "test", "production"):
        raise ConfigError(f"CARBON_ENV must be development, test or production; got {environment!r}")

    database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'carbon_credits.db'}"
    database_url = normalise_database_url(database_url)
    if database_url.startswith("sqlite:///"):
        Path(database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)

    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://; got {redis_url!r}")

    secret_key = env.get("SECRET_KEY") or env.get("JWT_SECRET_KEY")
    if not secret_key:
        if environment == "production":
            raise ConfigError("SECRET_KEY is required in production (32+ random characters)")
        secret_key = _instance_secret()
    if len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters (HS256 needs a 256-bit key)")

    tz = env.get("SCHEME_TIMEZONE", "Asia/Shanghai")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SCHEME_TIMEZONE must be an IANA time zone such as Asia/Shanghai; got {tz!r}") from None

    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        jwt_issuer=env.get("JWT_ISSUER", "carbon-credits"),
        jwt_audience=env.get("JWT_AUDIENCE", "carbon-credits-api"),
        access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900, minimum=60, maximum=3600),
        refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, minimum=3600),
        scheme_timezone=tz,
        login_rate_limit=_rate(env, "LOGIN_RATE_LIMIT", "10 per minute"),
        one_time_code_ttl_minutes=_int(env, "ONE_TIME_CODE_TTL_MINUTES", 15, minimum=1, maximum=24 * 60),
        notifier=_choice(env, "NOTIFIER", "log", ("log", "smtp")),
        smtp_host=env.get("SMTP_HOST") or "localhost",
        smtp_port=_int(env, "SMTP_PORT", 587, minimum=1, maximum=65535),
        smtp_from=env.get("SMTP_FROM") or "no-reply@localhost",
        smtp_username=env.get("SMTP_USERNAME") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        smtp_starttls=_bool(env, "SMTP_STARTTLS", True),
        sms_gateway=env.get("SMS_GATEWAY") or None,
        throttle_address_limit=_rate(env, "THROTTLE_ADDRESS_LIMIT", "30 per minute"),
        throttle_code_limit=_rate(env, "THROTTLE_CODE_LIMIT", "10 per 15 minutes"),
        throttle_message_limit=_rate(env, "THROTTLE_MESSAGE_LIMIT", "5 per hour"),
        throttle_failed_login_limit=_rate(env, "THROTTLE_FAILED_LOGIN_LIMIT", "1000 per minute"),
        partner_secret_grace_hours=_int(env, "PARTNER_SECRET_GRACE_HOURS", 24, minimum=0, maximum=24 * 30),
        points_per_gram=_int(env, "POINTS_PER_GRAM", 1, minimum=1, maximum=1000),
        points_expiry_months=_int(env, "POINTS_EXPIRY_MONTHS", 24, minimum=1, maximum=120),
        hold_ttl_minutes=_int(env, "HOLD_TTL_MINUTES", 30, minimum=1, maximum=7 * 24 * 60),
        claim_window_days=_int(env, "CLAIM_WINDOW_DAYS", 7, minimum=1, maximum=366),
        lot_review_period_days=_int(env, "LOT_REVIEW_PERIOD_DAYS", 7, minimum=0, maximum=365),
        session_retention_days=_int(env, "SESSION_RETENTION_DAYS", 30, minimum=1, maximum=3650),
        metrics_allowed_networks=_networks(env, "METRICS_ALLOWED_NETWORKS", DEFAULT_METRICS_NETWORKS),
        metrics_token=_metrics_token(env),
        cors_origins=_cors_origins(env, environment),
        environment=environment,
    )


_current: Settings | None = None


def set_settings(settings: Settings) -> None:
    """Called by the composition root (the app factory) once."""
    global _current
    _current = settings


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = load_settings()
    return _current
