"""Carbon-neutral events (docs/events.md): an admin records an event's footprint and its buyer;
the buyer retires certified serials against it; the public page shows the footprint, the
retirements and `neutral` only when they cover it; nothing is retired twice."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import AuditEntry, CarbonEvent, CarbonEventRetirement, db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (admin, auditor, buyer, long_claim_window, lot,  # noqa: F401
                                         metro_month, verifier)
from tests.conftest import all_table_counts, assert_problem
from tests.events_support import (EVENTS, PUBLIC_EVENTS, create_event, event_body, give_to_buyer,
                                  retire_for_event, serial)


def test_an_admin_records_an_event_and_anyone_reads_it_without_login(client, app, admin, buyer):
    event = create_event(client, admin, buyer.id)
    assert event["kind"] == "marathon" and event["buyer"] == "Acme Steel Ltd"
    assert event["buyer_partner_id"] == str(buyer.id) and event["created_by"] == str(admin.id)
    assert (event["footprint_g"], event["retired_g"], event["shortfall_g"]) == (
        "3000.000", "0.000", "3000.000")
    assert event["neutral"] is False and event["retired_quantity"] == 0
    with app.app_context():
        audited = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_id == event["id"])).all()
    assert audited == ["event.created"]

    page = client.get(f"{PUBLIC_EVENTS}/{event['id']}")
    assert page.status_code == 200, page.json
    assert page.headers["Cache-Control"] == "public, max-age=300"
    assert page.json["name"] == "Suzhou Marathon 2026" and page.json["region"] == "320508"
    assert page.json["footprint_basis"].startswith("Runner travel")
    assert page.json["neutral"] is False and page.json["retirements"] == []
    assert "created_by" not in page.json and str(admin.id) not in page.get_data(as_text=True)
    assert client.get(f"{PUBLIC_EVENTS}/{event['id']}",
                      headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    listed = client.get(PUBLIC_EVENTS).json["items"]
    assert [(e["id"], e["neutral"]) for e in listed] == [(event["id"], False)]


def test_an_unknown_event_is_a_404_problem(client):
    assert_problem(client.get(f"{PUBLIC_EVENTS}/{uuid.uuid4()}"), 404, "event_not_found")
    assert_problem(client.get(f"{PUBLIC_EVENTS}/not-an-id"), 404)


BAD_EVENTS = [
    ("missing name", {"name": None}),
    ("blank name", {"name": "   "}),
    ("name too long", {"name": "x" * 201}),
    ("unknown kind", {"kind": "picnic"}),
    ("ends before it starts", {"starts_on": "2026-03-15", "ends_on": "2026-03-14"}),
    ("longer than a year", {"starts_on": "2026-01-01", "ends_on": "2027-01-02"}),
    ("not a date", {"starts_on": "next spring"}),
    ("zero footprint", {"footprint_g": 0}),
    ("negative footprint", {"footprint_g": -5}),
    ("footprint beyond the bound", {"footprint_g": 10**13 + 1}),
    ("footprint with decimals", {"footprint_g": 3000.5}),
    ("footprint as string", {"footprint_g": "3000"}),
    ("footprint as boolean", {"footprint_g": True}),
    ("missing basis", {"footprint_basis": None}),
    ("blank basis", {"footprint_basis": " \n"}),
    ("blank report reference", {"footprint_report_ref": "  "}),
    ("unknown region", {"region": "999999"}),
    ("the city is not a district", {"region": "320500"}),
    ("unknown field", {"retired_g": 3000}),
]


@pytest.mark.parametrize("name, change", BAD_EVENTS, ids=[n for n, _ in BAD_EVENTS])
def test_a_bad_event_is_422_and_changes_nothing(client, app, admin, buyer, name, change):
    body = {k: v for k, v in event_body(buyer.id, **change).items() if v is not None}
    before = all_table_counts(app)
    assert_problem(client.post(EVENTS, json=body, headers=admin.headers), 422)
    assert all_table_counts(app) == before


def test_the_buyer_must_be_an_active_enterprise_buyer(client, app, admin, actors, operator):  # noqa: F811
    suspended = actors.partner("enterprise_buyer", name="Gone Ltd")
    r = client.post(f"/api/v1/admin/partners/{suspended.id}/suspend",
                    json={"suspended": True}, headers=admin.headers)
    assert r.status_code == 200, r.json
    before = all_table_counts(app)
    for buyer_id in (operator.id, suspended.id, uuid.uuid4()):
        body = assert_problem(client.post(EVENTS, json=event_body(buyer_id), headers=admin.headers),
                              422, "not_a_buyer")
        assert "buyer_partner_id" in body["errors"]
    assert all_table_counts(app) == before


def test_the_buyer_retires_against_the_event_and_the_page_shows_it(client, app, admin, auditor,
                                                                   buyer, lot):
    event = create_event(client, admin, buyer.id)
    give_to_buyer(client, admin, lot, buyer.id, 5)
    r = retire_for_event(client, auditor, lot, event_id=event["id"], holder_id=buyer.id,
                         first=1, last=2)
    assert r.status_code == 201, r.json
    assert r.json["event_id"] == event["id"] and r.json["quantity"] == 2
    page = client.get(f"{PUBLIC_EVENTS}/{event['id']}").json
    assert (page["retired_g"], page["shortfall_g"], page["retired_quantity"]) == (
        "2000.000", "1000.000", 2)
    (retirement,) = page["retirements"]
    assert retirement["serials"] == f"{serial(lot, 1)}-000000002"
    assert retirement["lot_id"] == lot["id"] and retirement["vintage_year"] == lot["vintage_year"]
    assert retirement["methodology"] == {"code": "SH-METRO", "version": 1}
    assert retirement["buyer"] == "Acme Steel Ltd" and retirement["retired_g"] == "2000.000"
    assert retirement["beneficiary"] == "Suzhou Marathon 2026" and retirement["retired_at"]
    # A retirement without event_id counts for no event.
    plain = client.post(f"/api/v1/admin/certificates/lots/{lot['id']}/retirements",
                        json={"holder_partner_id": str(buyer.id), "quantity": 1,
                              "beneficiary": "Acme Steel Ltd", "purpose": "Business travel"},
                        headers=auditor.headers)
    assert plain.status_code == 201 and plain.json["event_id"] is None
    assert client.get(f"{PUBLIC_EVENTS}/{event['id']}").json["retired_quantity"] == 2
    with app.app_context():
        audit = db.session.scalars(select(AuditEntry.details).where(
            AuditEntry.action == "certificate.retire").order_by(AuditEntry.id)).all()
    assert [a["event_id"] for a in audit] == [event["id"], None]


def test_neutral_only_when_the_retirements_cover_the_footprint(client, admin, auditor, buyer, lot):
    """Three 1 kg serials against 3,001 g: 1 g short, not neutral; against 3,000 g: neutral."""
    short = create_event(client, admin, buyer.id, name="Short by a gram", footprint_g=3001)
    exact = create_event(client, admin, buyer.id, name="Exactly covered", footprint_g=3000)
    give_to_buyer(client, admin, lot, buyer.id, 6)
    for event, (first, last) in ((short, (1, 3)), (exact, (4, 6))):
        r = retire_for_event(client, auditor, lot, event_id=event["id"], holder_id=buyer.id,
                             first=first, last=last)
        assert r.status_code == 201, r.json
    below = client.get(f"{PUBLIC_EVENTS}/{short['id']}").json
    at = client.get(f"{PUBLIC_EVENTS}/{exact['id']}").json
    assert (below["retired_g"], below["shortfall_g"], below["neutral"]) == ("3000.000", "1.000", False)
    assert (at["retired_g"], at["shortfall_g"], at["neutral"]) == ("3000.000", "0.000", True)
    listed = {e["id"]: e["neutral"] for e in client.get(EVENTS, headers=auditor.headers).json["items"]}
    assert listed == {short["id"]: False, exact["id"]: True}


def test_only_the_events_buyer_retires_against_it(client, app, admin, auditor, actors, buyer, lot):
    other = actors.partner("enterprise_buyer", name="Other Co")
    event = create_event(client, admin, buyer.id)
    give_to_buyer(client, admin, lot, other.id, 3)
    before = all_table_counts(app)
    for holder in (other.id, None):  # another buyer's serials, the scheme's own
        first = 1 if holder else 4
        body = assert_problem(retire_for_event(client, auditor, lot, event_id=event["id"],
                                               holder_id=holder, first=first, last=first),
                              422, "not_event_buyer")
        assert body["errors"] == {"holder_partner_id": ["Must be the event's buyer."]}
    assert_problem(retire_for_event(client, auditor, lot, event_id=uuid.uuid4(), holder_id=other.id,
                                    first=1, last=1), 404, "event_not_found")
    assert all_table_counts(app) == before


def test_serials_retired_against_an_event_are_never_retired_again(client, app, admin, auditor,
                                                                  buyer, lot):
    event = create_event(client, admin, buyer.id)
    second = create_event(client, admin, buyer.id, name="Suzhou Marathon 2026, again")
    give_to_buyer(client, admin, lot, buyer.id, 5)
    assert retire_for_event(client, auditor, lot, event_id=event["id"], holder_id=buyer.id,
                            first=1, last=3).status_code == 201
    before = all_table_counts(app)
    for target, (first, last) in ((event, (1, 3)), (second, (2, 2)), (second, (3, 4))):
        assert_problem(retire_for_event(client, auditor, lot, event_id=target["id"],
                                        holder_id=buyer.id, first=first, last=last),
                       409, "already_retired")
    assert all_table_counts(app) == before
    assert client.get(f"{PUBLIC_EVENTS}/{second['id']}").json["retired_quantity"] == 0
    with app.app_context():  # the database's own guard: one event per retired block
        counted = db.session.scalars(select(CarbonEventRetirement)).one()
        with pytest.raises(IntegrityError):
            db.session.execute(CarbonEventRetirement.__table__.insert().values(
                event_id=uuid.UUID(second["id"]), block_id=counted.block_id, lot_id=counted.lot_id,
                quantity=counted.quantity, retired_mg=counted.retired_mg,
                partner_id=counted.partner_id, created_at=counted.created_at))
        db.session.rollback()


def test_a_footprint_and_its_retirements_are_never_edited_in_the_database(client, app, admin,
                                                                           auditor, buyer, lot):
    event = create_event(client, admin, buyer.id)
    give_to_buyer(client, admin, lot, buyer.id, 1)
    assert retire_for_event(client, auditor, lot, event_id=event["id"], holder_id=buyer.id,
                            first=1, last=1).status_code == 201
    with app.app_context():
        for statement in ("UPDATE carbon_events SET footprint_g = 1",
                          "DELETE FROM carbon_events",
                          "UPDATE carbon_event_retirements SET retired_mg = 99000000",
                          "DELETE FROM carbon_event_retirements"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
        assert db.session.scalar(select(CarbonEvent.footprint_g)) == 3000


def test_creating_an_event_is_idempotent_with_a_key(client, app, admin, buyer):
    headers = {**admin.headers, "Idempotency-Key": "event-1"}
    a = client.post(EVENTS, json=event_body(buyer.id), headers=headers)
    b = client.post(EVENTS, json=event_body(buyer.id), headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json == b.json and b.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CarbonEvent)) == 1


def test_events_are_listed_newest_first_page_by_page(client, admin, auditor, buyer):
    ids = [create_event(client, admin, buyer.id, name=f"Conference {i}", kind="conference")["id"]
           for i in range(3)]
    for path, headers in ((EVENTS, auditor.headers), (PUBLIC_EVENTS, {})):
        first = client.get(path, query_string={"limit": 2}, headers=headers).json
        rest = client.get(path, query_string={"limit": 2, "cursor": first["next_cursor"]},
                          headers=headers).json
        assert [e["id"] for e in first["items"] + rest["items"]] == ids[::-1]
        assert rest["next_cursor"] is None
        assert_problem(client.get(path, query_string={"cursor": "nonsense"}, headers=headers), 422)


def test_roles(client, actors, auditor, buyer):
    verifier_, citizen = actors.user("verifier"), actors.user("citizen")
    for who in (auditor, verifier_, citizen):
        assert_problem(client.post(EVENTS, json=event_body(buyer.id), headers=who.headers), 403)
    for who in (verifier_, citizen):
        assert_problem(client.get(EVENTS, headers=who.headers), 403)
    assert_problem(client.post(EVENTS, json=event_body(buyer.id)), 401)
    assert client.get(EVENTS, headers=auditor.headers).status_code == 200


@pytest.mark.no_verify
def test_ledger_verify_finds_a_counted_retirement_that_was_not_retired(client, app, admin, buyer,
                                                                        lot):
    from carbon_credits.services.verify import verify_all
    from models import CertificateBlock
    event = create_event(client, admin, buyer.id)
    with app.app_context():
        active = db.session.scalars(select(CertificateBlock)).one()  # the lot, still the scheme's
        db.session.execute(CarbonEventRetirement.__table__.insert().values(
            event_id=uuid.UUID(event["id"]), block_id=active.id, lot_id=active.lot_id,
            quantity=active.quantity, retired_mg=active.quantity * 1_000_000,
            partner_id=buyer.id, created_at=active.created_at))
        db.session.commit()
        problems = verify_all()
        db.session.remove()
    assert [p for p in problems if p.startswith("events:")] == [
        "events: retirement 1 does not match the retired block it counts"]
