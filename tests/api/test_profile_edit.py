"""PATCH /me: display name and leaderboard visibility; the profile shows both and `verified`."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from models import AuditEntry, User, db
from tests.conftest import all_table_counts, assert_problem

ME = "/api/v1/me"


def test_profile_shows_verified_and_leaderboard_visibility(client, actors):
    citizen = actors.user("citizen")
    body = client.get(ME, headers=citizen.headers).json
    assert body["leaderboard_visibility"] == "named"
    assert isinstance(body["verified"], bool)


def test_editing_name_and_visibility_changes_the_profile_and_is_audited_without_the_name(
        client, app, actors):
    citizen = actors.user("citizen", display_name="Ana")
    r = client.patch(ME, json={"display_name": "  Ana L.  ", "leaderboard_visibility": "pseudonym"},
                     headers=citizen.headers)
    assert r.status_code == 200, r.json
    assert r.json["display_name"] == "Ana L." and r.json["leaderboard_visibility"] == "pseudonym"
    assert client.get(ME, headers=citizen.headers).json["display_name"] == "Ana L."
    with app.app_context():
        entries = list(db.session.scalars(select(AuditEntry)
                                          .where(AuditEntry.action == "user.profile_update")))
        db.session.remove()
    assert len(entries) == 1 and entries[0].actor_user_id == citizen.id
    assert entries[0].details["changed"] == ["display_name", "leaderboard_visibility"]
    assert entries[0].details["leaderboard_visibility"] == {"before": "named", "after": "pseudonym"}
    assert "Ana" not in json.dumps(entries[0].details)


def test_an_edit_that_changes_nothing_writes_no_audit_row(client, app, actors):
    citizen = actors.user("citizen", display_name="Bo")
    before = all_table_counts(app)
    r = client.patch(ME, json={"display_name": "Bo", "leaderboard_visibility": "named"},
                     headers=citizen.headers)
    assert r.status_code == 200 and r.json["display_name"] == "Bo"
    assert all_table_counts(app) == before


def test_staff_may_edit_their_own_display_name(client, actors):
    admin = actors.user("admin")
    r = client.patch(ME, json={"display_name": "Desk 3"}, headers=admin.headers)
    assert r.status_code == 200 and r.json["display_name"] == "Desk 3"


@pytest.mark.parametrize("body", [
    {"email": "other@example.org"}, {"display_name": "x", "roles": ["admin"]},
    {"leaderboard_visibility": "secret"}, {"display_name": ""}, {"display_name": "x" * 65},
    {"display_name": "   "}, {"display_name": "tab\there"}, {"display_name": None},
], ids=["unknown_email", "unknown_roles", "bad_visibility", "empty_name", "long_name",
        "blank_name", "control_character", "null_name"])
def test_bad_profile_edits_are_422_and_change_nothing(client, app, actors, body):
    citizen = actors.user("citizen", display_name="Cy")
    before = all_table_counts(app)
    assert_problem(client.patch(ME, json=body, headers=citizen.headers), 422)
    assert all_table_counts(app) == before
    with app.app_context():
        user = db.session.get(User, citizen.id)
        assert (user.display_name, user.leaderboard_visibility) == ("Cy", "named")
        db.session.remove()


def test_profile_edit_needs_a_signed_in_user(client):
    assert_problem(client.patch(ME, json={"display_name": "x"}), 401)
