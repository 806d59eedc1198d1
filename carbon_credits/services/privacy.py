"""Personal-data rights (PIPL art. 44-47): the export of everything held about a citizen,
erasure, and the retention job. What is kept, removed and why: docs/privacy.md.

The export is a generator of JSON text read from one snapshot (REPEATABLE READ, read only, on
PostgreSQL; a deferred transaction on SQLite in WAL mode), table by table in pages, so memory
stays flat however long the history. Erasure is one unit of work; the actions and the ledger
stay whole (they point at the erased row), the balance leaves by a `forfeit` transfer.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import logging
import secrets
import uuid
from typing import Iterator

from sqlalchemy import Select, delete, or_, select, update

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import Conflict, NotFound, PermissionDenied
from carbon_credits.services import keys, ledger, receipts, rewards, signing, throttle
from carbon_credits.services import methodologies as methodology_service
from carbon_credits.services import notifications as notification_service
from carbon_credits.services.audit import record_audit
from carbon_credits.services.households.membership import leave_on_erasure
from carbon_credits.services.leaderboards import leaderboard_pseudonym
from carbon_credits.services.partners import lock_partner
from carbon_credits.services.passwords import verify_password
from carbon_credits.services.sessions import revoke_user_sessions
from carbon_credits.services.uow import unit_of_work
from models import (Action, AuditEntry, AuthSession, Binding, Campaign, CampaignClaim,
                    CheckIn, Donation, Household,
                    HouseholdMember, PublicProject,
                    LedgerAccount, LedgerAdjustment,
                    LedgerTransfer, OneTimeCode, Partner, Redemption, RefreshToken,
                    RevokedAccessToken, Reward, RoleGrant, ThrottleCounter, User, UserRegion, db,
                    utcnow)
from carbon_credits.domain.vocabulary import STAFF_ROLES

log = logging.getLogger(__name__)

EXPORT_FORMAT = "carbon-credits-personal-data/1"
EXPORT_PAGE = 500
_FLUSH_CHARS = 64 * 1024
# Secrets and keyed hashes: held, but of no use to the person and dangerous to hand out.
_NEVER_EXPORTED = {"password_hash", "code_hash", "new_password_hash", "confirmation_code_hash",
                   "external_ref_hash", "family_id"}
# No password verifies against this (not an argon2 hash); login with it fails like any other.
ERASED_PASSWORD_HASH = "!erased"  # nosec B105
ERASED_REF_HINT = "erased"
# One-time codes are deleted this long after they expired or were used.
CODE_GRACE = dt.timedelta(days=1)
PURGE_BATCH = 1000


def erased_display_name(user_id: uuid.UUID) -> str:
    """What an erased account is called where a name must appear: a keyed hash of its id."""
    return "Erased user " + keys.keyed_hash("erased-names", str(user_id))[:8]


# ---------------------------------------------------------------------------------------------
# Export


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(value) -> str:
    return json.dumps(value, default=_jsonable, ensure_ascii=False, separators=(",", ":"))


def _row(row) -> dict:
    return {key: value for key, value in row._mapping.items() if key not in _NEVER_EXPORTED}


def _snapshot_options() -> dict:
    if db.session.get_bind().dialect.name == "postgresql":
        return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    return {"read_snapshot": True}


def _sections(user_id: uuid.UUID, account_id: int | None):
    """(name, query or rows, row -> dict) for each list in the export, in order."""
    actions = Action.__table__
    yield "bindings", (select(Binding.__table__, Partner.name.label("partner_name"))
                       .join(Partner, Partner.id == Binding.partner_id)
                       .where(Binding.user_id == user_id)
                       .order_by(Binding.created_at, Binding.id)), _row
    yield "household_memberships", (
        select(HouseholdMember.__table__, Household.name.label("household_name"))
        .join(Household, Household.id == HouseholdMember.household_id)
        .where(HouseholdMember.user_id == user_id)
        .order_by(HouseholdMember.joined_at, HouseholdMember.id)), _row

    def action(row) -> dict:  # the breakdown as computed, not as compactly stored
        return {**_row(row), "breakdown": methodology_service.full_breakdown(
            row.methodology_version_id, row.breakdown)}
    yield "actions", (select(actions).where(actions.c.user_id == user_id)
                      .order_by(actions.c.created_at, actions.c.id)), action
    if account_id is not None:
        transfers = LedgerTransfer.__table__

        def entry(row) -> dict:
            shown = _row(row)
            shown["change"] = (row.amount if row.credit_account_id == account_id
                               else -row.amount if row.debit_account_id == account_id else 0)
            return shown
        yield "statement", (select(transfers).where(transfers.c.citizen_account_id == account_id)
                            .order_by(transfers.c.seq)), entry
    else:
        yield "statement", None, _row
    # Built and signed page by page (docs/verification.md, section 5), not a single query.
    yield "receipts", receipts.user_receipts(user_id), (
        lambda receipt: {"action_id": receipt.action_id, "document": receipt.document})
    yield "redemptions", (select(Redemption.__table__, Reward.title.label("reward_title"))
                          .join(Reward, Reward.id == Redemption.reward_id)
                          .where(Redemption.user_id == user_id)
                          .order_by(Redemption.reserved_at, Redemption.id)), _row
    yield "donations", (select(Donation.__table__, PublicProject.name.label("project_name"))
                        .join(PublicProject, PublicProject.id == Donation.project_id)
                        .where(Donation.user_id == user_id)
                        .order_by(Donation.created_at, Donation.id)), _row
    yield from _engagement_sections(user_id)
    yield "adjustments", (select(LedgerAdjustment.__table__)
                          .where(LedgerAdjustment.user_id == user_id)
                          .order_by(LedgerAdjustment.requested_at, LedgerAdjustment.id)), _row
    yield "region_history", (select(UserRegion.__table__).where(UserRegion.user_id == user_id)
                             .order_by(UserRegion.valid_from, UserRegion.id)), _row
    yield "notifications", notification_service.export_query(user_id), _row
    yield "role_grants", (select(RoleGrant.__table__).where(RoleGrant.user_id == user_id)
                          .order_by(RoleGrant.requested_at, RoleGrant.id)), _row
    yield "sessions", (select(AuthSession.__table__).where(AuthSession.user_id == user_id)
                       .order_by(AuthSession.created_at, AuthSession.id)), _row
    yield "one_time_codes", (select(OneTimeCode.__table__).where(OneTimeCode.user_id == user_id)
                             .order_by(OneTimeCode.created_at, OneTimeCode.id)), _row
    audit = AuditEntry.__table__
    yield "audit_entries", (select(audit).where(or_(
        audit.c.actor_user_id == user_id,
        (audit.c.object_type == "user") & (audit.c.object_id == str(user_id))))
        .order_by(audit.c.id)), _row


def _engagement_sections(user_id: uuid.UUID):
    """The citizen's campaign claims and check-ins (docs/engagement.md)."""
    yield "campaign_claims", (select(CampaignClaim.__table__, Campaign.title.label("campaign_title"))
                              .join(Campaign, Campaign.id == CampaignClaim.campaign_id)
                              .where(CampaignClaim.user_id == user_id)
                              .order_by(CampaignClaim.created_at, CampaignClaim.id)), _row
    yield "check_ins", (select(CheckIn.__table__).where(CheckIn.user_id == user_id)
                        .order_by(CheckIn.day)), _row


