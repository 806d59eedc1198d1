"""Districts (docs/districts.md): a citizen's chosen region and its history, a partner's and its
stations' regions, and the region each new action counts for.

An action's region is decided once, when it is recorded: its registered station's (partner
records only: station ids are the partner's own namespace), else its partner's, else its
citizen's at the action's instant (`user_regions`), else none. A batch resolves them with at
most two set-based queries (stations of the partner, then the citizens' histories for the
records still undecided), never one per record; the app's single claim usually needs none (the
caller's current region came with authentication).

Functions that write join the caller's unit of work unless they say otherwise.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Iterable

from sqlalchemy import or_, select

from carbon_credits.domain import regions as rules
from carbon_credits.domain.errors import NotFound, PermissionDenied
from carbon_credits.services.audit import record_audit
from carbon_credits.services.uow import unit_of_work
from models import Partner, PartnerStation, User, UserRegion, db, utcnow


# Where a citizen's first chosen region starts in their history (see change_citizen_region).
BEFORE_ANY_CHOICE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class CitizenRegion:
    """A citizen's current region and since when (NULL since: never chosen)."""

    region: str | None
    since: dt.datetime | None

    def at(self, instant: dt.datetime) -> tuple[bool, str | None]:
        """(known, region) at `instant`: known when the current choice already covered it."""
        if self.since is None or instant >= self.since:
            return True, self.region
        return False, None


# --- district staff ---------------------------------------------------------------------------

def scoped_region(requested: str | None, within: str | None) -> str | None:
    """The region a read is restricted to: what the caller asked for (`requested`, a normalised
    code or None for all), inside the district they are scoped to (`within`, None: city-wide).
    A district admin or auditor asking for another district is refused (403 `outside_district`)."""
    if within is None:
        return requested
    if requested not in (None, within):
        raise PermissionDenied(f"Your role is scoped to district {within}.", code="outside_district")
    return within


def in_district(region: str | None, within: str | None) -> bool:
    """Whether an object of `region` is visible to staff scoped to `within` (None: city-wide)."""
    return within is None or region == within


# --- citizens ---------------------------------------------------------------------------------

def change_citizen_region(user: User, region: str | None, now: dt.datetime) -> dict | None:
    """Move a (locked) user to `region` from `now` on: the open history row ends, a new one
    starts. Past actions keep the region they were recorded with. None when nothing changes."""
    if region == user.region:
        return None
    open_rows = list(db.session.scalars(select(UserRegion).where(
        UserRegion.user_id == user.id, UserRegion.valid_until.is_(None))))
    for row in open_rows:
        row.valid_until = now
    # The first choice also covers the time before it (claims of earlier actions still to come);
    # a later one starts now, so nothing recorded or claimable before it moves.
    first = user.region_since is None
    db.session.add(UserRegion(user_id=user.id, region=region,
                              valid_from=BEFORE_ANY_CHOICE if first else now))
    before, user.region, user.region_since = user.region, region, now
    return {"before": before, "after": region}


def region_history(user_id: uuid.UUID) -> list[UserRegion]:
    return list(db.session.scalars(select(UserRegion).where(UserRegion.user_id == user_id)
                                   .order_by(UserRegion.valid_from, UserRegion.id)))


def citizen_regions_at(pairs: Iterable[tuple[uuid.UUID, dt.datetime]]) -> dict[tuple, str | None]:
    """{(user, instant): region in force then} for many pairs with one query."""
    pairs = set(pairs)
    if not pairs:
        return {}
    earliest = min(at for _, at in pairs)
    rows = db.session.execute(
        select(UserRegion.user_id, UserRegion.region, UserRegion.valid_from, UserRegion.valid_until)
        .where(UserRegion.user_id.in_({u for u, _ in pairs}),
               or_(UserRegion.valid_until.is_(None), UserRegion.valid_until > earliest)))
    periods: dict[uuid.UUID, list] = {}
    for r in rows:
        periods.setdefault(r.user_id, []).append(r)
    found = {}
    for user_id, at in pairs:
        found[(user_id, at)] = next(
            (r.region for r in periods.get(user_id, ())
             if r.valid_from <= at and (r.valid_until is None or at < r.valid_until)), None)
    return found


# --- partners and their stations --------------------------------------------------------------

def station_regions(partner_id: uuid.UUID, station_ids: Iterable[str]) -> dict[str, str]:
    ids = {s for s in station_ids if s}
    if not ids:
        return {}
    rows = db.session.execute(select(PartnerStation.station_id, PartnerStation.region)
                              .where(PartnerStation.partner_id == partner_id,
                                     PartnerStation.station_id.in_(ids)))
    return {r.station_id: r.region for r in rows}


def list_stations(*, partner_id: uuid.UUID) -> list[PartnerStation]:
    if db.session.get(Partner, partner_id) is None:
        raise NotFound("Partner not found.")
    return list(db.session.scalars(select(PartnerStation)
                                   .where(PartnerStation.partner_id == partner_id)
                                   .order_by(PartnerStation.station_id)))


def register_station(*, partner_id: uuid.UUID, station_id: str, region: str,
                     actor_user_id: uuid.UUID) -> tuple[PartnerStation, bool]:
    """Register (or move) a partner's station in a district; records received from now on
    count there. Returns (station, created)."""
    region = rules.normalise_region(region)
    with unit_of_work():
        # The partner row first, exclusively: an ingest holding it shared sees all of this or none.
        partner = db.session.execute(select(Partner).where(Partner.id == partner_id)
                                     .with_for_update()).scalar_one_or_none()
        if partner is None:
            raise NotFound("Partner not found.")
        station = db.session.execute(
            select(PartnerStation).where(PartnerStation.partner_id == partner_id,
                                         PartnerStation.station_id == station_id)
            .with_for_update()).scalar_one_or_none()
        created, before = station is None, None if station is None else station.region
        now = utcnow()
        if station is None:
            station = PartnerStation(partner_id=partner_id, station_id=station_id, region=region,
                                     created_at=now, updated_at=now)
            db.session.add(station)
        elif station.region != region:
            station.region, station.updated_at = region, now
        if before != region:
            record_audit(action="partner.station_region", object_type="partner",
                         object_id=partner_id, actor_user_id=actor_user_id,
                         details={"station_id": station_id, "before": before, "after": region})
    return station, created


# --- the region of new actions ----------------------------------------------------------------

def assign_regions(subs: list, *, partner_region: str | None = None,
                   citizen: CitizenRegion | None = None) -> None:
    """Set `region` on each submission (see the module docstring). `citizen`: the single
    caller's current region, when known, saves the history query for recent actions."""
    partner_ids = {s.partner_id for s in subs if s.partner_id is not None}
    stations: dict[str, str] = {}
    if len(partner_ids) == 1:
        stations = station_regions(next(iter(partner_ids)), (s.station_id for s in subs))
    undecided = []
    for s in subs:
        s.region = rules.action_region(station=stations.get(s.station_id),
                                       partner=partner_region if s.partner_id else None,
                                       citizen=None)
        if s.region is None:
            known, region = citizen.at(s.occurred_at) if citizen else (False, None)
            if known:
                s.region = region
            else:
                undecided.append(s)
    if undecided:
        found = citizen_regions_at((s.user_id, s.occurred_at) for s in undecided)
        for s in undecided:
            s.region = found[(s.user_id, s.occurred_at)]

