"""Public-good projects and donations (docs/donations.md).

Admins create projects (name, beneficiary, target in points); citizens give points to an open
project; each gift is a `donate` transfer on the ledger (services/ledger/donations.py) and a
donation row, its receipt. A project takes gifts up to its target, not beyond, and is
completed when the target is met.

Lock order: the citizen's ledger account (the posting), then the project row, moved by one
conditional update (`donated_points + p <= target_points AND status = 'open'`): two donors never
pass the target together, and the project row is held only for the end of the transaction."""
from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import uuid
from typing import Iterable

from sqlalchemy import case, func, select, update

from carbon_credits.domain import donations as rules
from carbon_credits.domain.errors import Conflict, NotFound, ValidationFailed
from carbon_credits.domain.regions import optional_region
from carbon_credits.domain.vocabulary import MAX_BALANCE_POINTS, MAX_POINTS
from carbon_credits.services import ledger
from carbon_credits.services.accounts import require_verified
from carbon_credits.services.audit import record_audit
from carbon_credits.services.pagination import newest_first_page, where_given
from carbon_credits.services.uow import unit_of_work
from models import Donation, LedgerTransfer, PublicProject, db, utcnow


@dataclasses.dataclass(frozen=True)
class Receipt:
    """A donation as its receipt shows it: the gift, the project, the ledger transfer."""
    donation: Donation
    project: PublicProject
    transfer_seq: int | None


def _whole(value, field: str, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be a whole number from 1 to {maximum}.",
                               errors={field: [f"Must be a whole number from 1 to {maximum}."]})


def create_project(*, name: str, beneficiary: str, description: str, target_points: int,
                   region: str | None, actor_user_id: uuid.UUID) -> PublicProject:
    """A new open project with its own ledger account."""
    _whole(target_points, "target_points", MAX_BALANCE_POINTS)
    region = optional_region(region)
    with unit_of_work():
        project = PublicProject(id=uuid.uuid4(), name=name, beneficiary=beneficiary,
                                description=description, region=region,
                                target_points=target_points, donated_points=0, donations=0,
                                status="open", account_id=ledger.open_project_account(),
                                created_by=actor_user_id, created_at=utcnow())
        db.session.add(project)
        db.session.flush()
        record_audit(action="project.created", object_type="public_project", object_id=project.id,
                     actor_user_id=actor_user_id,
                     details={"name": name, "beneficiary": beneficiary,
                              "target_points": target_points, "region": region})
    return project


def close_project(*, project_id: uuid.UUID, reason: str, actor_user_id: uuid.UUID) -> PublicProject:
    """End an open project early: it takes no more gifts; what it received stays."""
    with unit_of_work():
        now = utcnow()
        closed = db.session.execute(
            update(PublicProject).where(PublicProject.id == project_id,
                                        PublicProject.status == "open")
            .values(status="closed", ended_at=now)).rowcount
        project = get_project_or_raise(project_id)
        if not closed:
            raise Conflict(f"The project is {project.status}.", code="project_not_open")
        record_audit(action="project.closed", object_type="public_project", object_id=project_id,
                     actor_user_id=actor_user_id,
                     details={"reason": reason, "donated_points": project.donated_points})
    return project


def get_project_or_raise(project_id: uuid.UUID) -> PublicProject:
    project = db.session.scalars(select(PublicProject).where(PublicProject.id == project_id)
                                 .execution_options(populate_existing=True)).first()
    if project is None:
        raise NotFound("Project not found.")
    return project


def list_projects(*, status: str | None = None, after: tuple | None = None, limit: int = 50):
    """Projects newest first: (projects, cursor of the last)."""
    query = where_given(select(PublicProject), (PublicProject.status, operator.eq, status))
    query = query.order_by(PublicProject.created_at.desc(), PublicProject.id.desc())
    return newest_first_page(query, PublicProject.created_at, PublicProject.id, after=after,
                             limit=limit)