def _profile(user: User, account) -> dict:
    return {
        "id": user.id, "email": user.email, "phone": user.phone,
        "display_name": user.display_name, "roles": user.sorted_roles,
        "partner_id": user.partner_id, "created_at": user.created_at,
        "verified_at": user.verified_at, "suspended_at": user.suspended_at,
        "erased_at": user.erased_at, "leaderboard_visibility": user.leaderboard_visibility,
        "region": user.region, "region_since": user.region_since,
        "leaderboard_pseudonym": leaderboard_pseudonym(user.id),
        "points": {"balance": account.balance if account else 0,
                   "reserved": account.reserved if account else 0},
    }


def _rows(source):
    """A section's rows: a query read `EXPORT_PAGE` at a time, or rows the section pages itself."""
    if source is None:
        return ()
    if isinstance(source, Select):
        return db.session.execute(source.execution_options(yield_per=EXPORT_PAGE))
    return source


def export_personal_data(*, user_id: uuid.UUID, now: dt.datetime | None = None) -> Iterator[str]:
    """Everything held about the citizen as one JSON document, yielded in chunks from one
    consistent snapshot; rows are read `EXPORT_PAGE` at a time."""
    # The receipts are signed inside the read-only snapshot: the first key of a new deployment
    # is created (and committed) before it starts.
    signing.active_key()
    db.session.rollback()  # end the request's transaction: the export reads its own snapshot
    db.session.connection(execution_options=_snapshot_options())
    try:
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None:
            raise NotFound("User not found.")
        account = db.session.execute(select(LedgerAccount.__table__)
                                     .where(LedgerAccount.user_id == user_id)).first()
        buffer = [f'{{"format":{_dumps(EXPORT_FORMAT)},'
                  f'"exported_at":{_dumps(now or utcnow())},'
                  f'"profile":{_dumps(_profile(user, account))}']
        size = sum(map(len, buffer))
        for name, query, convert in _sections(user_id, account.id if account else None):
            buffer.append(f',"{name}":[')
            first = True
            for row in _rows(query):
                text = _dumps(convert(row))
                buffer.append(text if first else "," + text)
                size += len(text) + 1
                first = False
                if size >= _FLUSH_CHARS:
                    yield "".join(buffer)
                    buffer, size = [], 0
            buffer.append("]")
        buffer.append("}\n")
        yield "".join(buffer)
    finally:
        db.session.rollback()


