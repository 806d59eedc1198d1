"""Separation of duties: who may hold which roles together, and who may decide whose request.

An account holds at most one of admin, auditor and verifier (PRIVILEGED_ROLES).

One rule for every four-eyes decision (methodology approval, adjustment approval, role-grant
approval, approval of a retirement that would stop a scope crediting, a verifier's statement on
a lot, whose issuer counts as the requester): the decider must be independent of the requesters. Not independent
means being one of them, or holding the role used for the decision through a grant
(`role_grants`) that one of them requested or approved, so that one admin cannot manufacture
their own second pair of eyes. See docs/roles.md.

Functions here join the caller's unit of work; they never commit.
"""
from __future__ import annotations

import uuid
from typing import Iterable

from sqlalchemy import or_, select

from carbon_credits.domain.errors import Conflict, PermissionDenied, ValidationFailed
from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES
from models import RoleGrant, db

CONFLICTING_ROLES_DETAIL = ("No account may hold admin and auditor, nor verifier with either: the "
                            "people who run the scheme are not the people who check it, and the "
                            "third party who verifies its lots is independent of both.")


def holds_conflicting_roles(roles: Iterable[str]) -> bool:
    """More than one of the privileged roles (admin, auditor, verifier)."""
    return len(set(PRIVILEGED_ROLES) & set(roles)) > 1


def refuse_conflicting_roles(roles: Iterable[str], *, field: str = "roles") -> None:
    """A request asking for two privileged roles together is invalid (422 `conflicting_roles`)."""
    if holds_conflicting_roles(roles):
        raise ValidationFailed(CONFLICTING_ROLES_DETAIL, code="conflicting_roles",
                               errors={field: ["Only one of admin, auditor and verifier can be "
                                               "held."]})


def conflicting_roles_conflict() -> Conflict:
    """The same rule met by a change of state (a grant approved after another role): 409."""
    return Conflict(CONFLICTING_ROLES_DETAIL, code="conflicting_roles")


def ensure_independent(*, decider_id: uuid.UUID, requester_ids: Iterable[uuid.UUID | None],
                       role: str | Iterable[str], what: str = "this request") -> None:
    """Refuse (403 `four_eyes`) a decider who is a requester, or who holds `role` (one role or
    several) through an approved grant that a requester requested or approved. Conservative on
    purpose: any such grant counts, even if the role was later removed and given again."""
    requesters = {r for r in requester_ids if r is not None}
    if decider_id in requesters:
        raise PermissionDenied(f"You asked for {what}; someone independent of you must decide it.",
                               code="four_eyes")
    if not requesters:
        return
    roles = (role,) if isinstance(role, str) else tuple(role)
    tainted = db.session.scalar(
        select(RoleGrant.id)
        .where(RoleGrant.user_id == decider_id, RoleGrant.role.in_(roles),
               RoleGrant.status == "approved",
               or_(RoleGrant.requested_by.in_(requesters), RoleGrant.decided_by.in_(requesters)))
        .limit(1))
    if tainted is not None:
        raise PermissionDenied(
            f"You hold your {'/'.join(roles)} role through a grant that a requester of {what} "
            "requested or approved; someone independent of them must decide it.",
            code="four_eyes")
