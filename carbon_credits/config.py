"""Settings read once from the environment, validated, failing fast with a clear message.

`SETTINGS` is the one place that names each environment variable, its default and how it is
read; `load_settings` walks it, and the app factory takes its overridable keys from it
(`ENV_NAMES`). gunicorn.conf.py reads its own process settings (workers, timeouts).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

from carbon_credits.config_readers import (DEFAULT_METRICS_NETWORKS, ENVIRONMENTS,  # noqa: F401
                                           INSTANCE_DIR, PROJECT_ROOT, SECRET_KEY_ALIAS,
                                           ConfigError, Reader, _bool, _choice_of, _cors_origin,
                                           _cors_origins, _database_url, _environment, _int,
                                           _int_between, _metrics_token, _networks, _private_targets,
                                           _public_base_url, _rate, _redis_url, _replica_url,
                                           _secret_key, _secure_cookie, _text, _text_or_default,
                                           _timezone, normalise_database_url, parse_rate)
from carbon_credits.engine_options import engine_options


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated settings; each field's variable and default are in `SETTINGS`."""

    environment: str
    database_url: str
    database_replica_url: str | None
    database_replica_max_lag_seconds: int
    redis_url: str | None
    secret_key: str
    scheme_timezone: str
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    login_rate_limit: str
    # Accounts (docs/accounts.md): one-time codes, the notifier, throttling.
    one_time_code_ttl_minutes: int
    notifier: str
    smtp_host: str
    smtp_port: int
    smtp_from: str
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    sms_gateway: str | None
    throttle_address_limit: str
    throttle_code_limit: str
    throttle_message_limit: str
    throttle_failed_login_limit: str
    partner_secret_grace_hours: int
    points_per_gram: int
    points_expiry_months: int
    hold_ttl_minutes: int
    claim_window_days: int
    public_min_citizens: int
    # A certified lot covers only scheme days closed at least this many days ago.
    lot_review_period_days: int
    # Ended sessions and their refresh tokens are deleted this many days on (docs/privacy.md).
    session_retention_days: int
    # The edge (docs/operations.md, "The edge: metrics, caching, CORS").
    metrics_allowed_networks: tuple
    metrics_token: str | None
    cors_origins: tuple[str, ...]
    # The console (docs/console.md): idle and absolute session lifetimes, the cookie's Secure flag.
    console_idle_timeout_seconds: int
    console_session_hours: int
    console_cookie_secure: bool
    # Where the public page is reached: retirement certificates' QR codes point there.
    public_base_url: str
    # Citizens are reminded of points lapsing within this many days (docs/notifications.md).
    notify_points_expiring_days: int
    # The most campaign bonus points one citizen's claims may be paid in a scheme month, across
    # every campaign (docs/engagement.md); 0 pays no bonuses at all.
    bonus_monthly_cap_points: int
    # Outbound webhooks (docs/webhooks.md): attempts per delivery, consecutive failed attempts
    # that disable a subscription, whether private addresses may be called, outbox retention.
    webhook_max_attempts: int
    webhook_disable_after: int
    webhook_allow_private_targets: bool
    webhook_retention_days: int
    # Not a variable: the partner signature window is part of the partner protocol.
    signature_tolerance_seconds: int = 300

    def as_flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.database_url),
            "REDIS_URL": self.redis_url,
            "SETTINGS": self,
        }


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row of the table: the Settings field, its environment variable, default, reader."""

    field: str
    name: str
    default: Any
    read: Reader


# --- the table --------------------------------------------------------------------------------

# Read in this order: CARBON_ENV first (the secret key and CORS depend on it); a bad value
# stops at the first variable in this order.
SETTINGS: tuple[Setting, ...] = (
    Setting("environment", "CARBON_ENV", "development", _environment),
    Setting("database_url", "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'carbon_credits.db'}",
            _database_url),
    Setting("database_replica_url", "DATABASE_REPLICA_URL", None, _replica_url),
    Setting("database_replica_max_lag_seconds", "DATABASE_REPLICA_MAX_LAG_SECONDS", 5,
            _int_between(0, 3600)),
    Setting("redis_url", "REDIS_URL", None, _redis_url),
    Setting("secret_key", "SECRET_KEY", None, _secret_key),
    Setting("scheme_timezone", "SCHEME_TIMEZONE", "Asia/Shanghai", _timezone),
    Setting("jwt_issuer", "JWT_ISSUER", "carbon-credits", _text),
    Setting("jwt_audience", "JWT_AUDIENCE", "carbon-credits-api", _text),
    Setting("access_token_ttl_seconds", "ACCESS_TOKEN_TTL_SECONDS", 900, _int_between(60, 3600)),
    Setting("refresh_token_ttl_seconds", "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600,
            _int_between(3600)),
    Setting("login_rate_limit", "LOGIN_RATE_LIMIT", "10 per minute", _rate),
    Setting("one_time_code_ttl_minutes", "ONE_TIME_CODE_TTL_MINUTES", 15, _int_between(1, 24 * 60)),
    Setting("notifier", "NOTIFIER", "log", _choice_of(("log", "smtp"))),
    Setting("smtp_host", "SMTP_HOST", "localhost", _text_or_default),
    Setting("smtp_port", "SMTP_PORT", 587, _int_between(1, 65535)),
    Setting("smtp_from", "SMTP_FROM", "no-reply@localhost", _text_or_default),
    Setting("smtp_username", "SMTP_USERNAME", None, _text_or_default),
    Setting("smtp_password", "SMTP_PASSWORD", None, _text_or_default),
    Setting("smtp_starttls", "SMTP_STARTTLS", True, _bool),
    Setting("sms_gateway", "SMS_GATEWAY", None, _text_or_default),
    Setting("throttle_address_limit", "THROTTLE_ADDRESS_LIMIT", "30 per minute", _rate),
    Setting("throttle_code_limit", "THROTTLE_CODE_LIMIT", "10 per 15 minutes", _rate),
    Setting("throttle_message_limit", "THROTTLE_MESSAGE_LIMIT", "5 per hour", _rate),
    Setting("throttle_failed_login_limit", "THROTTLE_FAILED_LOGIN_LIMIT", "1000 per minute", _rate),
    Setting("partner_secret_grace_hours", "PARTNER_SECRET_GRACE_HOURS", 24, _int_between(0, 720)),
    Setting("points_per_gram", "POINTS_PER_GRAM", 1, _int_between(1, 1000)),
    Setting("points_expiry_months", "POINTS_EXPIRY_MONTHS", 24, _int_between(1, 120)),
    Setting("hold_ttl_minutes", "HOLD_TTL_MINUTES", 30, _int_between(1, 7 * 24 * 60)),
    Setting("claim_window_days", "CLAIM_WINDOW_DAYS", 7, _int_between(1, 366)),
    Setting("lot_review_period_days", "LOT_REVIEW_PERIOD_DAYS", 7, _int_between(0, 365)),
    Setting("session_retention_days", "SESSION_RETENTION_DAYS", 30, _int_between(1, 3650)),
    Setting("metrics_allowed_networks", "METRICS_ALLOWED_NETWORKS", DEFAULT_METRICS_NETWORKS, _networks),
    # Open data (docs/open-data.md): no public figure from fewer citizens than this.
    Setting("public_min_citizens", "PUBLIC_MIN_CITIZENS", 10, _int_between(2, 1000)),
    Setting("metrics_token", "METRICS_TOKEN", None, _metrics_token),
    Setting("cors_origins", "CORS_ORIGINS", (), _cors_origins),
    Setting("console_idle_timeout_seconds", "CONSOLE_IDLE_TIMEOUT_SECONDS", 1800, _int_between(60, 86400)),
    Setting("console_session_hours", "CONSOLE_SESSION_HOURS", 12, _int_between(1, 7 * 24)),
    Setting("console_cookie_secure", "CONSOLE_COOKIE_SECURE", None, _secure_cookie),
    Setting("public_base_url", "PUBLIC_BASE_URL", "http://localhost:5000", _public_base_url),
    Setting("webhook_max_attempts", "WEBHOOK_MAX_ATTEMPTS", 10, _int_between(1, 50)),
    Setting("webhook_disable_after", "WEBHOOK_DISABLE_AFTER", 20, _int_between(1, 1000)),
    Setting("webhook_allow_private_targets", "WEBHOOK_ALLOW_PRIVATE_TARGETS", True, _private_targets),
    Setting("webhook_retention_days", "WEBHOOK_RETENTION_DAYS", 30, _int_between(1, 3650)),
    Setting("notify_points_expiring_days", "NOTIFY_POINTS_EXPIRING_DAYS", 30, _int_between(1, 365)),
    Setting("bonus_monthly_cap_points", "BONUS_MONTHLY_CAP_POINTS", 10_000, _int_between(0, 1_000_000_000)),
)
# Every variable load_settings reads: the keys `create_app(config)` takes as the environment.
ENV_NAMES = frozenset({setting.name for setting in SETTINGS} | {SECRET_KEY_ALIAS})


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        values[setting.field] = setting.read(env, setting.name, setting.default,
                                             values.get("environment", ""))
    return Settings(**values)


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