# ---------------------------------------------------------------------------------------------
# Erasure


@dataclasses.dataclass(frozen=True)
class Erasure:
    user_id: uuid.UUID
    erased_at: dt.datetime
    sessions_revoked: int
    bindings_withdrawn: int
    vouchers_cancelled: int
    points_forfeited: int


ERASE_ATTEMPTS = 3


def erase_user(*, user_id: uuid.UUID, password: str, now: dt.datetime | None = None) -> Erasure:
    """DELETE /me: the password re-entered, then the person erased in one unit of work.
    Citizens only: staff accounts are offboarded by an administrator (403 `staff_account`).
    A wrong password is 403 `wrong_password` and changes nothing (but counts against the
    per-account password throttle)."""
    user = db.session.get(User, user_id)
    if user is None or user.is_erased:
        raise NotFound("User not found.")
    if user.role_names & set(STAFF_ROLES):
        raise PermissionDenied("Staff accounts are closed by an administrator, not by "
                               "themselves.", code="staff_account")
    seen_hash = user.password_hash
    # No transaction is held while the password is hashed or the throttle counts (on its own
    # connection: on SQLite it would otherwise wait for this request's write lock).
    db.session.rollback()
    rule = throttle.password_check_rule(user_id)
    throttle.check(rule)
    if not verify_password(seen_hash, password):
        throttle.hit(rule)
        raise PermissionDenied("The password is wrong.", code="wrong_password")
    for attempt in range(1, ERASE_ATTEMPTS + 1):
        try:
            return _erase(user_id, seen_hash, now or utcnow())
        except Conflict as busy:
            # A voucher reserved between our cancellation and the ledger lock: start again.
            if busy.code != "points_reserved" or attempt == ERASE_ATTEMPTS:
                raise
            log.info("erasure of %s: a voucher was reserved meanwhile; retrying", user_id)
    raise AssertionError("unreachable")


