"""Citizens' cards and accounts at data partners: proven ownership and recorded consent.

A citizen asks for a binding (pending, with a one-time code shown once); the operator, having
checked through its own channel that the person holds the card, confirms it with that code; only
then does the binding receive records. The binding row is also the consent record (purpose,
action types, notice version, granted and withdrawn times) and is never deleted.

Which binding receives a record: the active or ended binding of (partner, card) whose
[covers_from, ended_at) holds the record's action instant. A changeover (the operator confirms
the card for another citizen) ends the old binding at that instant and the new one covers from
it. A withdrawn binding receives nothing more.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
import uuid

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain import partners as rules
from carbon_credits.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from carbon_credits.domain.vocabulary import ACTION_TYPES, DATA_PARTNER_KINDS
from carbon_credits.services import keys
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.partners import current_scope_pairs, lock_partner
from carbon_credits.services.uow import unit_of_work
from models import Action, AuditEntry, Binding, HouseholdMember, Partner, PartnerScope, db, utcnow

RECEIVING_STATUSES = ("active", "ended")  # ended by a changeover: still gets earlier trips

normalise_external_ref = rules.normalise_external_ref


def hash_external_ref(partner_id: uuid.UUID, external_ref: str) -> str:
    return keys.keyed_hash("binding-refs", f"{partner_id}:{normalise_external_ref(external_ref)}")


def _ref_hashes(partner_id: uuid.UUID, external_ref: str) -> set[str]:
    """The ref's hash, and the one bindings made before migration 0009 were stored under (the
    same for refs of digits only)."""
    legacy = rules.legacy_normalise_external_ref(external_ref)
    return {hash_external_ref(partner_id, external_ref),
            keys.keyed_hash("binding-refs", f"{partner_id}:{legacy}")}


def _code_hash(binding_id: uuid.UUID, code: str) -> str:
    return keys.keyed_hash("binding-codes", f"{binding_id}:{code}")


def _new_code() -> str:
    return "".join(secrets.choice(rules.CONFIRMATION_CODE_ALPHABET)
                   for _ in range(rules.CONFIRMATION_CODE_LENGTH))


@dataclasses.dataclass(frozen=True)
class RequestedBinding:
    binding: Binding
    confirmation_code: str | None  # shown once; None when an active binding is handed back
    created: bool


def _bindable_partner(partner_id: uuid.UUID) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.kind not in DATA_PARTNER_KINDS or partner.is_suspended:
        raise ValidationFailed("Cards and accounts can be bound only to active data partners "
                               "(operators, tills, utilities).", code="partner_not_bindable",
                               errors={"partner_id": ["Not a data partner that can be bound."]})
    return partner


def _consented_scopes(partner: Partner, requested: list[str] | None) -> list[str]:
    offered = sorted({action_type for action_type, _ in current_scope_pairs(partner)},
                     key=ACTION_TYPES.index)
    if not offered:
        raise ValidationFailed("This partner may report nothing at the moment.",
                               code="partner_not_bindable",
                               errors={"partner_id": ["The partner has no scopes."]})
    if requested is None:
        return offered
    if not requested or len(set(requested)) != len(requested) or set(requested) - set(offered):
        raise ValidationFailed("scopes must be distinct action types this partner reports.",
                               code="scope_not_offered",
                               errors={"scopes": [f"A non-empty subset of {', '.join(offered)}."]})
    return sorted(requested, key=ACTION_TYPES.index)


def _household_for(partner: Partner, user_id: uuid.UUID,
                   household_id: uuid.UUID | None) -> uuid.UUID | None:
    """A utility account is bound for a household the citizen belongs to; nothing else is."""
    if partner.kind != "utility":
        if household_id is not None:
            raise ValidationFailed("Only utility accounts are bound for a household.",
                                   errors={"household_id": ["Only for a utility."]})
        return None
    if household_id is None:
        raise ValidationFailed("A utility account is bound for a household.",
                               code="household_required",
                               errors={"household_id": ["Required for a utility account."]})
    is_member = db.session.scalar(select(HouseholdMember.id).where(
        HouseholdMember.household_id == household_id, HouseholdMember.user_id == user_id,
        HouseholdMember.left_at.is_(None)))
    if is_member is None:
        raise ValidationFailed("You are not a member of this household.",
                               errors={"household_id": ["Not a household of yours."]})
    return household_id


def request_binding(*, user_id: uuid.UUID, partner_id: uuid.UUID, external_ref: str,
                    scopes: list[str] | None = None,
                    household_id: uuid.UUID | None = None) -> RequestedBinding:
    """A pending binding and its one-time code. Whether someone else holds the card is never
    revealed: the answer is the same. Asking again for one's own pending card issues a new code
    on the same binding; for one's own active card, hands it back."""
    ref = normalise_external_ref(external_ref)
    if not ref:
        raise ValidationFailed("external_ref must not be blank.",
                               errors={"external_ref": ["Must not be blank."]})
    now = utcnow()
    code = _new_code()
    with unit_of_work():
        require_verified(user_id)
        partner = _bindable_partner(partner_id)
        consented = _consented_scopes(partner, scopes)
        household_id = _household_for(partner, user_id, household_id)
        own = list(db.session.scalars(
            select(Binding).where(Binding.user_id == user_id, Binding.partner_id == partner_id,
                                  Binding.external_ref_hash.in_(_ref_hashes(partner_id, ref)),
                                  Binding.status.in_(("active", "pending")))
            .order_by(Binding.created_at.desc()).with_for_update()))
        active = next((b for b in own if b.status == "active"), None)
        if active is not None:
            return RequestedBinding(active, None, created=False)
        binding = next((b for b in own if b.shown_status == "pending"), None)
        if binding is None:
            binding = Binding(id=uuid.uuid4(), user_id=user_id, partner_id=partner_id,
                              external_ref_hash=hash_external_ref(partner_id, ref),
                              external_ref_hint=ref[-4:], status="pending",
                              failed_confirmations=0, created_at=now)
            db.session.add(binding)
        binding.confirmation_code_hash = _code_hash(binding.id, code)
        binding.code_expires_at = now + rules.CONFIRMATION_CODE_TTL
        binding.purpose = rules.BINDING_PURPOSES[partner.kind]
        binding.scopes = consented
        binding.notice_version = rules.BINDING_NOTICE_VERSION
        binding.household_id = household_id
        record_audit(action="binding.request", object_type="binding", object_id=binding.id,
                     actor_user_id=user_id,
                     details={"partner_id": str(partner_id), "scopes": consented,
                              "notice_version": rules.BINDING_NOTICE_VERSION})
    return RequestedBinding(binding, code, created=True)


