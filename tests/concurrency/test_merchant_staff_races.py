"""A merchant's staff managed by its leads, raced on real PostgreSQL: two leads acting on each
other at once never deadlock (both rows are locked in id order) and are both refused; a
suspension and a removal of one staff member at once leave one consistent outcome; an admin
unmaking a lead while the lead adds staff never lets the add through after the demotion."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from carbon_credits.services.rewards import staff as staff_service
from models import AuditEntry, User, db
from tests.concurrency.test_ledger_races import make_merchant, race, setup

pytestmark = pytest.mark.postgres


def make_staff(partner_id, *roles):
    from carbon_credits.services.auth import register_user
    return register_user(email=f"s-{uuid.uuid4().hex[:10]}@example.test", phone=None,
                         password="long enough pw", display_name="S",
                         roles=roles or ("merchant",), partner_id=partner_id).id


def _shop(app):
    admin = setup(app, lambda: make_staff(None, "admin"))
    partner = setup(app, make_merchant)
    leads = [setup(app, lambda: make_staff(partner)) for _ in range(2)]
    for lead in leads:
        setup(app, lambda: staff_service.set_merchant_lead(user_id=lead, lead=True,
                                                           actor_user_id=admin))
    return admin, partner, leads


def test_two_leads_suspending_each_other_at_once_never_deadlock(app):
    _, _, (first, second) = _shop(app)

    def work(i):
        lead, target = (first, second) if i % 2 else (second, first)
        return staff_service.set_staff_suspended(lead_user_id=lead, staff_user_id=target,
                                                 suspended=True).id

    results = race(app, 8, work)
    assert results == [("refused", "lead_managed_by_admin")] * 8
    assert setup(app, lambda: db.session.scalars(
        select(User.suspended_at).where(User.id.in_([first, second]))).all()) == [None, None]


def test_suspending_and_removing_one_member_at_once_leaves_one_outcome(app):
    for _ in range(3):
        _, partner, (lead, other_lead) = _shop(app)
        member = setup(app, lambda: make_staff(partner))

        def work(i):
            if i == 0:
                return staff_service.remove_merchant_staff(lead_user_id=lead,
                                                           staff_user_id=member) or "removed"
            return staff_service.set_staff_suspended(lead_user_id=other_lead,
                                                     staff_user_id=member,
                                                     suspended=True).is_suspended

        results = race(app, 2, work)
        assert not [r for r in results if r[0] == "crashed"], results
        user = setup(app, lambda: (lambda u: (sorted(u.role_names), u.partner_id,
                                              u.is_suspended))(db.session.get(User, member)))
        assert results[0] == ("ok", "removed") and user[:2] == ([], None)
        # Suspended first (then removed), or removed first (then unknown to the lead: 404).
        assert (results[1], user[2]) in ((("ok", True), True), (("refused", "not_found"), False))


def test_an_add_never_lands_after_the_lead_was_unmade(app):
    for _ in range(3):
        admin, partner, (lead, _) = _shop(app)
        email = f"new-{uuid.uuid4().hex[:8]}@example.test"

        def work(i):
            if i == 0:
                return staff_service.set_merchant_lead(user_id=lead, lead=False,
                                                       actor_user_id=admin).merchant_lead
            return staff_service.add_merchant_staff(lead_user_id=lead, email=email,
                                                    display_name="N",
                                                    password="long enough pw").email

        results = race(app, 2, work)
        assert results[0] == ("ok", False)
        assert results[1] in (("ok", email), ("refused", "lead_required"))

        def order():
            rows = db.session.execute(select(AuditEntry.action, AuditEntry.id).where(
                AuditEntry.action.in_(["merchant_staff.added", "user.merchant_lead_set"]),
                AuditEntry.actor_user_id.in_([lead, admin]))
                .order_by(AuditEntry.id)).all()
            return [action for action, _ in rows]

        actions = setup(app, order)
        if results[1][0] == "ok":  # the add committed before the demotion was written
            assert actions[-2:] == ["merchant_staff.added", "user.merchant_lead_set"]
        else:
            assert "merchant_staff.added" not in actions
