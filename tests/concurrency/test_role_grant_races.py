"""Four-eyes role grants raced on real PostgreSQL: several admins approving one grant at once
take exactly one decision; an admin grant and an auditor grant for one person approved at once
never leave them holding both."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from carbon_credits.services import users
from models import RoleGrant, UserRole, db
from tests.concurrency.test_ledger_races import race, setup

pytestmark = pytest.mark.postgres


def make_user(*roles):
    from carbon_credits.services.auth import register_user
    return register_user(email=f"g-{uuid.uuid4().hex[:10]}@example.test", phone=None,
                         password="long enough pw", display_name="G", roles=roles or ("citizen",)).id


def ask(grantee, requester, roles):
    return [g.id for g in users.set_roles(user_id=grantee, roles=roles, partner_id=None,
                                          actor_user_id=requester).pending_grants]


def test_admins_approving_one_grant_at_once_take_exactly_one_decision(app):
    requester = setup(app, lambda: make_user("admin"))
    grantee = setup(app, make_user)
    deciders = [setup(app, lambda: make_user("admin")) for _ in range(6)]
    (grant_id,) = setup(app, lambda: ask(grantee, requester, ["citizen", "auditor"]))

    def work(i):
        if i % 3 == 2:
            return users.reject_role_grant(grant_id=grant_id, actor_user_id=deciders[i], note="no").status
        return users.approve_role_grant(grant_id=grant_id, actor_user_id=deciders[i]).status

    results = race(app, 6, work)
    assert [r for r in results if r[0] == "crashed"] == []
    decided = [r[1] for r in results if r[0] == "ok"]
    assert len(decided) == 1
    assert sorted(r[1] for r in results if r[0] == "refused") == ["role_grant_not_pending"] * 5

    def check():
        grant = db.session.get(RoleGrant, grant_id)
        roles = set(db.session.scalars(select(UserRole.role).where(UserRole.user_id == grantee)))
        return grant.status, roles

    status, roles = setup(app, check)
    assert status == decided[0]
    assert roles == ({"citizen", "auditor"} if status == "approved" else {"citizen"})


def test_admin_and_auditor_grants_approved_at_once_never_join(app):
    for _ in range(3):
        requester = setup(app, lambda: make_user("admin"))
        grantee = setup(app, make_user)
        deciders = [setup(app, lambda: make_user("admin")) for _ in range(2)]
        grants = setup(app, lambda: ask(grantee, requester, ["citizen", "auditor"]))
        grants += setup(app, lambda: _pending_admin_grant(grantee, requester))

        def work(i):
            return users.approve_role_grant(grant_id=grants[i], actor_user_id=deciders[i]).role

        results = race(app, 2, work)
        assert [r for r in results if r[0] == "crashed"] == []
        assert len([r for r in results if r[0] == "ok"]) == 1
        assert [r[1] for r in results if r[0] == "refused"] == ["conflicting_roles"]
        roles = setup(app, lambda: set(db.session.scalars(
            select(UserRole.role).where(UserRole.user_id == grantee))))
        assert len(roles & {"admin", "auditor"}) == 1


def _pending_admin_grant(grantee, requester):
    # set_roles cancels a pending grant no longer asked for, and refuses admin+auditor in one
    # request, so the second pending grant is written directly (two admins' requests, say).
    grant = RoleGrant(id=uuid.uuid4(), user_id=grantee, role="admin", status="pending",
                      requested_by=requester)
    db.session.add(grant)
    db.session.commit()
    return [grant.id]
