"""Third-party verification of certified lots (issue 15, item 6a): a `verifier` signs a statement
on a lot (a sample drawn reproducibly from a recorded seed, findings, opinion), and a lot's
serials are transferred or retired only while its latest statement is positive."""
from __future__ import annotations

import re
import threading
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from carbon_credits.domain.verification import draw_sample
from models import CertificateLotVerification, UserRole, db
from tests.api.test_actions import operator, rider, seeded  # noqa: F401
from tests.api.test_certificates import (LOTS, admin, auditor, buyer, issue, long_claim_window,  # noqa: F401
                                         metro_month, verifier)
from tests.certificates_support import sign_statement, statement_body, verifications_path, verify_lot
from tests.conftest import all_table_counts, assert_problem, recorded_statements, table_counts

USERS = "/api/v1/admin/users"
GRANTS = "/api/v1/admin/role-grants"


@pytest.fixture
def unverified_lot(client, auditor, metro_month):  # noqa: F811
    r = issue(client, auditor, metro_month)
    assert r.status_code == 201, r.json
    return r.json


def transfer(client, who, lot, buyer, quantity=1):  # noqa: F811
    return client.post(f"{LOTS}/{lot['id']}/transfers",
                       json={"buyer_partner_id": str(buyer.id), "quantity": quantity}, headers=who.headers)


def retire(client, who, lot, quantity=1):
    return client.post(f"{LOTS}/{lot['id']}/retirements",
                       json={"quantity": quantity, "beneficiary": "City Zoo", "purpose": "Open day"},
                       headers=who.headers)


def statements(app) -> int:
    return table_counts(app, CertificateLotVerification)["certificate_lot_verifications"]


# --- signing and the sample -----------------------------------------------------------------

def test_a_verifier_signs_a_statement_whose_sample_anyone_can_draw_again(
        client, app, admin, verifier, unverified_lot, metro_month):  # noqa: F811
    lot = unverified_lot
    r = sign_statement(client, verifier, lot["id"], seed="suzhou-2026-lot-7", sample_size=3,
                       report_reference="JCV-2026-0042")
    assert r.status_code == 201, r.json
    body = r.json
    assert body["seed"] == "suzhou-2026-lot-7" and body["seed_drawn_by_server"] is False
    assert body["sample_method"] == "hmac-sha256-v1" and body["sample_size"] == 3
    assert body["sampled_action_ids"] == draw_sample("suzhou-2026-lot-7", metro_month["ids"], 3)
    assert body["opinion"] == "positive" and body["unlocks_moves"] is True
    assert body["verifier_user_id"] == str(verifier.id) and body["lot_id"] == lot["id"]
    assert body["report_reference"] == "JCV-2026-0042" and body["signed_at"]
    # The same seed on the same lot always draws the same sample.
    again = verify_lot(client, verifier, lot["id"], seed="suzhou-2026-lot-7", sample_size=3)
    assert again["sampled_action_ids"] == body["sampled_action_ids"]
    # A smaller sample of the same seed is the start of the larger one.
    smaller = verify_lot(client, verifier, lot["id"], seed="suzhou-2026-lot-7", sample_size=2)
    assert smaller["sampled_action_ids"] == body["sampled_action_ids"][:2]

    # Every sampled action is one of the lot's, and the verifier can read each of them.
    assert set(body["sampled_action_ids"]) <= set(metro_month["ids"])
    for action_id in body["sampled_action_ids"]:
        assert client.get(f"/api/v1/admin/actions/{action_id}", headers=verifier.headers).status_code == 200

    listed = client.get(verifications_path(lot["id"]), headers=admin.headers).json
    assert [s["id"] for s in listed["items"]] == [smaller["id"], again["id"], body["id"]]
    log = client.get("/api/v1/admin/audit-log?object_type=certificate_lot", headers=admin.headers).json
    signed = [e for e in log["items"] if e["action"] == "certificate.verification_signed"]
    assert len(signed) == 3 and {e["details"]["seed"] for e in signed} == {"suzhou-2026-lot-7"}


def test_without_a_seed_the_server_draws_one_and_records_it(client, verifier, unverified_lot,
                                                            metro_month):  # noqa: F811
    first = verify_lot(client, verifier, unverified_lot["id"], sample_size=4)
    second = verify_lot(client, verifier, unverified_lot["id"], sample_size=4)
    for body in (first, second):
        assert body["seed_drawn_by_server"] is True and re.fullmatch(r"[0-9a-f]{32}", body["seed"])
        assert body["sampled_action_ids"] == draw_sample(body["seed"], metro_month["ids"], 4)
    assert first["seed"] != second["seed"]


