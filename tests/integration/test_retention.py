"""The retention job (`purge_expired_personal_data`): what is past its retention goes, what is
still in use stays, and a second run finds nothing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import select

from carbon_credits import config, jobs
from models import (AuthSession, OneTimeCode, RefreshToken, RevokedAccessToken, ThrottleCounter,
                    db)

UTC = dt.timezone.utc


def _session(user_id, now, *, revoked_days=None, expires_days=10) -> str:
    family = uuid.uuid4().hex
    db.session.add(AuthSession(id=uuid.uuid4(), family_id=family, user_id=user_id,
                               created_at=now - dt.timedelta(days=90),
                               last_used_at=now - dt.timedelta(days=60),
                               expires_at=now + dt.timedelta(days=expires_days),
                               ip_address="203.0.113.7", user_agent="test",
                               revoked_at=None if revoked_days is None
                               else now - dt.timedelta(days=revoked_days),
                               revoked_reason=None if revoked_days is None else "logout"))
    db.session.add(RefreshToken(jti=uuid.uuid4().hex, family_id=family, user_id=user_id,
                                issued_at=now - dt.timedelta(days=60),
                                expires_at=now + dt.timedelta(days=expires_days)))
    return family


def _code(user_id, now, *, expires_days=0, used_days=None):
    db.session.add(OneTimeCode(id=uuid.uuid4(), user_id=user_id, purpose="verify",
                               code_hash=uuid.uuid4().hex, created_at=now - dt.timedelta(days=5),
                               expires_at=now + dt.timedelta(days=expires_days),
                               failed_attempts=0,
                               used_at=None if used_days is None
                               else now - dt.timedelta(days=used_days)))


def test_retention_job_purges_what_is_past_its_time_and_keeps_the_rest(app, actors, monkeypatch):
    monkeypatch.setattr(config, "_current",
                        dataclasses.replace(config.get_settings(), session_retention_days=30))
    citizen = actors.user("citizen")
    now = dt.datetime.now(UTC)
    with app.app_context():
        db.session.execute(AuthSession.__table__.delete())  # only the rows made here
        db.session.execute(RefreshToken.__table__.delete())
        db.session.execute(OneTimeCode.__table__.delete())
        db.session.execute(ThrottleCounter.__table__.delete())
        keep = {_session(citizen.id, now),                        # live
                _session(citizen.id, now, revoked_days=29)}       # revoked recently
        _session(citizen.id, now, revoked_days=31)                # revoked long ago: purged
        _session(citizen.id, now, expires_days=-31)               # expired long ago: purged
        keep.add(_session(citizen.id, now, expires_days=-29))     # expired recently
        _code(citizen.id, now, expires_days=-2)                   # expired: purged
        _code(citizen.id, now, expires_days=1, used_days=2)       # used: purged
        _code(citizen.id, now, expires_days=1)                    # live
        _code(citizen.id, now, expires_days=0, used_days=0)       # just used: kept a day
        db.session.add_all([
            ThrottleCounter(key="login:addr:203.0.113.7", window_start=1, count=3,
                            expires_at=now - dt.timedelta(seconds=1)),
            ThrottleCounter(key="login:addr:203.0.113.8", window_start=2, count=3,
                            expires_at=now + dt.timedelta(minutes=5)),
            RevokedAccessToken(jti="old", expires_at=now - dt.timedelta(seconds=1)),
            RevokedAccessToken(jti="live", expires_at=now + dt.timedelta(minutes=5)),
        ])
        db.session.commit()

        deleted = jobs.run_job("purge_expired_personal_data", now=now)
        assert deleted == 2 + 2 + 2 + 1 + 1  # sessions, their tokens, codes, counter, denylist
        assert set(db.session.scalars(select(AuthSession.family_id))) == keep
        assert set(db.session.scalars(select(RefreshToken.family_id))) == keep
        assert db.session.scalar(select(db.func.count()).select_from(OneTimeCode)) == 2
        assert list(db.session.scalars(select(ThrottleCounter.window_start))) == [2]
        assert list(db.session.scalars(select(RevokedAccessToken.jti))) == ["live"]
        assert jobs.run_job("purge_expired_personal_data", now=now) == 0
        db.session.remove()


def test_retention_period_is_a_setting(app, actors, monkeypatch):
    monkeypatch.setattr(config, "_current",
                        dataclasses.replace(config.get_settings(), session_retention_days=7))
    citizen = actors.user("citizen")
    now = dt.datetime.now(UTC)
    with app.app_context():
        db.session.execute(AuthSession.__table__.delete())
        db.session.execute(RefreshToken.__table__.delete())
        _session(citizen.id, now, revoked_days=8)
        db.session.commit()
        assert jobs.run_job("purge_expired_personal_data", now=now) == 2
        db.session.remove()


def test_the_retention_job_is_registered(app):
    assert "purge_expired_personal_data" in jobs.job_names()
