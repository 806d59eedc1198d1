"""The registry's invariants, checked by `verify` (and after every test)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES
from carbon_credits.services.methodologies.calculation import definition_of
from models import Methodology, MethodologyVersion, db


def check_methodology_invariants() -> list[str]:
    """No two versions in force for one scope at the same instant; approved content parses."""
    problems: list[str] = []
    rows = list(db.session.execute(
        select(Methodology.scope_key, Methodology.code, MethodologyVersion)
        .join(MethodologyVersion.methodology)
        .where(MethodologyVersion.status.in_(IN_FORCE_STATUSES))
        .order_by(Methodology.scope_key, MethodologyVersion.effective_from)))
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    previous: dict[str, tuple[str, MethodologyVersion]] = {}
    for scope, code, row in rows:
        end = row.effective_until or far
        if end <= row.effective_from:
            continue
        before = previous.get(scope)
        if before is not None and (before[1].effective_until or far) > row.effective_from:
            problems.append(f"methodology scope {scope}: {before[0]} v{before[1].version} and "
                            f"{code} v{row.version} are in force at the same time")
        if before is None or (before[1].effective_until or far) < end:
            previous[scope] = (code, row)
        try:
            definition_of(row)
        except ValidationFailed as error:
            problems.append(f"methodology {code} v{row.version}: content invalid: {error.detail}")
    return problems
