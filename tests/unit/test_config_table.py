"""The settings table (carbon_credits/config.py) names each variable and its default once;
load_settings walks it, the app factory takes its keys from it, the README documents it."""
from __future__ import annotations

import dataclasses
import re

import pytest

from carbon_credits import config
from carbon_credits.config import (ENV_NAMES, SETTINGS, ConfigError, Settings, _cors_origin,
                                   load_settings)
from carbon_credits.origins import split_origin as _split_origin

GOOD = {"SECRET_KEY": "k" * 40}
# Defaults that are computed or described in words rather than written as a literal.
DESCRIBED_DEFAULTS = {"DATABASE_URL", "SECRET_KEY", "CONSOLE_COOKIE_SECURE"}


def test_every_settings_field_has_exactly_one_row():
    fields = {f.name for f in dataclasses.fields(Settings)} - {"signature_tolerance_seconds"}
    rows = [setting.field for setting in SETTINGS]
    assert sorted(rows) == sorted(fields)
    assert len({setting.name for setting in SETTINGS}) == len(SETTINGS)


def test_the_environment_is_read_first_because_other_settings_depend_on_it():
    assert SETTINGS[0].name == "CARBON_ENV"


def test_an_empty_environment_gives_every_literal_default():
    settings = load_settings(GOOD)
    for setting in SETTINGS:
        if setting.name not in DESCRIBED_DEFAULTS:
            assert getattr(settings, setting.field) == setting.default, setting.name


def test_the_factory_takes_every_variable_of_the_table_and_the_old_secret_name():
    assert ENV_NAMES == {setting.name for setting in SETTINGS} | {"JWT_SECRET_KEY"}
    from api import ENV_KEYS
    assert ENV_KEYS == ENV_NAMES


def test_the_old_secret_name_is_read_when_secret_key_is_unset():
    assert load_settings({"JWT_SECRET_KEY": "j" * 40}).secret_key == "j" * 40
    assert load_settings({"JWT_SECRET_KEY": "j" * 40, **GOOD}).secret_key == "k" * 40


def test_the_first_bad_variable_in_table_order_is_named():
    with pytest.raises(ConfigError, match="^REDIS_URL"):
        load_settings({**GOOD, "REDIS_URL": "http://x", "SMTP_PORT": "0", "CORS_ORIGINS": "x"})
    with pytest.raises(ConfigError, match="^SMTP_PORT"):
        load_settings({**GOOD, "SMTP_PORT": "0", "CORS_ORIGINS": "x"})


def _readme_rows() -> dict[str, str]:
    """README's configuration table: variable -> default cell (`A` / `B` rows split in two)."""
    text = (config.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = [n.strip().strip("`") for n in cells[0].split(" / ")]
        defaults = [d.strip() for d in cells[1].split(" / ")]
        for name, default in zip(names, defaults if len(defaults) == len(names)
                                 else [cells[1]] * len(names)):
            rows[name] = default
    return rows


def _documented(default) -> str:
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, tuple):
        return "`" + ",".join(str(item) for item in default) + "`"
    return f"`{default}`"


def test_the_readme_documents_every_variable_with_its_default():
    rows = _readme_rows()
    # gunicorn.conf.py reads its own process settings; the README lists these too.
    gunicorn = {"WEB_CONCURRENCY", "RUN_SCHEDULER", "SCHEDULER_INTERVAL_SECONDS"}
    assert set(rows) - gunicorn == {setting.name for setting in SETTINGS}
    for setting in SETTINGS:
        if setting.name not in DESCRIBED_DEFAULTS:
            assert rows[setting.name].startswith(_documented(setting.default)), setting.name


@pytest.mark.parametrize("entry, origin", [
    ("https://App.Example.cn", "https://app.example.cn"),
    ("HTTP://localhost:5173", "http://localhost:5173"),
    ("https://[::1]:8443", "https://[::1]:8443"),
    ("https://example.cn:443", "https://example.cn:443"),
])
def test_an_origin_is_lower_cased_and_keeps_its_port(entry, origin):
    assert _cors_origin("CORS_ORIGINS", entry, "production") == origin


@pytest.mark.parametrize("entry", ["https://a.cn/", "https://a.cn/x", "https://a.cn?x=1",
                                   "https://a.cn#top", "https://u@a.cn", "https://u:p@a.cn",
                                   "https://*.a.cn", "ftp://a.cn", "a.cn", "https://",
                                   "https://a.cn:99999", "https://a.cn:port"])
def test_anything_more_or_less_than_an_origin_is_refused(entry):
    assert _split_origin(entry) == (None, None)
    with pytest.raises(ConfigError, match=re.escape(repr(entry))):
        _cors_origin("CORS_ORIGINS", entry, "development")


def test_the_wildcard_origin_is_refused_only_in_production():
    assert _cors_origin("CORS_ORIGINS", "*", "development") == "*"
    assert _cors_origin("CORS_ORIGINS", "*", "test") == "*"
    with pytest.raises(ConfigError, match="exact origins in production"):
        _cors_origin("CORS_ORIGINS", "*", "production")


def test_repeated_origins_are_kept_once_in_first_seen_order():
    settings = load_settings({**GOOD, "CORS_ORIGINS": "https://b.cn, https://A.cn,https://a.cn,,"})
    assert settings.cors_origins == ("https://b.cn", "https://a.cn")
