"""Partners: creation with a secret shown once, rotation with grace, signed-request checks."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from carbon_credits import kvstore
from carbon_credits.config import get_settings
from carbon_credits.domain import partners as rules
from carbon_credits.domain.regions import optional_region
from carbon_credits.domain.errors import (AuthenticationFailed, Conflict, NotFound, PermissionDenied,
                                          ValidationFailed)
from carbon_credits.domain.vocabulary import DATA_PARTNER_KINDS, PARTNER_KINDS
from carbon_credits.services import keys
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import Partner, PartnerScope, PartnerSecret, SeenSignature, db, utcnow

log = logging.getLogger(__name__)

# The signature rules live in the domain; these names stay importable from here.
SIGNATURE_RE = rules.SIGNATURE_RE
sign = rules.sign


@dataclasses.dataclass(frozen=True)
class IssuedSecret:
    partner: Partner
    secret: str


def _new_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def create_partner(*, name: str, kind: str, actor_user_id: uuid.UUID | None) -> IssuedSecret:
    if kind not in PARTNER_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(PARTNER_KINDS)}",
                               errors={"kind": ["Unknown partner kind."]})
    secret = _new_secret()
    now = utcnow()
    with unit_of_work():
        partner = Partner(name=name.strip(), kind=kind, key_id="pk_" + secrets.token_hex(10),
                          created_at=now)
        db.session.add(partner)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("A partner with this name already exists.", code="partner_exists") from None
        db.session.add(PartnerSecret(partner_id=partner.id, secret_encrypted=keys.encrypt(secret)))
        _open_scopes(partner.id, rules.scope_pairs(rules.DEFAULT_SCOPES[kind]), now)
        record_audit(action="partner.create", object_type="partner", object_id=partner.id,
                     actor_user_id=actor_user_id, details={"name": partner.name, "kind": kind})
    return IssuedSecret(partner=partner, secret=secret)


def get_partner_or_raise(partner_id: uuid.UUID) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("Partner not found.")
    return partner


def list_partners() -> list[Partner]:
    return list(db.session.scalars(select(Partner).order_by(Partner.created_at, Partner.id)))


# --- scopes: what a data partner may report ---------------------------------------------------

def _open_scopes(partner_id: uuid.UUID, pairs, now: dt.datetime) -> None:
    db.session.add_all(PartnerScope(partner_id=partner_id, action_type=action_type, mode=mode,
                                    valid_from=now) for action_type, mode in sorted(
                                        pairs, key=lambda p: (p[0], p[1] or "")))


def lock_partner(partner_id: uuid.UUID, *, exclusive: bool) -> Partner:
    """Lock the partner row: shared by record ingestion, exclusive for changes that decide where
    records go (scopes, binding confirmations and withdrawals). An ingest therefore sees either
    all of such a change or none of it, and its instant falls on one side of the change."""
    query = select(Partner).where(Partner.id == partner_id).execution_options(
        populate_existing=True)
    query = query.with_for_update(key_share=True) if exclusive else query.with_for_update(read=True)
    partner = db.session.execute(query).scalar_one_or_none()
    if partner is None:
        raise NotFound("Partner not found.")
    return partner


def scope_pairs_at(*, partner_id: uuid.UUID, at: dt.datetime) -> set[tuple[str, str | None]]:
    """The (action_type, mode) pairs a partner was allowed to report at `at`."""
    rows = db.session.execute(
        select(PartnerScope.action_type, PartnerScope.mode)
        .where(PartnerScope.partner_id == partner_id, PartnerScope.valid_from <= at,
               (PartnerScope.valid_until.is_(None)) | (PartnerScope.valid_until > at)))
    return {(r.action_type, r.mode) for r in rows}


def current_scope_pairs(partner: Partner) -> set[tuple[str, str | None]]:
    return {(s.action_type, s.mode) for s in partner.current_scopes}


def set_partner_scopes(*, partner_id: uuid.UUID, scopes: list[dict],
                       actor_user_id: uuid.UUID) -> Partner:
    """Replace what a partner may report; the rows in force end now and new ones start now."""
    with unit_of_work():
        partner = lock_partner(partner_id, exclusive=True)
        pairs = rules.validate_scopes(kind=partner.kind, scopes=scopes)
        before = current_scope_pairs(partner)
        if pairs != before:
            now = utcnow()
            for row in partner.current_scopes:
                row.valid_until = now
            db.session.flush()
            _open_scopes(partner.id, pairs, now)
            record_audit(action="partner.scopes", object_type="partner", object_id=partner.id,
                         actor_user_id=actor_user_id,
                         details={"before": rules.scopes_from_pairs(before),
                                  "after": rules.scopes_from_pairs(pairs)})
    db.session.expire(partner, ["current_scopes"])
    return partner


def update_partner(*, partner_id: uuid.UUID, changes: dict, actor_user_id: uuid.UUID) -> Partner:
    """PATCH a partner: `scopes` (see `set_partner_scopes`) and/or `region` (its district, None:
    city-wide; records received from now on count there), in one transaction."""
    if not changes:
        raise ValidationFailed("Send scopes, region or both.",
                               errors={"scopes": ["Send scopes, region or both."]})
    region = optional_region(changes["region"]) if "region" in changes else None
    with unit_of_work():
        partner = lock_partner(partner_id, exclusive=True)
        if "scopes" in changes:
            set_partner_scopes(partner_id=partner_id, scopes=changes["scopes"],
                               actor_user_id=actor_user_id)
        if "region" in changes and region != partner.region:
            record_audit(action="partner.region", object_type="partner", object_id=partner.id,
                         actor_user_id=actor_user_id,
                         details={"before": partner.region, "after": region})
            partner.region = region
    return partner


def require_data_partner(partner: Partner) -> None:
    """Only transit, charging and recycling operators send records or confirm bindings."""
    if partner.kind not in DATA_PARTNER_KINDS:
        raise PermissionDenied(f"A {partner.kind} cannot report actions or confirm bindings.",
                               code="partner_cannot_report")


def rotate_secret(*, partner_id: uuid.UUID, actor_user_id: uuid.UUID) -> IssuedSecret:
    """Issue a new secret; current ones stay valid for the grace period, then stop."""
    secret = _new_secret()
    now = utcnow()
    grace_until = now + dt.timedelta(hours=get_settings().partner_secret_grace_hours)
    with unit_of_work():
        partner = db.session.execute(select(Partner).where(Partner.id == partner_id)
                                     .with_for_update()).scalar_one_or_none()
        if partner is None:
            raise NotFound("Partner not found.")
        for old in partner.secrets:
            if old.expires_at is None or old.expires_at > grace_until:
                old.expires_at = grace_until
        db.session.add(PartnerSecret(partner_id=partner.id, secret_encrypted=keys.encrypt(secret),
                                     created_at=now))
        record_audit(action="partner.rotate_secret", object_type="partner", object_id=partner.id,
                     actor_user_id=actor_user_id,
                     details={"old_secrets_valid_until": grace_until.isoformat()})
    db.session.expire(partner, ["secrets"])
    return IssuedSecret(partner=partner, secret=secret)


def set_partner_suspended(*, partner_id: uuid.UUID, suspended: bool,
                          actor_user_id: uuid.UUID) -> Partner:
    with unit_of_work():
        partner = get_partner_or_raise(partner_id)
        partner.suspended_at = utcnow() if suspended else None
        record_audit(action="partner.suspended" if suspended else "partner.reinstated",
                     object_type="partner", object_id=partner.id, actor_user_id=actor_user_id)
    return partner


def _replay_key(signature_hex: str) -> str:
    return f"cc:sig:{signature_hex}"


def verify_signed_request(*, key_id: str | None, timestamp: str | None, signature: str | None,
                          raw_body: bytes, now: dt.datetime | None = None) -> Partner:
    """Authenticate a partner request; every failure is the same kind of 401 with a reason code."""
    now = now or utcnow()
    signature_hex = rules.check_signature_headers(key_id=key_id, timestamp=timestamp,
                                                  signature=signature)
    rules.check_signature_window(timestamp=timestamp, now=now,
                                 tolerance_seconds=get_settings().signature_tolerance_seconds)
    partner = _signing_partner(key_id=key_id, timestamp=timestamp, signature=signature,
                               raw_body=raw_body, now=now)
    if partner.suspended_at is not None:
        raise AuthenticationFailed("This partner is suspended.", code="partner_suspended")
    _remember_signature(signature_hex, now)
    return partner


def _signing_partner(*, key_id: str, timestamp: str, signature: str, raw_body: bytes,
                     now: dt.datetime) -> Partner:
    """The partner whose secret in force made the signature. An unknown key and a wrong
    signature are one answer, and cost the same HMAC work."""
    partner = db.session.scalars(select(Partner).where(Partner.key_id == key_id)).one_or_none()
    valid_secrets = [] if partner is None else [
        keys.decrypt(s.secret_encrypted) for s in partner.secrets
        if rules.secret_in_force(s.expires_at, now)]
    ok = rules.signature_matches_any(valid_secrets, timestamp=timestamp, raw_body=raw_body,
                                     signature=signature)
    if partner is None or not ok:
        raise AuthenticationFailed("The request signature is not valid.", code="signature_invalid")
    return partner


def _remember_signature(signature_hex: str, now: dt.datetime) -> None:
    """Refuse a signature seen before. Redis where configured; otherwise the database row is
    written in the request's own transaction (so a failed request does not burn it)."""
    ttl = 2 * get_settings().signature_tolerance_seconds
    store = kvstore.get_store()
    if kvstore.is_redis():
        try:
            if not store.set(_replay_key(signature_hex), "1", ex=ttl, nx=True):
                raise AuthenticationFailed("This signature was already used.", code="signature_replayed")
            return
        except kvstore.RedisError:
            log.warning("Redis unavailable for replay protection; using the database")
    if db.session.get(SeenSignature, signature_hex) is not None:
        raise AuthenticationFailed("This signature was already used.", code="signature_replayed")
    try:
        with db.session.begin_nested():
            db.session.add(SeenSignature(signature=signature_hex,
                                         expires_at=now + dt.timedelta(seconds=ttl)))
    except IntegrityError:
        raise AuthenticationFailed("This signature was already used.", code="signature_replayed") from None


def forget_signature(signature: str | None) -> None:
    """A request that failed after its signature was accepted leaves no Redis key behind."""
    match = SIGNATURE_RE.match(signature or "")
    if match and kvstore.is_redis():
        try:
            kvstore.get_store().delete(_replay_key(match.group(1)))
        except kvstore.RedisError:
            pass