def test_a_whole_lot_can_be_sampled_but_not_more(client, app, verifier, unverified_lot):
    whole = verify_lot(client, verifier, unverified_lot["id"], sample_size=10)
    assert len(set(whole["sampled_action_ids"])) == 10
    before = all_table_counts(app)
    body = assert_problem(sign_statement(client, verifier, unverified_lot["id"], sample_size=11),
                          422, "sample_too_large")
    assert "sample_size" in body["errors"]
    assert all_table_counts(app) == before


def test_signing_is_idempotent_with_a_key(client, app, verifier, unverified_lot):
    key = {"Idempotency-Key": "statement-1"}
    a = sign_statement(client, verifier, unverified_lot["id"], headers=key, sample_size=2)
    b = sign_statement(client, verifier, unverified_lot["id"], headers=key, sample_size=2)
    assert a.status_code == b.status_code == 201
    assert a.json == b.json and b.headers["Idempotent-Replayed"] == "true"
    assert statements(app) == 1


BAD_STATEMENTS = [
    ("no opinion", {"opinion": None}),
    ("unknown opinion", {"opinion": "looks fine"}),
    ("sample size zero", {"sample_size": 0}),
    ("sample size as string", {"sample_size": "3"}),
    ("sample size over the cap", {"sample_size": 10_001}),
    ("no sample size", {"sample_size": None}),
    ("seed with a space", {"seed": "two words"}),
    ("seed not ascii", {"seed": "苏州"}),
    ("seed too long", {"seed": "s" * 129}),
    ("empty seed", {"seed": ""}),
    ("blank findings", {"findings": "   "}),
    ("no organisation", {"verifier_organisation": None}),
    ("no report reference", {"report_reference": None}),
    ("unknown field", {"approved": True}),
]


@pytest.mark.parametrize("name, change", BAD_STATEMENTS, ids=[n for n, _ in BAD_STATEMENTS])
def test_a_bad_statement_is_422_and_writes_nothing(client, app, verifier, unverified_lot, name, change):
    body = {k: v for k, v in statement_body(**change).items() if v is not None}
    before = all_table_counts(app)
    r = client.post(verifications_path(unverified_lot["id"]), json=body,
                    headers={**verifier.headers, "Idempotency-Key": "bad-" + uuid.uuid4().hex})
    assert_problem(r, 422, "validation")
    assert all_table_counts(app) == before


def test_a_statement_on_an_unknown_lot_is_404(client, app, verifier):
    before = all_table_counts(app)
    assert_problem(sign_statement(client, verifier, uuid.uuid4()), 404, "lot_not_found")
    assert_problem(client.get(verifications_path(uuid.uuid4()), headers=verifier.headers), 404,
                   "lot_not_found")
    assert all_table_counts(app) == before


# --- the gate on transfers and retirements --------------------------------------------------

def test_a_negative_statement_keeps_the_lot_locked_and_a_later_positive_one_unlocks_it(
        client, app, admin, auditor, verifier, buyer, unverified_lot):  # noqa: F811
    lot = unverified_lot
    before = all_table_counts(app)
    body = assert_problem(transfer(client, admin, lot, buyer), 409, "lot_not_verified")
    assert "no verification statement" in body["detail"]
    assert_problem(retire(client, auditor, lot), 409, "lot_not_verified")
    assert all_table_counts(app) == before

    for opinion in ("negative", "qualified"):
        verify_lot(client, verifier, lot["id"], opinion=opinion, findings=f"{opinion} findings")
        before = all_table_counts(app)
        body = assert_problem(transfer(client, admin, lot, buyer), 409, "lot_not_verified")
        assert opinion in body["detail"]
        assert_problem(retire(client, auditor, lot), 409, "lot_not_verified")
        assert all_table_counts(app) == before
        view = client.get(f"{LOTS}/{lot['id']}", headers=admin.headers).json["verification"]
        assert view["status"] == opinion and view["transferable"] is False

    positive = verify_lot(client, verifier, lot["id"], report_reference="JCV-2026-0099")
    view = client.get(f"{LOTS}/{lot['id']}", headers=verifier.headers).json["verification"]
    assert view == {"status": "positive", "transferable": True, "statement_id": positive["id"],
                    "signed_at": positive["signed_at"], "report_reference": "JCV-2026-0099",
                    "verifier_organisation": "Jiangsu Carbon Verification Co."}
    assert transfer(client, admin, lot, buyer, quantity=2).status_code == 201
    assert retire(client, auditor, lot, quantity=2).status_code == 201

    # A later negative statement locks what is left.
    verify_lot(client, verifier, lot["id"], opinion="negative", findings="Operator records withdrawn.")
    assert_problem(transfer(client, admin, lot, buyer), 409, "lot_not_verified")
    assert_problem(retire(client, auditor, lot), 409, "lot_not_verified")
    listed = client.get(LOTS, headers=verifier.headers).json["items"]
    assert [(x["id"], x["verification"]["status"]) for x in listed] == [(lot["id"], "negative")]


