"""The read replica (DATABASE_REPLICA_URL; docs/operations.md, "Read replica").

Read-only endpoints that tolerate seconds of staleness (the statement, reports, leaderboards and
their rebuilds, impact, the business figures) are read on a PostgreSQL streaming standby while it
keeps up; the caller's balance and anything read inside a write stay on the primary. The
`standby` tests start a real primary and standby (initdb, pg_basebackup -R, streaming) and run
the scenario in tests/integration/replica_support.py once; each test asserts one rule on it.
"""
from __future__ import annotations

import pytest

from carbon_credits.config import ConfigError, load_settings
from carbon_credits.services import replica
from carbon_credits.services.replica import read_session, replica_is_usable
from models import db
from tests.integration import replica_support

GOOD = {"SECRET_KEY": "k" * 40}
PRIMARY = "postgresql://app@db.internal/carbon"
STANDBY = "postgresql://app@replica.internal/carbon"


# --- without a replica, and the settings ---------------------------------------------------

def test_without_a_replica_every_read_uses_the_primary_session(app_ctx):
    with read_session() as session:
        assert session is db.session
    assert db.engines.get(replica.BIND_KEY) is None


def test_no_replica_is_configured_by_default():
    settings = load_settings(GOOD)
    assert settings.database_replica_url is None
    assert settings.database_replica_max_lag_seconds == 5
    assert replica.bind_config(settings) == {}


def test_the_replica_is_bound_as_a_second_engine_that_gives_up_connecting_quickly():
    settings = load_settings({**GOOD, "DATABASE_URL": PRIMARY, "DATABASE_REPLICA_URL": STANDBY})
    assert settings.database_replica_url == "postgresql+psycopg://app@replica.internal/carbon"
    bind = replica.bind_config(settings)[replica.BIND_KEY]
    assert bind["url"] == settings.database_replica_url
    assert bind["connect_args"]["connect_timeout"] == replica.CONNECT_TIMEOUT_SECONDS


@pytest.mark.parametrize("env", [
    {"DATABASE_REPLICA_URL": STANDBY},  # the primary is the embedded SQLite default
    {"DATABASE_URL": "sqlite:////tmp/cc.db", "DATABASE_REPLICA_URL": STANDBY},
    {"DATABASE_URL": PRIMARY, "DATABASE_REPLICA_URL": "sqlite:////tmp/replica.db"},
    {"DATABASE_URL": PRIMARY, "DATABASE_REPLICA_URL": "mysql://x@y/z"},
])
def test_a_replica_needs_postgresql_on_both_sides(env):
    with pytest.raises(ConfigError, match="^DATABASE_REPLICA_URL must be a PostgreSQL URL"):
        load_settings({**GOOD, **env})


def test_the_lag_bound_is_whole_seconds_up_to_an_hour():
    assert load_settings({**GOOD, "DATABASE_REPLICA_MAX_LAG_SECONDS": "0"}) \
        .database_replica_max_lag_seconds == 0
    for bad in ("-1", "3601", "1.5"):
        with pytest.raises(ConfigError, match="^DATABASE_REPLICA_MAX_LAG_SECONDS"):
            load_settings({**GOOD, "DATABASE_REPLICA_MAX_LAG_SECONDS": bad})


@pytest.mark.parametrize("standby, lag, bound, usable", [
    (True, 0.0, 0, True),
    (True, 4.9, 5, True),
    (True, 5.0, 5, True),
    (True, 5.1, 5, False),
    (True, None, 5, False),  # nothing replayed yet: the lag is unknown
    (False, 0.0, 5, False),  # a promoted or mistaken primary may have diverged
])
def test_the_replica_serves_only_as_a_standby_within_the_lag_bound(standby, lag, bound, usable):
    assert replica_is_usable(standby=standby, lag_seconds=lag, max_lag_seconds=bound) is usable


# --- a real standby -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def observed():
    reason = replica_support.why_not_runnable()
    if reason:
        pytest.skip(f"needs a startable PostgreSQL standby: {reason}")
    pair = replica_support.StandbyPair()
    try:
        pair.start()
        yield pair.run_scenario()
    finally:
        pair.close()


standby = pytest.mark.postgres


@standby
def test_the_statement_is_read_on_the_standby_while_it_keeps_up(observed):
    assert observed["standby_in_recovery"] is True
    caught_up = observed["caught_up"]
    assert caught_up["statement"] == [100]
    assert caught_up["statement_from"] == ["replica"]


@standby
def test_reports_leaderboards_impact_and_business_figures_are_read_on_the_standby(observed):
    served = observed["services"]
    for name in ("report", "leaderboard_rebuild", "leaderboard_from_sql", "impact",
                 "business_figures"):
        assert served[name] == ["replica"], name


@standby
def test_the_callers_balance_is_always_read_on_the_primary(observed):
    assert observed["services"]["balance"] == ["primary"]
    for phase in ("caught_up", "paused", "resumed"):
        assert observed[phase]["balance_from"] == ["primary"], phase
    assert observed["paused"]["balance"] == 120  # the write the standby has not replayed yet


@standby
def test_a_read_inside_a_unit_of_work_stays_on_the_primary(observed):
    assert observed["services"]["statement_in_a_unit_of_work"] == ["primary"]


@standby
def test_a_standby_behind_its_lag_bound_is_bypassed_and_used_again_once_caught_up(observed):
    paused = observed["paused"]
    # The standby received the second credit but has not applied it...
    assert paused["transfers_on_standby"] < paused["transfers_on_primary"]
    # ...so the statement comes from the primary, complete.
    assert paused["statement_from"] == ["primary"]
    assert paused["statement"] == [20, 100]
    resumed = observed["resumed"]
    assert resumed["statement_from"] == ["replica"]
    assert resumed["statement"] == [20, 100]


@standby
def test_an_unreachable_standby_is_bypassed_for_the_primary(observed):
    for attempt in observed["standby_stopped"]:
        assert attempt["statement_from"] == ["primary"]
        assert attempt["statement"] == [20, 100]
        assert attempt["balance"] == 120
