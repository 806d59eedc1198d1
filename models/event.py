"""Carbon-neutral events (docs/events.md): a gathering's recorded footprint, and the certified
serials an enterprise buyer retired against it.

Both tables are append-only (migration 0019): a footprint is never edited after it is
recorded, so an organiser cannot lower it after retiring too little, and a retirement counted
for an event stays counted. A retired block counts for one event at most
(`uq_carbon_event_retirements_block_id`)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, Uuid)
from sqlalchemy.orm import Mapped, mapped_column

from carbon_credits.domain.regions import REGION_CODES
from carbon_credits.domain.vocabulary import (EVENT_KINDS, MAX_CERTIFICATE_UNITS as MAX_UNITS,
                                            MAX_EVENT_FOOTPRINT_G, MAX_LOT_MG, sql_in)

from .base import UTCDateTime, db, utcnow


class CarbonEvent(db.Model):
    """A conference, marathon, wedding, ... with its footprint, how it was computed, and the
    enterprise buyer answerable for its neutrality."""

    __tablename__ = "carbon_events"
    __table_args__ = (
        CheckConstraint(sql_in("kind", EVENT_KINDS), name="known_kind"),
        CheckConstraint(sql_in("region", REGION_CODES), name="known_region"),
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint(f"footprint_g BETWEEN 1 AND {MAX_EVENT_FOOTPRINT_G}", name="footprint_range"),
        Index("ix_carbon_events_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    organiser: Mapped[str] = mapped_column(String(200))
    buyer_partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    # Where it takes place (GB/T 2260 code); NULL: city-wide or unstated.
    region: Mapped[str | None] = mapped_column(String(6))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    footprint_g: Mapped[int] = mapped_column(BigInteger)
    footprint_basis: Mapped[str] = mapped_column(Text)
    footprint_report_ref: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CarbonEventRetirement(db.Model):
    """One retired block counted for an event: its serials, grams and the buyer who retired it.
    Written with the retirement, in its transaction."""

    __tablename__ = "carbon_event_retirements"
    __table_args__ = (
        UniqueConstraint("block_id", name="uq_carbon_event_retirements_block_id"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_UNITS}", name="quantity_range"),
        CheckConstraint(f"retired_mg BETWEEN 1 AND {MAX_LOT_MG}", name="retired_range"),
        Index("ix_carbon_event_retirements_event", "event_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carbon_events.id"))
    block_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_blocks.id"))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_lots.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    # quantity x the lot's unit_mg
    retired_mg: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
