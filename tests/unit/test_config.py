"""Settings are validated at start with a message that names the variable."""
from __future__ import annotations

import pytest

from carbon_credits.config import ConfigError, load_settings

GOOD = {"SECRET_KEY": "k" * 40}


def test_defaults_use_a_sqlite_file_under_instance():
    settings = load_settings(GOOD)
    assert settings.database_url.startswith("sqlite:///") and "instance" in settings.database_url
    assert settings.redis_url is None and settings.scheme_timezone == "Asia/Shanghai"


def test_postgres_urls_are_normalised_to_psycopg3():
    s = load_settings({**GOOD, "DATABASE_URL": "postgres://u@h/db"})
    assert s.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("env, name", [
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"SCHEME_TIMEZONE": "Mars/Olympus"}, "SCHEME_TIMEZONE"),
    ({"ACCESS_TOKEN_TTL_SECONDS": "abc"}, "ACCESS_TOKEN_TTL_SECONDS"),
    ({"ACCESS_TOKEN_TTL_SECONDS": "5"}, "ACCESS_TOKEN_TTL_SECONDS"),
    ({"POINTS_EXPIRY_MONTHS": "0"}, "POINTS_EXPIRY_MONTHS"),
    ({"CARBON_ENV": "staging"}, "CARBON_ENV"),
])
def test_bad_values_fail_fast_naming_the_variable(env, name):
    with pytest.raises(ConfigError) as err:
        load_settings({**GOOD, **env})
    assert name in str(err.value)


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError) as err:
        load_settings({"CARBON_ENV": "production"})
    assert "SECRET_KEY" in str(err.value)


def test_factory_refuses_bad_config():
    from api import create_app
    with pytest.raises(ConfigError):
        create_app({"DATABASE_URL": "oracle://nope", "SECRET_KEY": "k" * 40})


def test_production_requires_the_public_base_url():
    base = {"CARBON_ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/x"}
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings(base)
    assert load_settings({**base, "PUBLIC_BASE_URL": "https://Carbon.Example.cn/"}).public_base_url \
        == "https://carbon.example.cn"
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings({**base, "PUBLIC_BASE_URL": "https://carbon.example.cn/a/path"})
