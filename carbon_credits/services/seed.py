"""`flask seed`: load reference data. Idempotent: running it twice changes nothing."""
from __future__ import annotations


def seed_all() -> list[str]:
    """Run every seeder; return one line per seeder saying what it did."""
    report: list[str] = []
    return report


def reset_hooks() -> list:
    """Callables the test harness runs after truncating tables (e.g. re-create system accounts)."""
    return []
