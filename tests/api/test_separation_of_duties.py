"""Separation of duties (issue #12, item 4 and 6): no admin+auditor account, admin/auditor given
only four-eyes, deciders independent of requesters (also through the grants that made them),
adjustments to citizens only. Each exploit test reproduces what one dishonest admin could do
before, and shows it refused now, with nothing changed."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from models import LedgerAdjustment, LedgerTransfer, RoleGrant, UserRole, db
from tests.conftest import all_table_counts, assert_problem, table_counts

USERS = "/api/v1/admin/users"
GRANTS = "/api/v1/admin/role-grants"
ADJUSTMENTS = "/api/v1/admin/ledger/adjustments"
METHODOLOGIES = "/api/v1/admin/methodologies"
PARAM = {"name": "RF", "value": 97, "unit": "gCO2/km", "source": "test", "source_status": "secondary"}


def roles_of(client, admin, user) -> list[str]:
    return client.get(f"{USERS}/{user.id}", headers=admin.headers).json["roles"]


def ask(client, admin, user, roles, status=202):
    r = client.post(f"{USERS}/{user.id}/roles", json={"roles": roles}, headers=admin.headers)
    assert r.status_code == status, r.json
    return r.json


def approve_grant(client, admin, grant_id, status=200):
    r = client.post(f"{GRANTS}/{grant_id}/approve", json={}, headers=admin.headers)
    assert r.status_code == status, r.json
    return r


def request_adjustment(client, who, citizen, points=500_000, ref=None):
    return client.post(ADJUSTMENTS, json={"user_id": str(citizen.id), "points": points,
                                          "reason": "goodwill", "note": "lost trips",
                                          "external_ref": ref or uuid.uuid4().hex},
                       headers=who.headers)


# --- the exploit: one admin, a second account of their own, +500,000 points --------------------

def test_one_admin_cannot_make_their_own_second_pair_of_eyes(client, app, actors):
    mallory = actors.user("admin")
    sock = actors.user("citizen")        # Mallory's second account
    accomplice = actors.user("citizen")  # who receives the points
    other_admin = actors.user("admin")

    # Granting auditor no longer takes effect at once: it waits for another admin.
    body = ask(client, mallory, sock, ["auditor"])
    assert body["roles"] == [] and [g["role"] for g in body["pending_grants"]] == ["auditor"]
    grant = body["pending_grants"][0]
    assert grant["status"] == "pending" and grant["requested_by"] == str(mallory.id)

    adjustment = request_adjustment(client, mallory, accomplice)
    assert adjustment.status_code == 201, adjustment.json
    before = all_table_counts(app)
    # The sock is no auditor yet; Mallory cannot approve the grant she asked for; the grantee
    # cannot approve their own grant either (not an admin, and the CHECK).
    assert_problem(client.post(f"{ADJUSTMENTS}/{adjustment.json['id']}/approve", json={},
                               headers=sock.headers), 403, "role_required")
    assert_problem(approve_grant(client, mallory, grant["id"], status=403), 403, "four_eyes")
    assert all_table_counts(app) == before

    # Another admin approves the grant Mallory requested: the sock is an auditor now...
    approve_grant(client, other_admin, grant["id"])
    assert roles_of(client, other_admin, sock) == ["auditor"]
    # ...but one whose role Mallory asked for: it cannot approve Mallory's requests.
    before = all_table_counts(app)
    r = client.post(f"{ADJUSTMENTS}/{adjustment.json['id']}/approve", json={}, headers=sock.headers)
    assert_problem(r, 403, "four_eyes")
    assert all_table_counts(app) == before
    assert table_counts(app, LedgerTransfer)["ledger_transfers"] == before["ledger_transfers"]

    # An auditor nobody in this story made approves it.
    independent = actors.user("auditor")
    r = client.post(f"{ADJUSTMENTS}/{adjustment.json['id']}/approve", json={},
                    headers=independent.headers)
    assert r.status_code == 200 and r.json["status"] == "approved"


def test_an_auditor_whose_grant_the_author_approved_cannot_approve_the_authors_version(
        client, app, actors):
    author, requester = actors.user("admin"), actors.user("admin")
    friend = actors.user("citizen")
    grant = ask(client, requester, friend, ["auditor"])["pending_grants"][0]
    approve_grant(client, author, grant["id"])  # the author approved the friend's grant
    r = client.post(METHODOLOGIES, json={"code": "X-METRO", "title": "x", "action_type": "transit",
                                         "mode": "metro"}, headers=author.headers)
    assert r.status_code == 201
    r = client.post(f"{METHODOLOGIES}/X-METRO/versions", headers=author.headers,
                    json={"family": "transit_distance", "parameters": [PARAM],
                          "effective_from": "2031-01-01T00:00:00+08:00"})
    assert r.status_code == 201
    client.post(f"{METHODOLOGIES}/X-METRO/versions/1/submit", headers=author.headers)
    before = all_table_counts(app)
    assert_problem(client.post(f"{METHODOLOGIES}/X-METRO/versions/1/approve", headers=friend.headers),
                   403, "four_eyes")
    assert all_table_counts(app) == before
    assert client.post(f"{METHODOLOGIES}/X-METRO/versions/1/approve",
                       headers=actors.user("auditor").headers).status_code == 200


def test_a_grant_approver_made_admin_by_the_requester_is_not_independent(client, app, actors):
    first, second = actors.user("admin"), actors.user("admin")
    protege, target = actors.user("citizen"), actors.user("citizen")
    grant = ask(client, first, protege, ["admin"])["pending_grants"][0]
    approve_grant(client, second, grant["id"])
    # `first` asks admin for `target`; `protege` holds admin through a grant `first` asked for.
    grant = ask(client, first, target, ["admin"])["pending_grants"][0]
    assert_problem(approve_grant(client, protege, grant["id"], status=403), 403, "four_eyes")
    approve_grant(client, second, grant["id"])
    assert roles_of(client, second, target) == ["admin"]


# --- admin and auditor never together ---------------------------------------------------------

def test_admin_and_auditor_together_are_refused_everywhere(client, app, actors, runner):
    from carbon_credits.domain.errors import ValidationFailed
    from carbon_credits.services import auth
    admin = actors.user("admin")
    citizen = actors.user("citizen")
    before = all_table_counts(app)
    with app.app_context(), pytest.raises(ValidationFailed) as error:
        auth.register_user(email="both@example.test", phone=None, password="long enough pw",
                           display_name="both", roles=("admin", "auditor"))
    assert error.value.code == "conflicting_roles"
    r = client.post(f"{USERS}/{citizen.id}/roles", json={"roles": ["admin", "auditor"]},
                    headers=admin.headers)
    assert_problem(r, 422, "conflicting_roles")
    result = runner.invoke(args=["create-user", "--email", "root@example.test", "--password",
                                 "a long password", "--role", "admin", "--role", "auditor"])
    assert result.exit_code != 0 and "admin and auditor" in result.output
    assert all_table_counts(app) == before
    # The database refuses it too (partial unique index on user_roles).
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO user_roles (user_id, role) VALUES (:u, 'auditor')"),
                               {"u": admin.id.hex if db.engine.dialect.name == "sqlite" else admin.id})
            db.session.flush()
        db.session.rollback()
        db.session.remove()


def test_approving_a_grant_that_would_join_admin_and_auditor_is_409(client, app, actors):
    one, two = actors.user("admin"), actors.user("admin")
    citizen = actors.user("citizen")
    auditor_grant = ask(client, one, citizen, ["citizen", "auditor"])["pending_grants"][0]
    approve_grant(client, two, auditor_grant["id"])
    # Asking admin while keeping auditor is refused outright...
    assert_problem(client.post(f"{USERS}/{citizen.id}/roles", json={"roles": ["admin", "auditor"]},
                               headers=one.headers), 422, "conflicting_roles")
    # ...and a grant that meets an auditor by the time it is approved is a conflict.
    with app.app_context():
        db.session.add(RoleGrant(user_id=citizen.id, role="admin", status="pending",
                                 requested_by=one.id))
        db.session.commit()
        grant_id = db.session.scalar(text("SELECT id FROM role_grants WHERE role = 'admin'"))
        db.session.remove()
    grant_id = uuid.UUID(str(grant_id)) if not isinstance(grant_id, uuid.UUID) else grant_id
    before = all_table_counts(app)
    assert_problem(approve_grant(client, two, grant_id, status=409), 409, "conflicting_roles")
    assert all_table_counts(app) == before
    assert roles_of(client, one, citizen) == ["auditor", "citizen"]


# --- the grant workflow -------------------------------------------------------------------------

def test_other_role_changes_apply_at_once_and_privileged_ones_wait(client, app, actors):
    admin, other = actors.user("admin"), actors.user("admin")
    shop = actors.partner("merchant")
    user = actors.user("citizen")
    r = client.post(f"{USERS}/{user.id}/roles", json={"roles": ["citizen", "merchant"],
                                                      "partner_id": str(shop.id)},
                    headers=admin.headers)
    assert r.status_code == 200 and r.json["roles"] == ["citizen", "merchant"]
    assert r.json["pending_grants"] == []
    # Drop merchant (at once) and ask auditor (pending) in one request.
    body = ask(client, admin, user, ["citizen", "auditor"])
    assert body["roles"] == ["citizen"]
    grant = body["pending_grants"][0]
    # Asking again returns the same pending grant.
    assert ask(client, admin, user, ["citizen", "auditor"])["pending_grants"][0]["id"] == grant["id"]
    queue = client.get(GRANTS, query_string={"status": "pending"}, headers=other.headers).json
    assert [g["id"] for g in queue["items"]] == [grant["id"]]
    assert client.get(f"{GRANTS}/{grant['id']}", headers=actors.user("auditor").headers).json["role"] == "auditor"
    # The grantee's roles take effect only on approval.
    assert approve_grant(client, other, grant["id"]).json["status"] == "approved"
    assert roles_of(client, admin, user) == ["auditor", "citizen"]
    assert_problem(approve_grant(client, actors.user("admin"), grant["id"], status=409), 409,
                   "role_grant_not_pending")
    # Removing a privileged role is immediate.
    r = client.post(f"{USERS}/{user.id}/roles", json={"roles": ["citizen"]}, headers=admin.headers)
    assert r.status_code == 200 and r.json["roles"] == ["citizen"]


def test_rejecting_and_cancelling_grants(client, app, actors):
    admin, other = actors.user("admin"), actors.user("admin")
    user = actors.user("citizen")
    grant = ask(client, admin, user, ["citizen", "admin"])["pending_grants"][0]
    assert_problem(client.post(f"{GRANTS}/{grant['id']}/reject", json={"note": "mine"},
                               headers=admin.headers), 403, "four_eyes")
    assert_problem(client.post(f"{GRANTS}/{grant['id']}/reject", json={}, headers=other.headers), 422)
    r = client.post(f"{GRANTS}/{grant['id']}/reject", json={"note": "not needed"}, headers=other.headers)
    assert r.status_code == 200 and r.json["status"] == "rejected"
    assert r.json["decided_by"] == str(other.id) and r.json["decision_note"] == "not needed"
    again = ask(client, admin, user, ["citizen", "admin"])["pending_grants"][0]
    assert again["id"] != grant["id"]
    assert_problem(client.post(f"{GRANTS}/{again['id']}/cancel", headers=other.headers), 403,
                   "not_requester")
    r = client.post(f"{GRANTS}/{again['id']}/cancel", headers=admin.headers)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert roles_of(client, admin, user) == ["citizen"]
    assert_problem(client.get(f"{GRANTS}/{uuid.uuid4()}", headers=admin.headers), 404,
                   "role_grant_not_found")
    assert_problem(client.get(GRANTS, query_string={"status": "maybe"}, headers=admin.headers), 422)


def test_nobody_asks_admin_or_auditor_for_themselves(client, app, actors):
    admin = actors.user("admin")
    before = all_table_counts(app)
    r = client.post(f"{USERS}/{admin.id}/roles", json={"roles": ["citizen", "admin"]},
                    headers=admin.headers)
    assert r.status_code == 200  # keeps admin, adds citizen at once: nothing privileged asked
    r = client.post(f"{USERS}/{admin.id}/roles", json={"roles": ["auditor"]}, headers=admin.headers)
    assert_problem(r, 403, "self_grant")
    assert table_counts(app, RoleGrant) == {"role_grants": 0}
    assert len(before) == len(all_table_counts(app))


def test_citizens_and_auditors_cannot_decide_grants(client, app, actors):
    admin = actors.user("admin")
    grant = ask(client, admin, actors.user("citizen"), ["admin"])["pending_grants"][0]
    for who in (actors.user("citizen"), actors.user("auditor")):
        assert_problem(client.post(f"{GRANTS}/{grant['id']}/approve", json={}, headers=who.headers),
                       403, "role_required")


@pytest.mark.parametrize("column, value", [("requested_by", "user_id"),
                                           ("decided_by", "requested_by"),
                                           ("decided_by", "user_id")])
def test_the_database_keeps_the_three_people_of_a_grant_apart(app, actors, column, value):
    admin, grantee = actors.user("admin"), actors.user("citizen")
    with app.app_context():
        grant = RoleGrant(user_id=grantee.id, role="auditor", status="pending", requested_by=admin.id)
        db.session.add(grant)
        db.session.commit()
        assignments = {"requested_by": "requested_by = user_id",
                       "decided_by": f"status = 'approved', decided_at = requested_at, "
                                     f"decided_by = {value}"}
        with pytest.raises(IntegrityError):
            db.session.execute(text(f"UPDATE role_grants SET {assignments[column]}"))
            db.session.flush()
        db.session.rollback()
        db.session.remove()


# --- adjustments to citizens only ---------------------------------------------------------------

@pytest.mark.parametrize("roles", [("merchant",), ("citizen", "merchant"), ("citizen", "admin"),
                                   ("auditor",)],
                         ids=["merchant_staff", "citizen_and_merchant", "citizen_and_admin", "auditor"])
def test_adjustments_to_staff_are_refused_and_store_nothing(client, app, actors, roles):
    requester = actors.user("admin")
    partner_id = actors.partner("merchant").id if "merchant" in roles else None
    target = actors.user(*roles, partner_id=partner_id)
    before = all_table_counts(app)
    body = assert_problem(request_adjustment(client, requester, target), 422,
                          "adjustment_target_not_citizen")
    assert "user_id" in body["errors"]
    assert all_table_counts(app) == before


def test_a_target_that_became_staff_is_refused_at_approval(client, app, actors):
    requester, auditor = actors.user("admin"), actors.user("auditor")
    citizen = actors.user("citizen")
    adjustment = request_adjustment(client, requester, citizen).json
    shop = actors.partner("merchant")
    r = client.post(f"{USERS}/{citizen.id}/roles", json={"roles": ["citizen", "merchant"],
                                                         "partner_id": str(shop.id)},
                    headers=requester.headers)
    assert r.status_code == 200
    before = all_table_counts(app)
    r = client.post(f"{ADJUSTMENTS}/{adjustment['id']}/approve", json={}, headers=auditor.headers)
    assert_problem(r, 409, "adjustment_target_not_citizen")
    assert all_table_counts(app) == before
    with app.app_context():
        assert db.session.get(LedgerAdjustment, uuid.UUID(adjustment["id"])).status == "pending"
        db.session.remove()
    r = client.post(f"{ADJUSTMENTS}/{adjustment['id']}/reject", json={"note": "staff now"},
                    headers=auditor.headers)
    assert r.status_code == 200


def test_user_roles_index_allows_other_role_pairs(app, actors):
    """The partial index only bites on admin+auditor: citizen+admin stays possible."""
    user = actors.user("citizen", "admin")
    with app.app_context():
        assert {r.role for r in db.session.query(UserRole).filter_by(user_id=user.id)} == {"citizen", "admin"}
        db.session.remove()
