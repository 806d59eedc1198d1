"""Settings read once from the environment, validated, failing fast with a clear message."""
from __future__ import annotations

import dataclasses
import os
import secrets
import zoneinfo
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


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
    partner_secret_grace_hours: int = 24
    signature_tolerance_seconds: int = 300
    points_per_gram: int = 1
    points_expiry_months: int = 24
    hold_ttl_minutes: int = 30
    claim_window_days: int = 7
    # A certified lot covers only scheme days closed at least this many days ago.
    lot_review_period_days: int = 7
    environment: str = "development"

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
        login_rate_limit=env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        partner_secret_grace_hours=_int(env, "PARTNER_SECRET_GRACE_HOURS", 24, minimum=0, maximum=24 * 30),
        points_per_gram=_int(env, "POINTS_PER_GRAM", 1, minimum=1, maximum=1000),
        points_expiry_months=_int(env, "POINTS_EXPIRY_MONTHS", 24, minimum=1, maximum=120),
        hold_ttl_minutes=_int(env, "HOLD_TTL_MINUTES", 30, minimum=1, maximum=7 * 24 * 60),
        claim_window_days=_int(env, "CLAIM_WINDOW_DAYS", 7, minimum=1, maximum=366),
        lot_review_period_days=_int(env, "LOT_REVIEW_PERIOD_DAYS", 7, minimum=0, maximum=365),
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
