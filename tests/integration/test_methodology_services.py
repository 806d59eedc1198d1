"""Methodology services on a real database: seeding, selection by time, quantify for actions."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from carbon_credits.domain.errors import Conflict, PermissionDenied
from carbon_credits.services import methodologies as service
from models import AuditEntry, MethodologyVersion, db

UTC = dt.timezone.utc
PARAM = {"name": "RF", "value": Decimal("97"), "unit": "gCO2/km", "source": "s",
         "source_status": "secondary"}


def test_seeded_versions_are_recorded_as_seeded_without_an_acting_user(app_ctx):
    line = service.seed_methodologies()
    assert "14 version(s) created" in line
    rows = db.session.scalars(select(MethodologyVersion)).all()
    assert {r.status for r in rows} == {"approved", "draft"}
    assert all(r.seeded and r.drafted_by is None and r.approved_by is None for r in rows)
    approved = [r for r in rows if r.status == "approved"]
    assert len(approved) == 6
    assert all(r.effective_from == dt.datetime(2023, 12, 31, 16, tzinfo=UTC) for r in approved)
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "methodology.version_seed")).all()
    assert len(entries) == 14
    assert all(e.actor_user_id is None and e.details["seed"] is True for e in entries)


def test_every_seed_parameter_carries_unit_source_and_status(app_ctx):
    service.seed_methodologies()
    for row in db.session.scalars(select(MethodologyVersion)):
        for p in row.parameters:
            assert p["unit"] and p["source"] and p["source_status"] in (
                "doc", "press", "secondary", "scheme_design_choice")
            Decimal(p["value"])  # an exact decimal string
        assert row.rules.get("basis", "").startswith("Scheme design choice")
        assert row.daily_cap_mg is not None


def test_quantify_selects_by_scope_and_time_and_converts_points(app_ctx):
    service.seed_methodologies()
    start = dt.datetime(2025, 3, 1, 8, tzinfo=UTC)
    q = service.quantify(action_type="transit", mode="metro", occurred_at=start,
                         activity={"distance_km": Decimal("10"), "started_at": start,
                                   "ended_at": start + dt.timedelta(minutes=25)}, channel="partner")
    assert (q.methodology.code, q.version.version) == ("SH-METRO", 1)
    assert q.reduction_g == Decimal("970.000") and q.points == 970 and q.outcome == "accept"
    assert q.daily_cap_g == Decimal("5000")
    q = service.quantify(action_type="waste_sorting", mode=None, occurred_at=start,
                         activity={"category": "paper", "weight_kg": Decimal("60")}, channel="partner")
    assert q.outcome == "reject" and [r.code for r in q.reasons] == ["weight_out_of_bounds"]
    with pytest.raises(Conflict) as error:
        service.quantify(action_type="transit", mode="metro",
                         occurred_at=dt.datetime(2023, 1, 1, tzinfo=UTC),
                         activity={"distance_km": Decimal("1")}, channel="partner")
    assert error.value.code == "methodology_not_in_force"


def test_services_enforce_four_eyes_without_the_http_layer(app_ctx):
    from carbon_credits.services import auth
    drafter = auth.register_user(email="d@example.test", phone=None, password="long enough pw",
                                 display_name="d", roles=("admin",))
    other = auth.register_user(email="o@example.test", phone=None, password="long enough pw",
                               display_name="o", roles=("auditor",))
    service.create_methodology(code="X-METRO", title="x", action_type="transit", mode="metro",
                               description=None, actor_user_id=drafter.id)
    service.create_version(code="X-METRO", content={"family": "transit_distance", "parameters": [PARAM],
                                                    "effective_from": dt.datetime(2030, 1, 1, tzinfo=UTC)},
                           actor_user_id=drafter.id)
    service.submit_version(code="X-METRO", version=1, actor_user_id=drafter.id)
    with pytest.raises(PermissionDenied):
        service.approve_version(code="X-METRO", version=1, actor_user_id=drafter.id)
    assert service.approve_version(code="X-METRO", version=1, actor_user_id=other.id).status == "approved"
