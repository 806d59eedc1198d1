"""Signed receipts of credited actions (docs/verification.md, section 5): what was credited for
an action, by which methodology version, the `earn` transfer that moved the points and where the
sealer put that transfer in the hash chain, signed with the service's key.

A receipt is rebuilt from stored state each time it is asked for, never stored: the payload
holds no wall-clock time, so the same state signs to the same bytes (Ed25519 is deterministic),
and a receipt asked for before the seal simply gains its `chain` afterwards.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Iterator

from sqlalchemy import and_, or_, select

from carbon_credits.domain import proofs
from carbon_credits.domain.errors import Conflict, NotFound
from carbon_credits.domain.vocabulary import mg_to_grams
from carbon_credits.services import signing
from carbon_credits.services.action_reads import get_action_or_raise, get_own_action_or_raise
from models import Action, LedgerSeal, LedgerTransfer, db

PAGE = 500


@dataclasses.dataclass(frozen=True)
class Receipt:
    action_id: uuid.UUID
    document: str  # compact JWS over the canonical JSON of `payload`
    payload: dict


def signable(value):
    """A recorded value as canonical JSON accepts it: numbers that are not integers (floats,
    Decimals) become decimal strings, integers stay integers, containers are walked."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _decimal_text(Decimal(repr(value)))  # repr: the shortest text that round-trips
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, dict):
        return {str(key): signable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [signable(item) for item in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"receipt inputs: cannot sign a {type(value).__name__}")


def _decimal_text(value: Decimal) -> str:
    return format(value, "f") if value.is_finite() else str(value)


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def has_receipt(action) -> bool:
    """Only an action credited now, with something credited, has a receipt."""
    return action.status == "credited" and action.credited_mg > 0


def receipt_payload(action, earn, seal) -> dict:
    """The receipt of `action` (an Action or a row of its columns), its `earn` transfer (or
    None: the credit came to less than one point, so no points moved) and that transfer's
    chain link (or None: not sealed yet)."""
    return {
        "type": proofs.RECEIPT_TYPE,
        "action_id": str(action.id),
        "action_type": action.action_type,
        "occurred_at": _iso(action.occurred_at),
        "inputs": signable(action.inputs or {}),
        "methodology": ({"code": action.methodology_code, "version": action.methodology_version}
                        if action.methodology_code else None),
        # What was credited: after the daily cap, not the methodology's full result.
        "credited_mg": action.credited_mg,
        "credited_g": format(mg_to_grams(action.credited_mg), "f"),
        "points": action.points,
        "credited_at": _iso(action.credited_at),
        "ledger_entry": None if earn is None else {"transfer_id": str(earn.id), "seq": earn.seq},
        "chain": None if seal is None else {"position": seal.position, "hash": seal.hash,
                                            "sealed_at": _iso(seal.sealed_at)},
    }


def _ledger_facts(action_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple]:
    """action id -> (earn transfer, its seal or None), two indexed look-ups for a whole page:
    earns by `action_id` (partial index), seals by `transfer_seq` (unique)."""
    if not action_ids:
        return {}
    earns = db.session.execute(
        select(LedgerTransfer.action_id, LedgerTransfer.id, LedgerTransfer.seq)
        .where(LedgerTransfer.action_id.in_(action_ids), LedgerTransfer.kind == "earn")).all()
    seals = {row.transfer_seq: row for row in db.session.execute(
        select(LedgerSeal.transfer_seq, LedgerSeal.position, LedgerSeal.hash, LedgerSeal.sealed_at)
        .where(LedgerSeal.transfer_seq.in_([e.seq for e in earns])))} if earns else {}
    return {e.action_id: (e, seals.get(e.seq)) for e in earns}


def _signed(action, facts: dict) -> Receipt:
    earn, seal = facts.get(action.id, (None, None))
    payload = receipt_payload(action, earn, seal)
    return Receipt(action_id=action.id, document=signing.sign(payload), payload=payload)


def _readable_action(action_id: uuid.UUID, *, reader_id: uuid.UUID, as_staff: bool,
                     within: str | None) -> Action:
    """The two ways an action is read, exactly: its owner (GET /actions/{id}), and staff who
    read actions (GET /admin/actions/{id}: district staff only their district's). Anything
    else is the same 404 as an action that does not exist."""
    try:
        return get_own_action_or_raise(user_id=reader_id, action_id=action_id)
    except NotFound:
        if not as_staff:
            raise
    return get_action_or_raise(action_id, within=within)


def get_receipt(*, action_id: uuid.UUID, reader_id: uuid.UUID, as_staff: bool = False,
                within: str | None = None) -> Receipt:
    """The signed receipt of a credited action; 404 as reading the action would be, 409
    `action_not_credited` when it is not (or no longer) credited or nothing was credited."""
    action = _readable_action(action_id, reader_id=reader_id, as_staff=as_staff, within=within)
    if not has_receipt(action):
        why = ("nothing was credited for it" if action.status == "credited"
               else f"it is {action.status.replace('_', ' ')}")
        raise Conflict(f"This action has no receipt: {why}.", code="action_not_credited")
    return _signed(action, _ledger_facts([action.id]))


def user_receipts(user_id: uuid.UUID, *, page: int | None = None) -> Iterator[Receipt]:
    """Every receipt of a citizen, oldest action first, `page` actions at a time (keyset on
    the `(user_id, created_at, id)` index): three reads a page, then one signature each (and
    the active key's look-up `signing.sign` makes). Reads only, so it runs inside the export's
    read-only snapshot, provided the signing key exists before it starts
    (`signing.active_key()`)."""
    actions, page, after = Action.__table__, page or PAGE, None
    while True:
        query = (select(actions).where(actions.c.user_id == user_id,
                                       actions.c.status == "credited", actions.c.credited_mg > 0)
                 .order_by(actions.c.created_at, actions.c.id).limit(page))
        if after is not None:
            query = query.where(or_(actions.c.created_at > after[0],
                                    and_(actions.c.created_at == after[0], actions.c.id > after[1])))
        rows = db.session.execute(query).all()
        if not rows:
            return
        facts = _ledger_facts([row.id for row in rows])
        for row in rows:
            yield _signed(row, facts)
        if len(rows) < page:
            return
        after = (rows[-1].created_at, rows[-1].id)
