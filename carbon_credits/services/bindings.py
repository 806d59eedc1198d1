"""Citizens' external identifiers at partners, stored as keyed hashes."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.services import keys
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import Binding, Partner, db

BINDABLE_KINDS = ("transit_operator", "charging_operator", "recycling_operator", "merchant")


def normalise_external_ref(external_ref: str) -> str:
    return "".join(external_ref.split()).upper()


def hash_external_ref(partner_id: uuid.UUID, external_ref: str) -> str:
    return keys.keyed_hash("binding-refs", f"{partner_id}:{normalise_external_ref(external_ref)}")


def bind(*, user_id: uuid.UUID, partner_id: uuid.UUID, external_ref: str) -> Binding:
    """Link a card or account to a citizen; one external ref belongs to one citizen at most."""
    ref = normalise_external_ref(external_ref)
    if not ref:
        raise ValidationFailed("external_ref must not be blank.",
                               errors={"external_ref": ["Must not be blank."]})
    with unit_of_work():
        partner = db.session.get(Partner, partner_id)
        if partner is None or partner.kind not in BINDABLE_KINDS:
            raise NotFound("Partner not found.")
        binding = Binding(user_id=user_id, partner_id=partner_id,
                          external_ref_hash=hash_external_ref(partner_id, ref),
                          external_ref_hint=ref[-4:])
        db.session.add(binding)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("This identifier is already bound to an account.",
                           code="binding_exists") from None
        record_audit(action="binding.create", object_type="binding", object_id=binding.id,
                     actor_user_id=user_id, details={"partner_id": str(partner_id)})
    return binding


def list_bindings(*, user_id: uuid.UUID) -> list[Binding]:
    return list(db.session.scalars(select(Binding).where(Binding.user_id == user_id)
                                   .order_by(Binding.created_at, Binding.id)))


def unbind(*, user_id: uuid.UUID, binding_id: uuid.UUID) -> None:
    with unit_of_work():
        binding = db.session.get(Binding, binding_id)
        if binding is None or binding.user_id != user_id:
            raise NotFound("Binding not found.")
        db.session.delete(binding)
        record_audit(action="binding.delete", object_type="binding", object_id=binding_id,
                     actor_user_id=user_id)


def resolve_users(*, partner_id: uuid.UUID, external_refs: list[str]) -> dict[str, uuid.UUID]:
    """Map many external refs to citizen ids in one query (partner batches)."""
    hashes = {hash_external_ref(partner_id, r): r for r in external_refs}
    if not hashes:
        return {}
    rows = db.session.execute(select(Binding.external_ref_hash, Binding.user_id)
                              .where(Binding.partner_id == partner_id,
                                     Binding.external_ref_hash.in_(list(hashes))))
    return {hashes[h]: uid for h, uid in rows}
