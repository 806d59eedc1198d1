""""In force" is defined once, by `crediting.is_in_force`; the registry narrows its queries
with an SQL form of it. These tests prove the SQL and the rule agree at every boundary: from
inclusive, until exclusive, an empty window, retired versions, and statuses never in force."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from carbon_credits.domain import crediting
from carbon_credits.domain.errors import Conflict
from carbon_credits.services import methodologies as service
from carbon_credits.services.methodologies.catalogue import in_force_clause
from models import MethodologyVersion, db

UTC = dt.timezone.utc
BEIJING = dt.timezone(dt.timedelta(hours=8))
PARAM = {"name": "RF", "value": Decimal("97"), "unit": "gCO2/km", "source": "s",
         "source_status": "secondary"}
T1, T2, T3, T5 = (dt.datetime(2030, month, 1, tzinfo=UTC) for month in (1, 2, 3, 5))
TICK = dt.timedelta(microseconds=1)
# number: (status, effective_from, effective_until)
VERSIONS = {
    1: ("retired", T1, T2),     # stays in force until its end
    2: ("approved", T2, T3),
    3: ("retired", T3, T3),     # an empty window: never in force
    4: ("approved", T3, None),
    5: ("draft", T1, None),
    6: ("submitted", T2, None),
    7: ("rejected", T1, T5),
}
INSTANTS = sorted({T1 - dt.timedelta(days=400), T5 + dt.timedelta(days=4000)}
                  | {b + d for b in (T1, T2, T3, T5) for d in (-TICK, dt.timedelta(0), TICK)})


@pytest.fixture
def registry(app_ctx):
    """One bike-share code with every kind of version; one bus code always in force."""
    for code, mode, numbers in (("BIKE", "bike", VERSIONS), ("BUS", "bus", {1: None})):
        service.create_methodology(code=code, title=code, action_type="transit", mode=mode,
                                   description=None, actor_user_id=None)
        for _ in numbers:
            service.create_version(code=code, actor_user_id=None,
                                   content={"family": "transit_distance", "parameters": [PARAM]})
    rows = {(r.methodology.code, r.version): r for r in db.session.scalars(select(MethodologyVersion))}
    for number, (status, start, end) in VERSIONS.items():
        _set(rows["BIKE", number], status, start, end)
    _set(rows["BUS", 1], "approved", T1, None)
    db.session.commit()
    return rows


def _set(row: MethodologyVersion, status: str, start, end) -> None:
    row.status, row.effective_from, row.effective_until = status, start, end
    if status in ("approved", "retired"):
        row.approved_at = T1 - dt.timedelta(days=30)
    if status == "rejected":
        row.rejection_reason = "no"


@pytest.mark.parametrize("offset", [UTC, BEIJING])
def test_the_sql_clause_selects_exactly_the_versions_the_rule_calls_in_force(registry, offset):
    everything = list(registry.values())
    for at in (instant.astimezone(offset) for instant in INSTANTS):
        by_sql = set(db.session.scalars(select(MethodologyVersion.id).where(*in_force_clause(at))))
        by_rule = {v.id for v in everything if crediting.is_in_force(v, at)}
        assert by_sql == by_rule, at


def test_the_version_in_force_is_the_rules_pick_at_every_boundary(registry):
    bike = [v for (code, _), v in registry.items() if code == "BIKE"]
    for at in INSTANTS:
        found = service.get_version_in_force(action_type="transit", mode="bike", occurred_at=at)
        assert found is crediting.version_in_force(bike, at), at


def test_from_is_inclusive_until_exclusive_and_a_retired_version_serves_to_its_end(registry):
    def number_at(at):
        found = service.get_version_in_force(action_type="transit", mode="bike", occurred_at=at)
        return found and found.version

    assert number_at(T1 - TICK) is None
    assert number_at(T1) == 1 and number_at(T2 - TICK) == 1
    assert number_at(T2) == 2 and number_at(T3 - TICK) == 2
    assert number_at(T3) == 4 and number_at(T5 + dt.timedelta(days=4000)) == 4


def test_a_dry_run_without_version_uses_the_codes_version_in_force(registry):
    activity = {"distance_km": Decimal("10")}
    assert service.dry_run(code="BIKE", version=None, occurred_at=T2 - TICK, activity=activity,
                           viewer=None).version.version == 1
    assert service.dry_run(code="BIKE", version=None, occurred_at=T3, activity=activity,
                           viewer=None).version.version == 4
    with pytest.raises(Conflict) as refused:
        service.dry_run(code="BIKE", version=None, occurred_at=T1 - TICK, activity=activity,
                        viewer=None)
    assert refused.value.code == "methodology_not_in_force"