class _WrongCode(DomainError):
    def __init__(self, binding_ids: list[uuid.UUID]):
        super().__init__("wrong code")
        self.binding_ids = binding_ids


def confirm_binding(*, partner_id: uuid.UUID, external_ref: str, confirmation_code: str) -> Binding:
    """The operator confirms that the citizen who holds this code holds the card: the binding
    becomes active now, and a binding of the card to someone else ends at this instant.

    A wrong, expired or used code changes nothing but the attempt counters of the card's live
    pending bindings (each dies after MAX_FAILED_CONFIRMATIONS)."""
    ref = normalise_external_ref(external_ref)
    code = rules.normalise_confirmation_code(confirmation_code)
    invalid = ValidationFailed("The confirmation code is wrong, has expired or was already used.",
                               code="confirmation_code_invalid",
                               errors={"confirmation_code": ["Not valid for this card."]})
    if not ref:
        raise invalid
    try:
        with unit_of_work():
            lock_partner(partner_id, exclusive=True)
            now = utcnow()
            history = _lock_card_history(partner_id, ref)
            match = _pending_with_code(history, code, now)
            replaced = _end_active_bindings(history, now)
            _activate(match, history, now)
            record_audit(action="binding.confirm", object_type="binding", object_id=match.id,
                         actor_partner_id=partner_id,
                         details={"ended_bindings": [str(b.id) for b in replaced]})
    except _WrongCode as wrong:
        _count_failed_confirmations(wrong.binding_ids)
        raise invalid from None
    return match


def _lock_card_history(partner_id: uuid.UUID, ref: str) -> list[Binding]:
    """Every binding of the card at this partner, whatever its status, locked."""
    return list(db.session.scalars(
        select(Binding).where(Binding.partner_id == partner_id,
                              Binding.external_ref_hash.in_(_ref_hashes(partner_id, ref)))
        .with_for_update().execution_options(populate_existing=True)))