def donor_counts(project_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many distinct citizens gave to each project."""
    ids = set(project_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Donation.project_id, func.count(Donation.user_id.distinct()))
        .where(Donation.project_id.in_(ids)).group_by(Donation.project_id)).all())


def donate(*, user_id: uuid.UUID, project_id: uuid.UUID, points: int,
           now: dt.datetime | None = None) -> Receipt:
    """Give `points` of the citizen's available balance to an open project (the ledger moves
    them, oldest lots first) and record the receipt. Refused, with nothing changed: 404 unknown
    project, 409 `project_not_open`, 409 `exceeds_target`, 409 `insufficient_balance`, 403
    `account_unverified`."""
    _whole(points, "points", MAX_POINTS)
    now = now or utcnow()
    with unit_of_work():
        require_verified(user_id)
        project = get_project_or_raise(project_id)
        _refuse(project, points)
        donation_id = uuid.uuid4()
        transfer = ledger.post_donation(user_id=user_id, project_account_id=project.account_id,
                                        amount=points, external_ref=f"donation:{donation_id}",
                                        now=now)
        _add_to_project(project_id, points, now)
        donation = Donation(id=donation_id, project_id=project_id, user_id=user_id,
                            points=points, transfer_id=transfer.id, created_at=now)
        db.session.add(donation)
        db.session.flush()
        project = get_project_or_raise(project_id)
    return Receipt(donation=donation, project=project, transfer_seq=transfer.seq)


def _refuse(project: PublicProject, points: int) -> None:
    refusal = rules.donation_refusal(status=project.status, donated=project.donated_points,
                                     target=project.target_points, points=points)
    if refusal is not None:
        raise Conflict(refusal[1], code=refusal[0])


def _add_to_project(project_id: uuid.UUID, points: int, now: dt.datetime) -> None:
    """One conditional update: open, and the gift fits under the target (read under its lock,
    so a concurrent donor's committed gift counts). Raises, rolling the posting back, if not."""
    total = PublicProject.donated_points + points
    completes = total >= PublicProject.target_points
    moved = db.session.execute(
        update(PublicProject)
        .where(PublicProject.id == project_id, PublicProject.status == "open",
               total <= PublicProject.target_points)
        .values(donated_points=total, donations=PublicProject.donations + 1,
                status=case((completes, "completed"), else_=PublicProject.status),
                ended_at=case((completes, now), else_=PublicProject.ended_at))
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        _refuse(get_project_or_raise(project_id), points)
        raise Conflict("The project changed meanwhile; try again.", code="project_changed")


def list_donations(*, user_id: uuid.UUID, after: tuple | None = None, limit: int = 50):
    """The citizen's receipts, newest first: (receipts, cursor of the last)."""
    query = (select(Donation).where(Donation.user_id == user_id)
             .order_by(Donation.created_at.desc(), Donation.id.desc()))
    donations, last = newest_first_page(query, Donation.created_at, Donation.id, after=after,
                                        limit=limit)
    return _receipts(donations), last


def get_receipt(*, user_id: uuid.UUID, donation_id: uuid.UUID) -> Receipt:
    """One of the citizen's receipts (404 for anyone else's)."""
    donation = db.session.get(Donation, donation_id)
    if donation is None or donation.user_id != user_id:
        raise NotFound("Donation not found.")
    return _receipts([donation])[0]


def _receipts(donations: list[Donation]) -> list[Receipt]:
    projects = {p.id: p for p in db.session.scalars(
        select(PublicProject).where(PublicProject.id.in_({d.project_id for d in donations})))}
    seqs = dict(db.session.execute(
        select(LedgerTransfer.id, LedgerTransfer.seq)
        .where(LedgerTransfer.id.in_({d.transfer_id for d in donations}))).all())
    return [Receipt(donation=d, project=projects[d.project_id], transfer_seq=seqs.get(d.transfer_id))
            for d in donations]
