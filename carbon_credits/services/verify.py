"""System-wide invariant checks (`flask ledger verify`, the admin verify endpoint, test teardown).

Each checker returns a list of problem strings. `CHECKERS` lists them all, here and nowhere
else: a new aggregate with invariants adds its checker to this list.
"""
from __future__ import annotations

from typing import Callable

from carbon_credits.services.adjustments import check_adjustment_invariants
from carbon_credits.services.bindings import check_partner_record_invariants
from carbon_credits.services.certificates import (check_registry_invariants,
                                                  check_retirement_certificates)
from carbon_credits.services.certificates.manifests import check_manifests
from carbon_credits.services.events import check_event_invariants
from carbon_credits.services.ledger import VerifyReport, verify_ledger
from carbon_credits.services.ledger.heads import check_signed_heads
from carbon_credits.services.methodologies import check_methodology_invariants
from carbon_credits.services.partitions import check_keys
from carbon_credits.services.rewards import check_rewards


def check_ledger() -> list[str]:
    """The points ledger: double entry, balances, holds, lots, reversals, hash chain."""
    return verify_ledger().problems


CHECKERS: tuple[Callable[[], list[str]], ...] = (
    check_ledger,
    # The methodology registry: one version in force per scope at any instant.
    check_methodology_invariants,
    # The certified-reduction registry: issued <= verified, one lot per action, serials.
    check_registry_invariants,
    # Retirement certificates: each retirement on exactly one certificate, which names its
    # blocks, beneficiary, purpose and quantity as they were retired.
    check_retirement_certificates,
    # Published proofs: every signed chain head names a link the chain still holds, and every
    # lot's Merkle root still matches its membership (docs/verification.md).
    check_signed_heads,
    check_manifests,
    # Carbon-neutral events: each retirement counted for an event is a retired block of the
    # event's buyer, for the grams of its serials.
    check_event_invariants,
    # Manual corrections: every adjustment transfer came from a request approved by someone
    # other than its requester, for the points it asked for.
    check_adjustment_invariants,
    # The partner channel: each credited record was within the partner's scopes when received
    # and came through a binding of the same citizen that could receive it, with consent.
    check_partner_record_invariants,
    # Rewards: stock, claim counters and voucher holds agree with the ledger.
    check_rewards,
    # What must be unique across months: every action and transfer has its key row.
    check_keys,
)


def verify_all() -> list[str]:
    problems: list[str] = []
    for check in CHECKERS:
        problems.extend(check())
    return problems


def verify_system() -> VerifyReport:
    """The ledger's report (entries checked, seals, chain head) carrying every checker's
    problems: what `ledger verify` prints and the admin verify endpoint returns."""
    report = verify_ledger()
    for check in CHECKERS:
        if check is not check_ledger:
            report.problems.extend(check())
    report.ok = not report.problems
    return report
