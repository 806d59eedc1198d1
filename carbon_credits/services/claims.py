"""A claim as the crediting pipeline and the review see it: the validated `Submission` (from the
app or a partner record), its `Outcome`, the `missing_inputs` reason, and a `Submission` rebuilt
from a stored action (an approval re-computes the claim the way it was received)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from carbon_credits.domain import actions as rules
from carbon_credits.domain.crediting import reason
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import scope_mode_fields
from models import Action, MethodologyVersion

CLOCK_MESSAGE = (f"Must agree with ended_at within {rules.CLOCK_TOLERANCE.seconds // 60} minutes "
                 "(a timed action happens when it ends); or leave it out.")
INPUT_FIELDS = ("mode", "scene", "category", "station_id", "distance_km", "energy_kwh",
                "weight_kg", "boardings", "events", "started_at", "ended_at")


@dataclasses.dataclass
class Submission:
    """A validated claim: from the app (user known) or a partner record (bound to a user)."""

    action_type: str
    channel: str
    occurred_at: dt.datetime | None = None  # as sent; after __post_init__ the action's instant
    user_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    binding_id: uuid.UUID | None = None  # the card's binding that routed a partner record
    external_id: str | None = None
    external_ref: str | None = None
    mode: str | None = None
    scene: str | None = None  # an everyday scene, stored in the `mode` column
    category: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    distance_km: Decimal | None = None
    energy_kwh: Decimal | None = None
    weight_kg: Decimal | None = None
    boardings: int | None = None
    events: int | None = None
    station_id: str | None = None
    index: int = 0
    reported_occurred_at: dt.datetime | None = dataclasses.field(default=None, init=False)
    # The district the action counts for, decided by the pipeline (services/regions), never sent.
    region: str | None = dataclasses.field(default=None, init=False)

    def __post_init__(self):
        # One clock: a windowed action happens when it ends. The sent value is kept with the
        # inputs; everything downstream (window, version, scheme day, overlap) reads the instant.
        if not rules.clocks_agree(occurred_at=self.occurred_at, ended_at=self.ended_at):
            raise ValidationFailed("occurred_at must agree with ended_at.",
                                   errors={"occurred_at": [CLOCK_MESSAGE]})
        self.reported_occurred_at = self.occurred_at
        self.occurred_at = rules.action_instant(occurred_at=self.occurred_at,
                                                ended_at=self.ended_at)

    @property
    def sub_scope(self) -> str | None:
        """What divides the action type's scope (the `mode` column): transit mode or scene."""
        return self.scene if self.action_type == "everyday" else self.mode

    @property
    def scope(self) -> str:
        return rules.scope_key(self.action_type, self.sub_scope)

    def sent_fields(self) -> set[str]:
        """The claim fields present, for `required_inputs` (the instant is always known)."""
        return {name for name in INPUT_FIELDS if getattr(self, name) is not None} | {"occurred_at"}

    def activity(self) -> dict[str, Any]:
        data = {"started_at": self.started_at, "ended_at": self.ended_at, "category": self.category}
        for name in ("distance_km", "energy_kwh", "weight_kg", "boardings", "events"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    def inputs(self) -> dict[str, Any]:
        """The claim as received, decimals as strings, for the stored action."""
        data = {}
        for name in (*INPUT_FIELDS, "occurred_at"):
            value = getattr(self, "reported_occurred_at" if name == "occurred_at" else name)
            if value is None:
                continue
            data[name] = value.isoformat() if isinstance(value, dt.datetime) else (
                format(value, "f") if isinstance(value, Decimal) else value)
        return data


@dataclasses.dataclass
class Outcome:
    index: int
    status: str  # credited | pending_review | rejected | duplicate | unbound
    external_id: str | None = None
    action_id: uuid.UUID | None = None
    reduction_mg: int | None = None
    points: int = 0
    reasons: list = dataclasses.field(default_factory=list)
    duplicate_of: uuid.UUID | None = None
    action: Action | None = None  # the stored row, when the insert returned it (single claims)


def missing_inputs_reason(version: MethodologyVersion, missing: list[str]) -> dict:
    ref = f"{version.methodology.code} v{version.version} ({version.family})"
    return {**reason("missing_inputs", f"{', '.join(missing)} required by {ref}."),
            "fields": missing}


def submission_from_action(action: Action) -> Submission:
    """The claim a stored action was made from, as it was received."""
    inputs = action.inputs or {}

    def dec(name):
        return Decimal(inputs[name]) if name in inputs else None

    named = scope_mode_fields(action.action_type, action.mode)
    mode, scene = named["mode"], named["scene"]
    return Submission(action_type=action.action_type, channel=action.channel,
                      occurred_at=rules.action_instant(occurred_at=action.occurred_at,
                                                       ended_at=action.ended_at),
                      user_id=action.user_id, mode=mode, scene=scene,
                      category=action.category, started_at=action.started_at,
                      ended_at=action.ended_at, distance_km=dec("distance_km"),
                      energy_kwh=dec("energy_kwh"), weight_kg=dec("weight_kg"),
                      boardings=inputs.get("boardings"), events=inputs.get("events"),
                      station_id=inputs.get("station_id"))
