"""Migration 0011 on a database with accounts and tokens: identifiers are normalised where no
two accounts collide (collisions are left alone and audited), every refresh-token family becomes
a session (revoked if all its tokens were), and pre-existing accounts are left unverified."""
from __future__ import annotations

import datetime as dt
import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from models import db


def _id(value: uuid.UUID, dialect: str) -> str:
    return value.hex if dialect == "sqlite" else str(value)


def _trigger_names() -> set[str]:
    query = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if db.engine.dialect.name == "sqlite"
             else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    with db.engine.connect() as conn:
        return {name for (name,) in conn.execute(text(query))}


def test_upgrade_normalises_identifiers_and_turns_families_into_sessions(app):
    directory = app.extensions["migrate"].directory
    people = {name: uuid.uuid4() for name in ("fullwidth", "phone", "bob1", "bob2", "plain")}
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    later = now + dt.timedelta(days=30)
    with app.app_context():
        triggers_before = _trigger_names()
        downgrade(directory=directory, revision="0010")
        db.session.remove()
        try:
            dialect = db.engine.dialect.name
            ids = {k: _id(v, dialect) for k, v in people.items()}
            with db.engine.begin() as conn:
                for name, email, phone in (
                        ("fullwidth", "ＡＬＩＣＥ@Example.COM", None),
                        ("phone", None, "13900139000"),
                        ("bob1", "bob@example.com", None),
                        ("bob2", "BOB@example.com", None),
                        ("plain", "carol@example.com", "+8613800138000")):
                    conn.execute(text("INSERT INTO users (id, email, phone, display_name, password_hash, "
                                      "created_at) VALUES (:id, :email, :phone, :name, 'x', :now)"),
                                 {"id": ids[name], "email": email, "phone": phone, "name": name,
                                  "now": now})
                conn.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:id, 'citizen')"),
                             {"id": ids["fullwidth"]})
                tokens = [("a1", "live-family", "fullwidth", now, None),
                          ("a2", "live-family", "fullwidth", now + dt.timedelta(minutes=5), None),
                          ("b1", "dead-family", "phone", now, now)]
                for jti, family, who, issued, revoked in tokens:
                    conn.execute(text("INSERT INTO refresh_tokens (jti, family_id, user_id, issued_at, "
                                      "expires_at, revoked_at) VALUES (:jti, :fam, :uid, :issued, "
                                      ":expires, :revoked)"),
                                 {"jti": jti, "fam": family, "uid": ids[who], "issued": issued,
                                  "expires": later, "revoked": revoked})
        finally:
            upgrade(directory=directory)
        with db.engine.connect() as conn:
            users = {row.display_name: row for row in conn.execute(text(
                "SELECT display_name, email, phone, verified_at, leaderboard_visibility FROM users"))}
            sessions = {row.family_id: row for row in conn.execute(text(
                "SELECT family_id, user_id, revoked_at, revoked_reason FROM auth_sessions"))}
            roles = conn.execute(text("SELECT count(*) FROM user_roles")).scalar()
            refresh_tokens = conn.execute(text("SELECT count(*) FROM refresh_tokens")).scalar()
            audited = {row.object_id for row in conn.execute(text(
                "SELECT object_id FROM audit_log "
                "WHERE action = 'user.identifier_not_normalised_by_migration'"))}
        triggers_after = _trigger_names()
        db.session.remove()

    # SQLite rebuilds altered tables in batch mode: the append-only triggers must come back.
    assert triggers_after == triggers_before and triggers_before
    assert users["fullwidth"].email == "alice@example.com"
    assert users["phone"].phone == "+8613900139000"
    assert users["plain"].email == "carol@example.com" and users["plain"].phone == "+8613800138000"
    # Two accounts that would become one address: both untouched, both named in the audit log.
    assert (users["bob1"].email, users["bob2"].email) == ("bob@example.com", "BOB@example.com")
    assert audited == {str(people["bob1"]), str(people["bob2"])}
    assert all(u.verified_at is None and u.leaderboard_visibility == "named" for u in users.values())
    # Rebuilding `users` on SQLite must not cascade into its children.
    assert (roles, refresh_tokens) == (1, 3)
    assert set(sessions) == {"live-family", "dead-family"}
    assert sessions["live-family"].revoked_at is None
    assert sessions["dead-family"].revoked_at is not None
    assert sessions["dead-family"].revoked_reason == "logout"
