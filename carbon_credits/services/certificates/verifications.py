"""Third-party verification of a lot: a verifier signs a statement (a reproducible sample of the
lot's contributing actions, findings, opinion), and a lot's serials move only while its latest
statement is positive. See docs/certificates.md, section 7; the sample: domain/verification.py.

Lock order: the lot (as transfers and retirements take it), then the statement is written, so
a transfer and a statement on one lot never interleave: the transfer sees the latest statement
committed before it, and a statement signed after it locks the serials that are left."""
from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, select

from carbon_credits.domain import verification as rules
from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.vocabulary import VERIFICATION_OPINIONS
from carbon_credits.services.audit import record_audit
from carbon_credits.services.certificates.blocks import OBJECT_TYPE, lock_lot
from carbon_credits.services.certificates.lookup import get_lot_or_raise
from carbon_credits.services.duties import ensure_independent
from carbon_credits.services.pagination import descending_key_page
from carbon_credits.services.uow import unit_of_work
from models import CertificateLot, CertificateLotAction, CertificateLotVerification, db, utcnow

VERIFIER_ROLE = "verifier"


def _check_terms(seed: str | None, sample_size: int, opinion: str) -> None:
    """422 for a statement no verifier could sign, before anything is locked."""
    errors = {}
    if seed is not None and not rules.SEED_RE.match(seed):
        errors["seed"] = [f"1-{rules.SEED_MAX_LENGTH} printable ASCII characters, no spaces."]
    if not 1 <= sample_size <= rules.MAX_SAMPLE_SIZE:
        errors["sample_size"] = [f"Between 1 and {rules.MAX_SAMPLE_SIZE}."]
    if opinion not in VERIFICATION_OPINIONS:
        errors["opinion"] = [f"One of {', '.join(VERIFICATION_OPINIONS)}."]
    if errors:
        raise ValidationFailed("The verification statement is not valid.", errors=errors)


def _draw(lot: CertificateLot, seed: str, sample_size: int) -> list[str]:
    """The sample of the lot's contributing actions (422 `sample_too_large` if the lot has fewer
    actions than asked). Membership is fixed at issuance, so no lock is needed to read it."""
    action_ids = db.session.scalars(select(CertificateLotAction.action_id)
                                    .where(CertificateLotAction.lot_id == lot.id)).all()
    if sample_size > len(action_ids):
        raise ValidationFailed(
            f"The lot has {len(action_ids)} contributing actions; a sample of {sample_size} "
            "cannot be drawn from it.", code="sample_too_large",
            errors={"sample_size": [f"At most {len(action_ids)} for this lot."]})
    return rules.draw_sample(seed, action_ids, sample_size)


def sign_verification(*, lot_id: uuid.UUID, actor_user_id: uuid.UUID, sample_size: int,
                      findings: str, opinion: str, verifier_organisation: str,
                      report_reference: str, seed: str | None = None) -> CertificateLotVerification:
    """Record a verifier's signed statement on a lot: the sample drawn from `seed` (drawn by
    the server and recorded when not given), findings and opinion. The lot's issuer, or someone
    holding `verifier` through a grant the issuer requested or approved, may not sign (403
    `four_eyes`)."""
    _check_terms(seed, sample_size, opinion)
    with unit_of_work():
        lot = lock_lot(lot_id)
        ensure_independent(decider_id=actor_user_id, requester_ids=[lot.issued_by],
                           role=VERIFIER_ROLE, what="the issuance of this lot")
        drawn_by_server = seed is None
        seed = secrets.token_hex(16) if drawn_by_server else seed
        sample = _draw(lot, seed, sample_size)
        statement = CertificateLotVerification(
            lot_id=lot.id, seed=seed, seed_drawn_by_server=drawn_by_server,
            sample_method=rules.SAMPLE_METHOD, sample_size=sample_size, sampled_action_ids=sample,
            findings=findings, opinion=opinion, verifier_organisation=verifier_organisation,
            report_reference=report_reference, verifier_user_id=actor_user_id, signed_at=utcnow())
        db.session.add(statement)
        db.session.flush()
        record_audit(action="certificate.verification_signed", object_type=OBJECT_TYPE,
                     object_id=lot.id, actor_user_id=actor_user_id,
                     details={"statement_id": statement.id, "opinion": opinion, "seed": seed,
                              "seed_drawn_by_server": drawn_by_server,
                              "sample_method": rules.SAMPLE_METHOD, "sample_size": sample_size,
                              "verifier_organisation": verifier_organisation,
                              "report_reference": report_reference})
    return statement


def list_verifications(*, lot_id: uuid.UUID, after: tuple | None = None, limit: int = 50):
    """The lot's statements, newest first (keyset-paginated by id)."""
    get_lot_or_raise(lot_id)
    query = select(CertificateLotVerification).where(CertificateLotVerification.lot_id == lot_id)
    return descending_key_page(query, CertificateLotVerification.id, after=after, limit=limit)


def latest_verifications(lot_ids) -> dict[uuid.UUID, CertificateLotVerification]:
    """The latest statement of each of these lots that has one, in one query (a page of lots
    costs the same for one lot and for fifty)."""
    lot_ids = list(lot_ids)
    if not lot_ids:
        return {}
    latest = (select(func.max(CertificateLotVerification.id))
              .where(CertificateLotVerification.lot_id.in_(lot_ids))
              .group_by(CertificateLotVerification.lot_id))
    rows = db.session.scalars(select(CertificateLotVerification)
                              .where(CertificateLotVerification.id.in_(latest)))
    return {row.lot_id: row for row in rows}


def latest_verification(lot_id: uuid.UUID) -> CertificateLotVerification | None:
    return db.session.scalars(
        select(CertificateLotVerification).where(CertificateLotVerification.lot_id == lot_id)
        .order_by(CertificateLotVerification.id.desc()).limit(1)).first()


def refuse_unless_verified(lot: CertificateLot) -> None:
    """Asked by transfers and retirements under the lot's lock: 409 `lot_not_verified` unless
    the lot's latest statement is positive."""
    latest = latest_verification(lot.id)
    opinion = latest.opinion if latest is not None else None
    if rules.unlocks_moves(opinion):
        return
    why = ("it has no verification statement" if latest is None else
           f"its latest verification statement ({latest.id}, {latest.report_reference}) is "
           f"{opinion}")
    raise Conflict(f"Serials of lot {lot.id} move only after a positive third-party "
                   f"verification statement; {why}.", code="lot_not_verified")
