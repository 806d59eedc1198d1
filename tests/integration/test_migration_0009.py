"""Migration 0009 carries existing partners and bindings over: default scopes valid from each
partner's creation, bindings active with a consent record marked `migrated`, and a binding made
before it still receives its card's records (its hash used the old normalisation)."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="rewinds the shared schema: SQLite copy only")


def test_existing_partners_and_bindings_are_carried_over(app, actors):
    from flask_migrate import downgrade, upgrade

    from carbon_credits.domain.partners import legacy_normalise_external_ref
    from carbon_credits.services import bindings, keys
    from models import db
    citizen = actors.user("citizen")
    directory = app.extensions["migrate"].directory
    created = dt.datetime(2026, 3, 1, 8, 0)
    metro, cafe, b1, b2 = (uuid.uuid4() for _ in range(4))
    with app.app_context():
        db.session.remove()
        downgrade(directory=directory, revision="0008")
        with db.engine.begin() as conn:
            for pid, kind in ((metro, "transit_operator"), (cafe, "merchant")):
                conn.execute(text("INSERT INTO partners (id, name, kind, key_id, created_at) "
                                  "VALUES (:id, :name, :kind, :key, :at)"),
                             {"id": pid.hex, "name": kind, "kind": kind, "key": "pk_" + pid.hex[:10],
                              "at": created})
            old_hash = keys.keyed_hash("binding-refs",
                                       f"{metro}:{legacy_normalise_external_ref('card-0001')}")
            for bid, pid, ref_hash in ((b1, metro, old_hash), (b2, cafe, "f" * 64)):
                conn.execute(text("INSERT INTO bindings (id, user_id, partner_id, external_ref_hash, "
                                  "external_ref_hint, created_at) VALUES (:id, :u, :p, :h, '0001', :at)"),
                             {"id": bid.hex, "u": citizen.id.hex, "p": pid.hex, "h": ref_hash,
                              "at": created + dt.timedelta(days=1)})
        upgrade(directory=directory)
        scopes = db.session.execute(text(
            "SELECT partner_id, action_type, mode, valid_from, valid_until FROM partner_scopes")).all()
        assert [(s.partner_id, s.action_type, s.mode, s.valid_until) for s in scopes] == \
            [(metro.hex, "transit", None, None)]
        assert str(scopes[0].valid_from).startswith("2026-03-01 08:00:00")
        rows = {r.id: r for r in db.session.execute(text(
            "SELECT id, status, notice_version, granted_at, scopes, ended_at FROM bindings"))}
        active, ended = rows[b1.hex], rows[b2.hex]
        assert (active.status, active.notice_version, active.ended_at) == ("active", "migrated", None)
        assert str(active.granted_at).startswith("2026-03-02 08:00:00")
        assert active.scopes == '["transit"]'
        assert ended.status == "ended" and ended.ended_at is not None
        found = bindings.resolve_bindings(partner_id=metro, records=[
            ("CARD-0001", dt.datetime.now(dt.timezone.utc))])
        assert found[0] is not None and found[0].binding_id == b1
        db.session.remove()
