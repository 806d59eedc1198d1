"""Row locks of the registry's writes, in the one lock order every writer follows: the scope's
methodology rows (by id), then the methodology, then the version."""
from __future__ import annotations

from sqlalchemy import select

from carbon_credits.domain.errors import NotFound
from models import Methodology, MethodologyVersion, db


def lock_scope(scope: str) -> None:
    """Serialise approvals per scope: lock every methodology row of the scope, in id order."""
    db.session.execute(select(Methodology.id).where(Methodology.scope_key == scope)
                       .order_by(Methodology.id).with_for_update()).all()


def lock_methodology(code: str) -> Methodology:
    methodology = db.session.scalars(
        select(Methodology).where(Methodology.code == code).with_for_update()
        .execution_options(populate_existing=True)).one_or_none()
    if methodology is None:
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    return methodology


def lock_version(methodology: Methodology, number: int) -> MethodologyVersion:
    version = db.session.scalars(
        select(MethodologyVersion).where(MethodologyVersion.methodology_id == methodology.id,
                                         MethodologyVersion.version == number)
        .with_for_update(of=MethodologyVersion).execution_options(populate_existing=True)
    ).one_or_none()
    if version is None:
        raise NotFound(f"Methodology {methodology.code} has no version {number}.",
                       code="methodology_version_not_found")
    return version


def scope_of_or_raise(code: str) -> str:
    """The scope key of a methodology code (read before its scope is locked)."""
    scope = db.session.scalar(select(Methodology.scope_key).where(Methodology.code == code))
    if scope is None:
        raise NotFound(f"Methodology {code} not found.", code="methodology_not_found")
    return scope
