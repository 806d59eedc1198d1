"""How each setting is read from the environment (`carbon_credits/config.py` holds the table).

A reader turns the raw environment into one setting's value, or raises `ConfigError` naming the
variable: `reader(env, name, default, environment)`.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
import zoneinfo
from pathlib import Path
from typing import Any, Callable, Mapping

from carbon_credits.origins import normalise_origin


PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEFAULT_METRICS_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
ENVIRONMENTS = ("development", "test", "production")
# Read when SECRET_KEY is unset (the name older deployments used).
SECRET_KEY_ALIAS = "JWT_SECRET_KEY"  # nosec B105: a variable name, not a secret


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _instance_secret() -> str:
    """Development convenience: a random key kept in instance/ so tokens survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


Reader = Callable[[Mapping[str, str], str, Any, str], Any]

# --- readers ----------------------------------------------------------------------------------

def _text(env: Mapping[str, str], name: str, default: Any, _carbon_env: str) -> str:
    """The raw value; set but empty stays empty."""
    return env.get(name, default)


def _text_or_default(env: Mapping[str, str], name: str, default: Any, _carbon_env: str):
    """The raw value; unset or empty gives the default."""
    return env.get(name) or default


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


def _int_between(minimum: int, maximum: int = 10**9) -> Reader:
    """A reader of whole numbers in [minimum, maximum]."""
    def read(env: Mapping[str, str], name: str, default: int, _carbon_env: str) -> int:
        return _int(env, name, default, minimum=minimum, maximum=maximum)
    return read


def _networks(env: Mapping[str, str], name: str, default: tuple, _carbon_env: str) -> tuple:
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


def _metrics_token(env: Mapping[str, str], name: str, default: None,
                   _carbon_env: str) -> str | None:
    token = env.get(name) or default
    if token is not None and (len(token) < 32 or not token.isascii() or not token.isprintable()
                              or " " in token):
        raise ConfigError(f"{name} must be at least 32 printable ASCII characters without spaces")
    return token


def _cors_origins(env: Mapping[str, str], name: str, default: tuple,
                  environment: str) -> tuple[str, ...]:
    """Exact browser origins (scheme://host[:port]); '*' only outside production."""
    parts = (part.strip() for part in (env.get(name) or "").split(","))
    origins = [_cors_origin(name, part, environment) for part in parts if part]
    return tuple(dict.fromkeys(origins)) if origins else default


def _cors_origin(name: str, part: str, environment: str) -> str:
    """One entry of the list, lower-cased to the form browsers send in `Origin`."""
    if part == "*":
        if environment == "production":
            raise ConfigError(f"{name} must list exact origins in production, not '*'")
        return part
    origin = normalise_origin(part)
    if origin is None:
        raise ConfigError(f"{name} entries must be origins like https://app.example.cn "
                          f"(scheme://host[:port], no path or wildcard); got {part!r}")
    return origin


def _public_base_url(env: Mapping[str, str], name: str, default: str, environment: str) -> str:
    origin = normalise_origin((env.get(name) or ("" if environment == "production" else default)).rstrip("/"))
    if origin is None:
        raise ConfigError(f"{name} must be an origin like https://carbon.suzhou.gov.cn (required in production)")
    return origin


_RATE_RE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.I)
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """"10 per minute", "5 per 15 minutes", "100/hour" -> (limit, window seconds)."""
    match = _RATE_RE.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"not a rate like '10 per minute': {text!r}")
    return int(match.group(1)), int(match.group(2) or 1) * _RATE_UNITS[match.group(3).lower()]


def _rate(env: Mapping[str, str], name: str, default: str, _carbon_env: str) -> str:
    raw = env.get(name) or default
    try:
        parse_rate(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like '10 per minute' or '5 per 15 minutes'; "
                          f"got {raw!r}") from None
    return raw


def _choice_of(choices: tuple[str, ...]) -> Reader:
    """A reader of one of `choices`."""
    def read(env: Mapping[str, str], name: str, default: str, _carbon_env: str) -> str:
        raw = env.get(name) or default
        if raw not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
        return raw
    return read


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _bool(env: Mapping[str, str], name: str, default: bool, _carbon_env: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE + _FALSE:
        raise ConfigError(f"{name} must be true or false; got {raw!r}")
    return raw in _TRUE


def _environment(env: Mapping[str, str], name: str, default: str, _carbon_env: str) -> str:
    environment = env.get(name, default)
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"{name} must be development, test or production; got {environment!r}")
    return environment


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


def _database_url(env: Mapping[str, str], name: str, default: str, _carbon_env: str) -> str:
    database_url = normalise_database_url(env.get(name) or default)
    if database_url.startswith("sqlite:///"):
        Path(database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return database_url


def _replica_url(env: Mapping[str, str], name: str, default: None, _carbon_env: str):
    raw = env.get(name) or default  # a streaming replica: it and DATABASE_URL are PostgreSQL
    if raw and not all(u.startswith("postgres") for u in (raw, env.get("DATABASE_URL", ""))):
        raise ConfigError(f"{name} must be a PostgreSQL URL, and DATABASE_URL too; got {raw!r}")
    return raw and normalise_database_url(raw)


def _redis_url(env: Mapping[str, str], name: str, default: None, _carbon_env: str) -> str | None:
    redis_url = env.get(name) or default
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix://; got {redis_url!r}")
    return redis_url


def _secret_key(env: Mapping[str, str], name: str, default: None, environment: str) -> str:
    """Unset: a random key kept in instance/ (never in production)."""
    secret_key = env.get(name) or env.get(SECRET_KEY_ALIAS) or default
    if not secret_key:
        if environment == "production":
            raise ConfigError(f"{name} is required in production (32+ random characters)")
        secret_key = _instance_secret()
    if len(secret_key) < 32:
        raise ConfigError(f"{name} must be at least 32 characters (HS256 needs a 256-bit key)")
    return secret_key


def _secure_cookie(env: Mapping[str, str], name: str, default: None, environment: str) -> bool:
    """Unset: Secure in production (HTTPS behind the load balancer), not on a laptop's http."""
    if not _bool(env, name, True, environment) and environment == "production":
        raise ConfigError(f"{name} cannot be false in production: the console cookie is HTTPS-only")
    return _bool(env, name, environment == "production", environment)


def _timezone(env: Mapping[str, str], name: str, default: str, _carbon_env: str) -> str:
    tz = env.get(name, default)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as Asia/Shanghai; "
                          f"got {tz!r}") from None
    return tz


def _private_targets(env: Mapping[str, str], name: str, default: bool, environment: str) -> bool:
    """Unset: webhooks may post to private addresses on a laptop or in tests, never in
    production (an admin session must not reach the metadata service or the intranet)."""
    return _bool(env, name, default and environment != "production", environment)