def _pending_with_code(history: list[Binding], code: str, now: dt.datetime) -> Binding:
    """The live pending binding the code was issued for; _WrongCode (naming the card's live
    pending bindings) when there is none. Codes are compared in constant time."""
    live = [b for b in history if b.status == "pending" and b.code_expires_at > now]
    match = next((b for b in live if hmac.compare_digest(
        b.confirmation_code_hash, _code_hash(b.id, code))), None)
    if match is None:
        raise _WrongCode([b.id for b in live])
    return match


def _end_active_bindings(history: list[Binding], now: dt.datetime) -> list[Binding]:
    """A changeover: the card's active binding ends now, before the new one starts."""
    replaced = [b for b in history if b.status == "active"]
    for old in replaced:
        old.status, old.ended_at = "ended", now
    db.session.flush()  # the old binding ends before the new one starts (unique index)
    return replaced


def _activate(match: Binding, history: list[Binding], now: dt.datetime) -> None:
    """The confirmed binding becomes active now and covers from the card's last changeover."""
    covers_from = rules.covers_from_after((b.granted_at, b.ended_at) for b in history)
    match.status, match.granted_at = "active", now
    match.covers_from = covers_from
    match.confirmation_code_hash = None
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict("Another confirmation of this card was made at the same time; retry.",
                       code="binding_confirmation_conflict") from None


def _count_failed_confirmations(binding_ids: list[uuid.UUID]) -> None:
    """Committed on its own, after the refused request rolled back: guesses must cost."""
    if not binding_ids:
        return
    with unit_of_work():
        db.session.execute(update(Binding).where(Binding.id.in_(binding_ids),
                                                 Binding.status == "pending")
                           .values(failed_confirmations=Binding.failed_confirmations + 1))
        db.session.execute(update(Binding).where(
            Binding.id.in_(binding_ids), Binding.status == "pending",
            Binding.failed_confirmations >= rules.MAX_FAILED_CONFIRMATIONS)
            .values(status="expired", confirmation_code_hash=None))


def list_bindings(*, user_id: uuid.UUID) -> list[Binding]:
    return list(db.session.scalars(select(Binding).where(Binding.user_id == user_id)
                                   .order_by(Binding.created_at, Binding.id)))


def withdraw_binding(*, user_id: uuid.UUID, binding_id: uuid.UUID) -> Binding:
    """Withdraw consent now (PIPL art. 15): the binding receives no record from this instant on,
    whatever the trip's time. The row stays as the consent history; withdrawing twice is a no-op."""
    with unit_of_work():
        binding = db.session.get(Binding, binding_id)
        if binding is None or binding.user_id != user_id:
            raise NotFound("Binding not found.")
        lock_partner(binding.partner_id, exclusive=True)
        binding = db.session.execute(select(Binding).where(Binding.id == binding_id)
                                     .with_for_update()
                                     .execution_options(populate_existing=True)).scalar_one()
        if binding.status == "withdrawn":
            return binding
        now = utcnow()
        if binding.status == "active":
            binding.ended_at = now
        binding.status, binding.withdrawn_at = "withdrawn", now
        binding.confirmation_code_hash = None
        record_audit(action="binding.withdraw", object_type="binding", object_id=binding.id,
                     actor_user_id=user_id, details={"partner_id": str(binding.partner_id)})
    return binding


@dataclasses.dataclass(frozen=True)
class BoundRecord:
    binding_id: uuid.UUID
    user_id: uuid.UUID
    scopes: tuple[str, ...]


