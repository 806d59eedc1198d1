"""Looking a voucher up before confirming it (POST /api/v1/merchant/redemptions/lookup): the
merchant's own vouchers only, the holder masked, why a voucher cannot be confirmed, and nothing
changed by looking."""
from __future__ import annotations

import pytest

from carbon_credits.domain import vouchers
from tests.conftest import all_table_counts, assert_problem
from tests.rewards_support import (CONFIRM, REDEMPTIONS, backdate_reservations, create_reward,
                                   give_points, merchant)

LOOKUP = "/api/v1/merchant/redemptions/lookup"


def _voucher(client, actors, app, staff, *, name="王芳", **reward):
    """A citizen called `name` holding a fresh voucher of one of `staff`'s rewards."""
    citizen = actors.user("citizen", display_name=name)
    give_points(app, [citizen.id], 1000)
    made = create_reward(client, staff, **{"title": "Oat latte", "points_cost": 120, **reward})
    r = client.post(REDEMPTIONS, json={"reward_id": made["id"]}, headers=citizen.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return citizen, r.json


def lookup(client, staff, code):
    return client.post(LOOKUP, json={"voucher_code": code}, headers=staff.headers)


def test_own_voucher_is_found_with_the_holder_masked(client, actors, app):
    _, staff = merchant(actors)
    citizen, voucher = _voucher(client, actors, app, staff)
    before = all_table_counts(app)

    typed = voucher["voucher_code"].replace("-", " ").lower()  # as staff type it
    r = lookup(client, staff, typed)

    assert r.status_code == 200, r.json
    body = r.json
    assert body["voucher_code"] == voucher["voucher_code"] and body["id"] == voucher["id"]
    assert body["reward_title"] == "Oat latte" and body["points"] == 120
    assert body["status"] == "reserved" and body["holder"] == "王**"
    assert body["expires_at"] == voucher["expires_at"] and body["redeemed_at"] is None
    assert body["confirmable"] is True and body["refusal_code"] is None
    text = r.get_data(as_text=True)
    assert citizen.email not in text and str(citizen.id) not in text and "王芳" not in text
    assert all_table_counts(app) == before  # looking changes nothing


def test_lookup_tells_why_a_voucher_cannot_be_confirmed(client, actors, app):
    _, staff = merchant(actors)
    _, redeemed = _voucher(client, actors, app, staff, name="Li Lei")
    assert client.post(CONFIRM, json={"voucher_code": redeemed["voucher_code"]},
                       headers=staff.headers).status_code == 200
    owner, cancelled = _voucher(client, actors, app, staff)
    assert client.post(f"{REDEMPTIONS}/{cancelled['id']}/cancel",
                       headers=owner.headers).status_code == 200

    done = lookup(client, staff, redeemed["voucher_code"]).json
    assert done["status"] == "redeemed" and done["redeemed_at"] and done["holder"] == "L**"
    assert done["confirmable"] is False and done["refusal_code"] == "already_redeemed"
    gone = lookup(client, staff, cancelled["voucher_code"]).json
    assert gone["status"] == "cancelled" and gone["refusal_code"] == "voucher_cancelled"
    assert gone["refusal_detail"] == "This voucher was cancelled."


def test_an_overdue_reservation_is_expired_before_the_job_marks_it(client, actors, app):
    from carbon_credits.services.rewards import release_expired_reservations
    _, staff = merchant(actors)
    _, voucher = _voucher(client, actors, app, staff)
    backdate_reservations(app)

    overdue = lookup(client, staff, voucher["voucher_code"]).json
    assert overdue["status"] == "reserved"  # the stored status, until the expiry job runs
    assert overdue["confirmable"] is False and overdue["refusal_code"] == "voucher_expired"
    assert_problem(client.post(CONFIRM, json={"voucher_code": voucher["voucher_code"]},
                               headers=staff.headers), 409, "voucher_expired")  # agrees
    with app.app_context():
        assert release_expired_reservations() == 1
    expired = lookup(client, staff, voucher["voucher_code"]).json
    assert expired["status"] == "expired" and expired["refusal_code"] == "voucher_expired"


def test_another_merchants_or_an_unknown_voucher_is_404(client, actors, app):
    _, staff = merchant(actors)
    _, other_staff = merchant(actors)
    _, voucher = _voucher(client, actors, app, staff)
    before = all_table_counts(app)
    assert_problem(lookup(client, other_staff, voucher["voucher_code"]), 404, "voucher_not_found")
    unknown = vouchers.display(vouchers.new_code())
    assert_problem(lookup(client, staff, unknown), 404, "voucher_not_found")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("bad", ["", "ABCDE", "ABCDE-1234U", "ABCDE-12345-67890-ABCDE-12345-XYZ",
                                 12345, None])
def test_a_malformed_code_is_422(client, actors, app, bad):
    _, staff = merchant(actors)
    before = all_table_counts(app)
    body = assert_problem(lookup(client, staff, bad), 422, "validation")
    assert "voucher_code" in body["errors"]
    assert all_table_counts(app) == before


def test_the_service_refuses_a_malformed_code_too(app, actors):
    from carbon_credits.domain.errors import ValidationFailed
    from carbon_credits.services.rewards.lookup import lookup_voucher
    from models import User, db
    _, staff = merchant(actors)
    with app.app_context():
        with pytest.raises(ValidationFailed):
            lookup_voucher(voucher_code="not a code", merchant_user=db.session.get(User, staff.id))
        db.session.remove()


def test_only_a_merchants_staff_may_look_up(client, actors, app):
    _, staff = merchant(actors)
    _, voucher = _voucher(client, actors, app, staff)
    people = actors.one_of_each_role()
    unbound = actors.user("merchant")  # the role, but no merchant partner
    before = all_table_counts(app)
    for role in ("citizen", "admin", "auditor"):
        assert_problem(lookup(client, people[role], voucher["voucher_code"]), 403)
    assert_problem(lookup(client, unbound, voucher["voucher_code"]), 403, "merchant_unbound")
    assert_problem(client.post(LOOKUP, json={"voucher_code": voucher["voucher_code"]}), 401)
    assert all_table_counts(app) == before


def test_the_code_travels_in_the_body_never_the_url(client, actors):
    _, staff = merchant(actors)
    r = client.get(f"{LOOKUP}?voucher_code=ABCDE-12345", headers=staff.headers)
    assert_problem(r, 405)


def test_the_lookup_is_documented_in_the_openapi(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/merchant/redemptions/lookup"]["post"]
    assert operation["x-roles"] == ["merchant"]
    assert operation["summary"].startswith("Look up one of my merchant's vouchers")
    assert "50 bits" in operation["description"] and "404" in operation["description"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    assert example == {"voucher_code": "ABCDE-12345"}
    shown = operation["responses"]["200"]["content"]["application/json"]
    assert shown["example"]["holder"] == "王**"


@pytest.mark.parametrize("name, masked", [("王芳", "王**"), ("Li Lei", "L**"), ("", "**"),
                                          (None, "**")])
def test_a_holder_is_shown_as_an_initial_and_two_stars(name, masked):
    from carbon_credits.services.rewards.lookup import mask_holder
    assert mask_holder(name) == masked


def test_codes_have_fifty_bits():
    # The docstring's claim, kept true: 10 symbols of a 32-letter alphabet.
    assert vouchers.LENGTH == 10 and len(vouchers.ALPHABET) == 32
    assert len(vouchers.ALPHABET) ** vouchers.LENGTH == 2 ** 50