def test_listing_lots_with_their_verification_costs_the_same_for_one_lot_and_for_several(
        client, app, auditor, verifier, metro_month):  # noqa: F811
    import datetime as dt
    start = metro_month["from"]
    first = issue(client, auditor, {"from": start, "to": start + dt.timedelta(days=4)}).json
    verify_lot(client, verifier, first["id"])
    with recorded_statements(app) as one:
        assert len(client.get(LOTS, headers=verifier.headers).json["items"]) == 1
    second = issue(client, auditor, {"from": start + dt.timedelta(days=5), "to": metro_month["to"]}).json
    verify_lot(client, verifier, second["id"], opinion="negative")
    verify_lot(client, verifier, second["id"], opinion="qualified")
    with recorded_statements(app) as two:
        items = client.get(LOTS, headers=verifier.headers).json["items"]
    assert {x["id"]: x["verification"]["status"] for x in items} == {first["id"]: "positive",
                                                                    second["id"]: "qualified"}
    assert len(two) == len(one)


# --- who may do what ------------------------------------------------------------------------

def test_only_a_verifier_signs_and_a_verifier_changes_nothing_else(
        client, app, actors, admin, auditor, verifier, buyer, unverified_lot, metro_month):  # noqa: F811
    lot = unverified_lot
    citizen, merchant = actors.user("citizen"), actors.user("merchant")
    before = all_table_counts(app)
    for who in (admin, auditor, citizen, merchant):
        assert_problem(sign_statement(client, who, lot["id"]), 403, "role_required")
    assert_problem(client.get(verifications_path(lot["id"]), headers=citizen.headers), 403)
    # The verifier reads lots, their actions and the actions themselves...
    for path in (LOTS, f"{LOTS}/{lot['id']}", f"{LOTS}/{lot['id']}/actions",
                 verifications_path(lot["id"]), "/api/v1/admin/actions",
                 f"/api/v1/admin/actions/{metro_month['ids'][0]}"):
        assert client.get(path, headers=verifier.headers).status_code == 200, path
    # ...and approves, issues, moves and reverses nothing.
    assert_problem(issue(client, verifier, metro_month), 403, "role_required")
    assert_problem(transfer(client, verifier, lot, buyer), 403, "role_required")
    assert_problem(retire(client, verifier, lot), 403, "role_required")
    for step in ("approve", "reject", "reverse"):
        assert_problem(client.post(f"/api/v1/admin/actions/{metro_month['ids'][0]}/{step}",
                                   json={"reason": "x", "note": "x"}, headers=verifier.headers),
                       403, "role_required")
    assert all_table_counts(app) == before


def test_the_issuer_of_a_lot_cannot_verify_it(client, app, actors, metro_month):  # noqa: F811
    issuer, admin_1, admin_2 = actors.user("auditor"), actors.user("admin"), actors.user("admin")
    lot = issue(client, issuer, metro_month).json
    # The auditor who issued the lot leaves auditing and is made a verifier, four-eyes.
    r = client.post(f"{USERS}/{issuer.id}/roles", json={"roles": ["verifier"]}, headers=admin_1.headers)
    assert r.status_code == 202 and [g["role"] for g in r.json["pending_grants"]] == ["verifier"]
    grant_id = r.json["pending_grants"][0]["id"]
    assert_problem(client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=admin_1.headers),
                   403, "four_eyes")
    assert client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=admin_2.headers).status_code == 200
    assert client.get(f"{USERS}/{issuer.id}", headers=admin_1.headers).json["roles"] == ["verifier"]
    before = all_table_counts(app)
    assert_problem(sign_statement(client, issuer, lot["id"]), 403, "four_eyes")
    assert all_table_counts(app) == before
    verify_lot(client, actors.user("verifier"), lot["id"])  # someone independent may