def resolve_bindings(*, partner_id: uuid.UUID,
                     records: list[tuple[str, dt.datetime]]) -> list[BoundRecord | None]:
    """For each (external_ref, action instant) of a partner batch, the binding that receives
    it, or None; one query for the whole batch."""
    hashes_of = [_ref_hashes(partner_id, ref) for ref, _ in records]
    wanted = set().union(*hashes_of) if hashes_of else set()
    if not wanted:
        return []
    by_hash: dict[str, list] = {}
    for row in db.session.execute(
            select(Binding.id, Binding.user_id, Binding.external_ref_hash, Binding.scopes,
                   Binding.covers_from, Binding.ended_at)
            .where(Binding.partner_id == partner_id, Binding.external_ref_hash.in_(wanted),
                   Binding.status.in_(RECEIVING_STATUSES))):
        by_hash.setdefault(row.external_ref_hash, []).append(row)
    found: list[BoundRecord | None] = []
    for hashes, (_, instant) in zip(hashes_of, records):
        match = next((r for h in hashes for r in by_hash.get(h, ())
                      if rules.binding_covers(covers_from=r.covers_from, ended_at=r.ended_at,
                                              instant=instant)), None)
        found.append(None if match is None else
                     BoundRecord(match.id, match.user_id, tuple(match.scopes or ())))
    return found


# --- invariants (ledger verify) -----------------------------------------------------------

def check_partner_record_invariants() -> list[str]:
    """Every credited or reversed partner action came from a partner whose scopes held its
    action type and mode when it was received, through a binding of the same citizen and
    partner that could receive it then and whose consent covers its action type.

    Partner actions received before migration 0009 (its audit row, written only when there
    were some) predate scopes and bindings and are not checked."""
    cutoff = select(func.max(AuditEntry.created_at)).where(
        AuditEntry.action == "migration.0009").scalar_subquery()
    checked = and_(Action.channel == "partner", Action.status.in_(("credited", "reversed")),
                   or_(cutoff.is_(None), Action.created_at > cutoff))
    scope_held = exists().where(
        PartnerScope.partner_id == Action.partner_id,
        PartnerScope.action_type == Action.action_type,
        or_(PartnerScope.mode.is_(None), PartnerScope.mode == Action.mode),
        PartnerScope.valid_from <= Action.created_at,
        or_(PartnerScope.valid_until.is_(None), PartnerScope.valid_until > Action.created_at))
    # A household's utility account credits every member: the binding's citizen asked for it.
    member_then = exists().where(
        HouseholdMember.household_id == Binding.household_id,
        HouseholdMember.user_id == Action.user_id,
        HouseholdMember.joined_at <= Action.created_at,
        or_(HouseholdMember.left_at.is_(None), HouseholdMember.left_at > Action.created_at))
    problems: list[str] = []
    rows = db.session.execute(
        select(Action.id, Action.binding_id, Binding.id.label("found"), scope_held.label("in_scope"))
        .outerjoin(Binding, Binding.id == Action.binding_id)
        .where(checked, or_(
            ~scope_held,
            Binding.id.is_(None),
            and_(Binding.user_id != Action.user_id, ~member_then),
            Binding.partner_id != Action.partner_id,
            Binding.granted_at.is_(None),
            Binding.granted_at > Action.created_at,
            and_(Binding.withdrawn_at.is_not(None), Binding.withdrawn_at <= Action.created_at),
            and_(Binding.covers_from.is_not(None), Action.occurred_at < Binding.covers_from),
            # ended by a changeover before the record arrived: only earlier actions
            and_(Binding.ended_at.is_not(None), Binding.ended_at <= Action.created_at,
                 Action.occurred_at >= Binding.ended_at)))
        .order_by(Action.created_at).limit(100))
    for row in rows:
        if not row.in_scope:
            problems.append(f"partner action {row.id}: outside the partner's scopes when received")
        if row.found is None:
            problems.append(f"partner action {row.id}: no binding recorded ({row.binding_id})")
        elif row.in_scope:
            problems.append(f"partner action {row.id}: binding {row.binding_id} could not receive "
                            "it (another citizen or partner, not active then, or not covering "
                            "its instant)")
    pairs = select(Action.binding_id, Action.action_type).where(checked).distinct().subquery()
    for binding_id, action_type, scopes in db.session.execute(
            select(pairs.c.binding_id, pairs.c.action_type, Binding.scopes)
            .join(Binding, Binding.id == pairs.c.binding_id)):
        if action_type not in (scopes or ()):
            problems.append(f"binding {binding_id}: credited {action_type} records without consent")
    for partner_id, kind in db.session.execute(
            select(Partner.id, Partner.kind).join(PartnerScope, PartnerScope.partner_id == Partner.id)
            .where(Partner.kind.not_in(DATA_PARTNER_KINDS)).distinct()):
        problems.append(f"partner {partner_id}: a {kind} has scopes")
    return problems
