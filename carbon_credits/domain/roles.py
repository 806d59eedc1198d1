"""Pure rules of a role change (docs/roles.md): which roles may be asked for, which apply at
once and which wait for a second admin (four-eyes grants of admin, auditor and verifier)."""
from __future__ import annotations

import dataclasses
from typing import Iterable

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import PRIVILEGED_ROLES, ROLES


class AccountState:
    """What a user's columns say about the account, for the ORM model and for the plain value
    authentication hands the HTTP layer: both have `role_names`, `suspended_at`, `verified_at`
    and `erased_at`."""

    @property
    def sorted_roles(self) -> list[str]:
        return sorted(self.role_names)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None


@dataclasses.dataclass(frozen=True)
class RolePlan:
    """What setting a user's roles to `wanted` does, given the roles they hold."""

    now: frozenset[str]        # the roles held once the change is made
    to_grant: frozenset[str]   # privileged roles asked for: pending grants, not held yet


def requested_roles(roles: Iterable[str]) -> set[str]:
    """The asked-for roles as a set: a non-empty subset of ROLES, else ValidationFailed."""
    roles = list(roles)
    if set(roles) - set(ROLES) or not roles:
        raise ValidationFailed("roles must be a non-empty subset of " + ", ".join(ROLES),
                               errors={"roles": ["Unknown or empty role list."]})
    return set(roles)


def plan_role_change(*, wanted: set[str], current: set[str]) -> RolePlan:
    """Removals and citizen/merchant additions apply at once; admin, auditor or verifier not
    yet held wait for a grant (a privileged role already held is simply kept)."""
    to_grant = (wanted - current) & set(PRIVILEGED_ROLES)
    return RolePlan(now=frozenset(wanted - to_grant), to_grant=frozenset(to_grant))