def _erase(user_id: uuid.UUID, seen_hash: str, now: dt.datetime) -> Erasure:
    # Lock order: the user row (no key update: FK inserts may go on), the partners of live
    # bindings, the bindings, then the vouchers and the ledger in the rewards' own order.
    # The identifiers (unique columns, so a stronger lock) are changed last, at flush.
    with unit_of_work():
        user = db.session.execute(select(User).where(User.id == user_id)
                                  .with_for_update(key_share=True)
                                  .execution_options(populate_existing=True)).scalar_one_or_none()
        if user is None or user.is_erased:
            raise NotFound("User not found.")
        if user.password_hash != seen_hash:
            raise PermissionDenied("The password is wrong.", code="wrong_password")
        live_partners = sorted(set(db.session.scalars(
            select(Binding.partner_id).where(Binding.user_id == user_id,
                                             Binding.status.in_(("pending", "active"))))), key=str)
        for partner_id in live_partners:
            lock_partner(partner_id, exclusive=True)
        withdrawn = 0
        for binding in db.session.scalars(select(Binding).where(Binding.user_id == user_id)
                                          .order_by(Binding.id).with_for_update()
                                          .execution_options(populate_existing=True)):
            if binding.status in ("pending", "active"):
                if binding.status == "active":
                    binding.ended_at = now
                binding.status, binding.withdrawn_at = "withdrawn", now
                withdrawn += 1
            binding.confirmation_code_hash = None
            # A random value: nothing can recompute it, so the card can be bound again by
            # anyone and its history never leads back here.
            binding.external_ref_hash = secrets.token_hex(32)
            binding.external_ref_hint = ERASED_REF_HINT
        db.session.flush()
        leave_on_erasure(user_id=user_id, now=now)
        cancelled = rewards.cancel_open_redemptions(user_id=user_id, now=now)
        forfeited = ledger.forfeit_balance(user_id=user_id, now=now)
        revoked = revoke_user_sessions(user_id, reason="erased", now=now)
        db.session.execute(update(AuthSession).where(AuthSession.user_id == user_id)
                           .values(ip_address=None, user_agent=None))
        db.session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user_id))
        notification_service.delete_for_user(user_id=user_id)
        # When they opened the app, day by day: no record needs it once they are gone (their
        # campaign claims stay: each names the ledger's bonus transfer that paid it).
        db.session.execute(delete(CheckIn).where(CheckIn.user_id == user_id))
        # Where they lived goes too; their actions keep the district they counted for.
        db.session.execute(delete(UserRegion).where(UserRegion.user_id == user_id))
        user.region = user.region_since = None
        user.email = None
        user.phone = None
        user.display_name = erased_display_name(user_id)
        user.password_hash = ERASED_PASSWORD_HASH
        user.leaderboard_visibility = "hidden"
        user.erased_at = now
        # Counts only: the audit log (append-only) never receives the erased data.
        record_audit(action="user.erased", object_type="user", object_id=user_id,
                     actor_user_id=user_id,
                     details={"sessions_revoked": revoked, "bindings_withdrawn": withdrawn,
                              "vouchers_cancelled": cancelled, "points_forfeited": forfeited})
    return Erasure(user_id=user_id, erased_at=now, sessions_revoked=revoked,
                   bindings_withdrawn=withdrawn, vouchers_cancelled=cancelled,
                   points_forfeited=forfeited)


def _forfeit_late_balances(now: dt.datetime) -> int:
    """Points that reached an erased account after its erasure (a request already past
    authentication when it committed) are forfeited too; returns the accounts swept."""
    swept = 0
    erased = list(db.session.scalars(
        select(LedgerAccount.user_id).join(User, User.id == LedgerAccount.user_id)
        .where(User.erased_at.is_not(None),
               (LedgerAccount.balance > 0) | (LedgerAccount.reserved > 0))
        .limit(PURGE_BATCH)))
    db.session.rollback()
    for user_id in erased:
        try:
            with unit_of_work():
                rewards.cancel_open_redemptions(user_id=user_id, now=now)
                points = ledger.forfeit_balance(user_id=user_id, now=now)
                record_audit(action="user.erased_balance_forfeited", object_type="user",
                             object_id=user_id, actor_user_id=None,
                             details={"points_forfeited": points})
            swept += 1
        except Conflict:
            log.info("late forfeiture of %s postponed: a voucher is being reserved", user_id)
    return swept


# ---------------------------------------------------------------------------------------------
# Retention


def purge_expired_personal_data(*, now: dt.datetime | None = None) -> int:
    """Due job: delete one-time codes a day after they expired or were used, sessions (and
    their refresh tokens) `SESSION_RETENTION_DAYS` after they were revoked or expired, expired
    throttle counters, expired entries of the access-token denylist and notifications past
    their retention (docs/notifications.md); forfeit points that
    reached an erased account late. Returns the rows deleted (plus accounts swept)."""
    now = now or utcnow()
    kept_until = now - dt.timedelta(days=get_settings().session_retention_days)
    deleted = 0
    with unit_of_work():
        deleted += db.session.execute(delete(OneTimeCode).where(or_(
            OneTimeCode.expires_at < now - CODE_GRACE,
            OneTimeCode.used_at < now - CODE_GRACE))).rowcount
        ended = select(AuthSession.family_id).where(or_(
            AuthSession.revoked_at < kept_until, AuthSession.expires_at < kept_until))
        deleted += db.session.execute(delete(RefreshToken).where(
            or_(RefreshToken.family_id.in_(ended), RefreshToken.expires_at < kept_until))).rowcount
        deleted += db.session.execute(delete(AuthSession).where(or_(
            AuthSession.revoked_at < kept_until, AuthSession.expires_at < kept_until))).rowcount
        deleted += db.session.execute(delete(ThrottleCounter)
                                      .where(ThrottleCounter.expires_at < now)).rowcount
        deleted += db.session.execute(delete(RevokedAccessToken)
                                      .where(RevokedAccessToken.expires_at < now)).rowcount
    deleted += notification_service.purge_notifications(now=now)
    return deleted + _forfeit_late_balances(now)

