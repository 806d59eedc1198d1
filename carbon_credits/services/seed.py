"""`flask seed`: load reference data. Idempotent: running it twice changes nothing."""
from __future__ import annotations


def seed_all() -> list[str]:
    """Run every seeder; return one line per seeder saying what it did."""
    report: list[str] = []
    from carbon_credits.services.methodologies import seed_methodologies
    report.append(seed_methodologies())
    return report


def reset_hooks() -> list:
    """Callables the test harness runs after truncating tables (e.g. re-create system accounts)."""
    from carbon_credits.services.ledger import forget_system_accounts
    from carbon_credits.services.methodologies import in_force
    return [forget_system_accounts, in_force.forget]
