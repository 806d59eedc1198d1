"""System-wide invariant checks (`flask ledger verify`, the admin verify endpoint, test teardown).

Each checker returns a list of problem strings; modules register theirs in CHECKERS.
"""
from __future__ import annotations

from typing import Callable

CHECKERS: list[Callable[[], list[str]]] = []


def check_ledger() -> list[str]:
    """The points ledger: double entry, balances, holds, lots, reversals, hash chain."""
    from carbon_credits.services.ledger import verify_ledger
    return verify_ledger().problems


CHECKERS.append(check_ledger)


def check_methodologies() -> list[str]:
    """The methodology registry: one version in force per scope at any instant."""
    from carbon_credits.services.methodologies import check_methodology_invariants
    return check_methodology_invariants()


CHECKERS.append(check_methodologies)


def check_certificates() -> list[str]:
    """The certified-reduction registry: issued <= verified, one lot per action, serials."""
    from carbon_credits.services.certificates import check_registry_invariants
    return check_registry_invariants()


CHECKERS.append(check_certificates)


def check_adjustments() -> list[str]:
    """Manual corrections: every adjustment transfer came from a request approved by someone
    other than its requester, for the points it asked for."""
    from carbon_credits.services.adjustments import check_adjustment_invariants
    return check_adjustment_invariants()


CHECKERS.append(check_adjustments)


def check_partner_records() -> list[str]:
    """The partner channel: each credited record was within the partner's scopes when received
    and came through a binding of the same citizen that could receive it, with consent."""
    from carbon_credits.services.bindings import check_partner_record_invariants
    return check_partner_record_invariants()


CHECKERS.append(check_partner_records)


def verify_all() -> list[str]:
    problems: list[str] = []
    for check in CHECKERS:
        problems.extend(check())
    return problems
