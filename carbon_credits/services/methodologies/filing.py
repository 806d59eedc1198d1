"""Recording a version's filing with the authority (备案): the filing number, the authority,
the date and the expert review it rests on. Lots sold under Shanghai-, Shenzhen- or
Guangdong-style rules need a filed methodology; the public view shows the record.

Only an approved (or retired) version can be filed; the record is written once, in full, and
never changed: a mistaken record is a matter for the authority, and the audit log keeps who
recorded it. The database refuses a second or partial record too (trigger, migration 0018)."""
from __future__ import annotations

import datetime as dt
import uuid

from carbon_credits.domain.errors import Conflict, ValidationFailed
from carbon_credits.domain.vocabulary import IN_FORCE_STATUSES
from carbon_credits.services.audit import record_audit
from carbon_credits.services.methodologies.catalogue import OBJECT_TYPE
from carbon_credits.services.methodologies.locks import lock_methodology, lock_version
from carbon_credits.services.uow import unit_of_work
from models import MethodologyVersion, utcnow


def record_filing(*, code: str, version: int, filing_number: str, authority: str,
                  filed_on: dt.date, expert_review_ref: str | None,
                  actor_user_id: uuid.UUID, today: dt.date) -> MethodologyVersion:
    number, authority = filing_number.strip(), authority.strip()
    if not number or not authority:
        raise ValidationFailed("filing_number and authority must not be blank.",
                               errors={"filing_number" if not number else "authority":
                                       ["Must not be blank."]})
    if filed_on > today:
        raise ValidationFailed("filed_on must not be in the future.",
                               errors={"filed_on": ["Must not be in the future."]})
    with unit_of_work():
        methodology = lock_methodology(code)
        row = lock_version(methodology, version)
        if row.status not in IN_FORCE_STATUSES:
            raise Conflict(f"Only an approved version can be filed; this one is {row.status}.",
                           code="version_not_approved")
        if row.filing_number is not None:
            raise Conflict("This version's filing is recorded already.", code="already_filed")
        row.filing_number, row.filing_authority, row.filed_on = number, authority, filed_on
        row.expert_review_ref = (expert_review_ref or "").strip() or None
        row.filed_by, row.filed_at = actor_user_id, utcnow()
        row.revision += 1
        record_audit(action="methodology.version_filed", object_type=OBJECT_TYPE, object_id=code,
                     actor_user_id=actor_user_id,
                     details={"version": version, "filing_number": number,
                              "authority": authority, "filed_on": filed_on.isoformat(),
                              "expert_review_ref": row.expert_review_ref})
    return row
