"""Filing records (issue 15, item 6): an approved version carries its filing with the authority
(备案), recorded once by an admin, shown publicly, never changed, not even by SQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from models import AuditEntry, MethodologyVersion
from tests.conftest import all_table_counts, assert_problem

ADMIN = "/api/v1/admin/methodologies"
FILING = {"filing_number": "苏环备〔2027〕3号", "authority": "苏州市生态环境局",
          "filed_on": "2026-11-20", "expert_review_ref": "专家评审意见 2026-11-02"}


@pytest.fixture
def seeded(app):
    from carbon_credits.services.methodologies import seed_methodologies
    with app.app_context():
        seed_methodologies()


def test_an_approved_version_is_filed_once_and_shown_publicly(client, app, seeded, actors):
    admin = actors.user("admin")
    r = client.post(f"{ADMIN}/SH-METRO/versions/1/filing", json=FILING, headers=admin.headers)
    assert r.status_code == 201, r.json
    filing = r.json["filing"]
    assert {k: filing[k] for k in FILING} == FILING and filing["recorded_at"]
    public = client.get("/api/v1/methodologies/SH-METRO").json
    assert public["versions"][0]["filing"]["filing_number"] == "苏环备〔2027〕3号"
    in_force = client.get("/api/v1/methodologies").json["items"]
    assert next(m for m in in_force if m["code"] == "SH-METRO")["version_in_force"]["filing"]
    assert next(m for m in in_force if m["code"] == "BJ-WALK")["version_in_force"]["filing"] is None
    before = all_table_counts(app)
    again = client.post(f"{ADMIN}/SH-METRO/versions/1/filing",
                        json={**FILING, "filing_number": "other"}, headers=admin.headers)
    assert_problem(again, 409, "already_filed")
    assert all_table_counts(app) == before
    with app.app_context():
        from models import db
        entry = db.session.query(AuditEntry).filter_by(action="methodology.version_filed").one()
        assert entry.actor_user_id == admin.id and entry.details["version"] == 1


def test_a_draft_is_not_filed(client, app, seeded, actors):
    admin = actors.user("admin")
    before = all_table_counts(app)
    r = client.post(f"{ADMIN}/SZ-PT-METRO/versions/1/filing", json=FILING, headers=admin.headers)
    assert_problem(r, 409, "version_not_approved")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("change, field", [
    ({"filing_number": ""}, "filing_number"), ({"filing_number": "   "}, "filing_number"),
    ({"authority": ""}, "authority"), ({"filed_on": "2026-13-01"}, "filed_on"),
    ({"filed_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "filed_on"),
    ({"filing_number": "x" * 65}, "filing_number"), ({"unexpected": 1}, "unexpected"),
])
def test_bad_filings_are_422_and_change_nothing(client, app, seeded, actors, change, field):
    admin = actors.user("admin")
    before = all_table_counts(app)
    r = client.post(f"{ADMIN}/SH-METRO/versions/1/filing", json={**FILING, **change},
                    headers=admin.headers)
    assert_problem(r, 422)
    assert field in r.json["errors"], r.json
    assert all_table_counts(app) == before


def test_only_admins_record_filings(client, app, seeded, actors):
    for role in ("auditor", "citizen"):
        user = actors.user(role)
        r = client.post(f"{ADMIN}/SH-METRO/versions/1/filing", json=FILING, headers=user.headers)
        assert_problem(r, 403)


@pytest.mark.parametrize("statement", [
    # a recorded filing changed
    "UPDATE methodology_versions SET filing_number = 'forged' WHERE filing_number IS NOT NULL",
    "UPDATE methodology_versions SET filed_on = NULL WHERE filing_number IS NOT NULL",
    # a partial filing, or one on a draft
    "UPDATE methodology_versions SET filing_number = 'x' WHERE filing_number IS NULL "
    "AND status = 'approved'",
])
def test_the_database_keeps_a_filing_once_and_whole(client, app, seeded, actors, statement):
    admin = actors.user("admin")
    client.post(f"{ADMIN}/SH-METRO/versions/1/filing", json=FILING, headers=admin.headers)
    with app.app_context():
        from models import db
        with pytest.raises(Exception):
            with db.engine.begin() as conn:
                conn.execute(text(statement))
        filed = db.session.query(MethodologyVersion).filter(
            MethodologyVersion.filing_number.is_not(None)).all()
        assert [v.filing_number for v in filed] == [FILING["filing_number"]]
        db.session.remove()