def test_verifier_is_never_held_with_admin_or_auditor(client, app, actors, runner):
    from carbon_credits.domain.errors import ValidationFailed
    from carbon_credits.services import auth
    admin, other_admin = actors.user("admin"), actors.user("admin")
    auditor_, citizen = actors.user("auditor"), actors.user("citizen")
    before = all_table_counts(app)
    for pair in (("verifier", "admin"), ("verifier", "auditor")):
        with app.app_context(), pytest.raises(ValidationFailed) as error:
            auth.register_user(email=f"{'-'.join(pair)}@example.test", phone=None,
                               password="long enough pw", display_name="x", roles=pair)
        assert error.value.code == "conflicting_roles"
        assert_problem(client.post(f"{USERS}/{citizen.id}/roles", json={"roles": list(pair)},
                                   headers=admin.headers), 422, "conflicting_roles")
        result = runner.invoke(args=["create-user", "--email", "both@example.test", "--password",
                                     "a long password", "--role", pair[0], "--role", pair[1]])
        assert result.exit_code != 0 and "verifier" in result.output
    assert all_table_counts(app) == before
    # A verifier grant approved after the person became an auditor is a conflict...
    with app.app_context():
        from models import RoleGrant
        db.session.add(RoleGrant(user_id=auditor_.id, role="verifier", status="pending",
                                 requested_by=admin.id))
        db.session.commit()
        grant_id = db.session.scalar(select(RoleGrant.id).where(RoleGrant.role == "verifier"))
        db.session.remove()
    assert_problem(client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=other_admin.headers),
                   409, "conflicting_roles")
    # ...and the database refuses a second privileged role (partial unique index on user_roles).
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.add(UserRole(user_id=auditor_.id, role="verifier"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()


def test_create_user_makes_a_verifier(client, app, runner):
    result = runner.invoke(args=["create-user", "--email", "verifier@example.test", "--password",
                                 "a long password", "--role", "verifier"])
    assert result.exit_code == 0, result.output
    assert "roles: verifier" in result.output
    login = client.post("/api/v1/auth/login", json={"identifier": "verifier@example.test",
                                                    "password": "a long password"})
    assert login.status_code == 200, login.json
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.json["roles"] == ["verifier"]


def test_verifier_is_given_four_eyes_like_admin_and_auditor(client, actors):
    requester, approver, citizen = actors.user("admin"), actors.user("admin"), actors.user("citizen")
    r = client.post(f"{USERS}/{citizen.id}/roles", json={"roles": ["citizen", "verifier"]},
                    headers=requester.headers)
    assert r.status_code == 202 and r.json["roles"] == ["citizen"]
    grant_id = r.json["pending_grants"][0]["id"]
    assert_problem(client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=requester.headers),
                   403, "four_eyes")
    assert client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=approver.headers).status_code == 200
    assert client.get(f"{USERS}/{citizen.id}", headers=approver.headers).json["roles"] == \
        ["citizen", "verifier"]


# --- the database ---------------------------------------------------------------------------

def test_statements_are_append_only_in_the_database(client, app, verifier, unverified_lot):
    verify_lot(client, verifier, unverified_lot["id"], opinion="negative")
    with app.app_context():
        for statement in ("UPDATE certificate_lot_verifications SET opinion = 'positive'",
                          "DELETE FROM certificate_lot_verifications"):
            with pytest.raises(DBAPIError):
                db.session.execute(text(statement))
            db.session.rollback()
        db.session.remove()


@pytest.mark.postgres
def test_a_negative_statement_racing_a_transfer_never_lets_a_transfer_through_after_it(
        app, actors, admin, verifier, buyer, unverified_lot):  # noqa: F811
    """Both take the lot's row lock: either the transfer commits first (under the positive
    statement), or the negative statement does and the transfer is refused."""
    from models import CertificateEvent
    lot = unverified_lot
    outcomes = []
    for attempt in range(3):
        verify_lot(app.test_client(), verifier, lot["id"])
        barrier = threading.Barrier(2)
        results = {}

        def move():
            client = app.test_client()
            barrier.wait()
            results["transfer"] = transfer(client, admin, lot, buyer)

        def lock():
            client = app.test_client()
            barrier.wait()
            results["statement"] = sign_statement(client, verifier, lot["id"], opinion="negative")

        threads = [threading.Thread(target=move), threading.Thread(target=lock)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["statement"].status_code == 201
        status = results["transfer"].status_code
        assert status in (201, 409), results["transfer"].get_json()
        with app.app_context():
            negative_at = db.session.scalar(select(func.max(CertificateLotVerification.signed_at)))
            last_transfer = db.session.scalar(select(func.max(CertificateEvent.created_at))
                                              .where(CertificateEvent.event == "transfer"))
            db.session.remove()
        if status == 201:
            assert last_transfer < negative_at
        else:
            assert results["transfer"].get_json()["type"] == "/problems/lot_not_verified"
        outcomes.append(status)
    assert set(outcomes) <= {201, 409}
