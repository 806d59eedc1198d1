"""The scheme's vocabulary, defined once: roles, statuses, kinds, modes, categories, bounds,
scope keys and the gram/milligram conversion.

Models build their CHECK constraints from these tuples, services compare against them and the
HTTP schemas validate with them; nothing else spells them out. Pure: imports nothing of ours.
Adding a value here is a schema change too (a migration that widens the CHECK constraint).
"""
from __future__ import annotations

from decimal import Decimal

# --- people ---------------------------------------------------------------------------------
ROLES = ("citizen", "merchant", "admin", "auditor", "verifier")
# The people who run the scheme (admin) and check it (auditor): they review methodologies.
SCHEME_ROLES = ("admin", "auditor")
# Granted only four-eyes (role_grants); an account holds at most one of them. `verifier` is the
# independent third party who signs verification statements on certified lots (docs/roles.md).
PRIVILEGED_ROLES = (*SCHEME_ROLES, "verifier")
STAFF_ROLES = ("merchant", *PRIVILEGED_ROLES)
ROLE_GRANT_STATUSES = ("pending", "approved", "rejected", "cancelled")
# How a citizen appears on leaderboards: under their display name, under a pseudonym derived
# from their id, or not at all (PIPL art. 44: the person decides).
LEADERBOARD_VISIBILITIES = ("named", "pseudonym", "hidden")
ONE_TIME_CODE_PURPOSES = ("verify", "password_reset")

# --- partners -------------------------------------------------------------------------------
# `merchant_pos`: shops' tills and ordering platforms reporting everyday scenes.
# `utility`: the power grid or water company posting monthly meter readings of households.
DATA_PARTNER_KINDS = ("transit_operator", "charging_operator", "recycling_operator",
                      "merchant_pos", "utility")
PARTNER_KINDS = ("merchant", *DATA_PARTNER_KINDS, "enterprise_buyer")
BINDING_STATUSES = ("pending", "active", "ended", "withdrawn", "expired")

# --- green actions and their methodologies --------------------------------------------------
ACTION_TYPES = ("transit", "ev_charging", "waste_sorting", "everyday", "household_energy")
TRANSIT_MODES = ("metro", "bus", "bike", "walk")
# One-off low-carbon choices counted per event (docs/methodologies.md, "Everyday scenes").
EVERYDAY_SCENES = ("no_cutlery", "own_bag", "e_receipt", "clothing_kiosk")
# A household's metered monthly consumption (docs/households.md).
METERED_UTILITIES = ("electricity", "water")
# Action types whose scope is divided further: by transit mode, everyday scene, metered utility.
# The value is stored in the `mode` column of actions, methodologies and partner scopes; the API
# names it as SCOPE_MODE_FIELDS says.
SCOPE_MODES = {"transit": TRANSIT_MODES, "everyday": EVERYDAY_SCENES,
               "household_energy": METERED_UTILITIES}
HOUSEHOLD_SPLITS = ("equal", "shares")
# history: a month before the account was bound (a baseline reference only, never credited).
READING_STATUSES = ("credited", "rejected", "history")
SCOPE_MODE_FIELDS = {"transit": "mode", "everyday": "scene", "household_energy": "utility"}
WASTE_CATEGORIES = ("paper", "plastic", "metal", "glass", "textile", "kitchen")
CHANNELS = ("app", "partner")
ACTION_STATUSES = ("credited", "pending_review", "rejected", "duplicate", "reversed")
# Actions that hold their place against a daily cap and against overlapping claims.
COUNTING_STATUSES = ("credited", "pending_review")
# Trips and charging sessions have time windows; two of one citizen's may not overlap.
OVERLAP_TYPES = ("transit", "ev_charging")

CALCULATOR_FAMILIES = ("transit_distance", "transit_boarding", "ev_charging", "recyclables",
                       "per_event", "metered_baseline")
VERSION_STATUSES = ("draft", "submitted", "approved", "rejected", "retired")
# A retired version stays in force until its end: both may credit an action in their window.
IN_FORCE_STATUSES = ("approved", "retired")
RETIREMENT_STATUSES = ("pending", "approved", "rejected")
SOURCE_STATUSES = ("doc", "press", "secondary", "scheme_design_choice")
SELF_REPORT_POLICIES = ("allowed", "review", "refused")

# --- ledger ---------------------------------------------------------------------------------
# `forfeiture` receives the balance of an erased account (DELETE /me).
# `incentive` issues campaign bonuses (docs/engagement.md): points with no grams behind them.
SYSTEM_ACCOUNT_KINDS = ("issuance", "holds", "expiry", "forfeiture", "incentive")
# A public-good project's account receives donations; like the system accounts it keeps no
# running balance (its total is the project's `donated_points`, never locked by a donor).
ACCOUNT_KINDS = ("citizen", "merchant", *SYSTEM_ACCOUNT_KINDS, "project")
TRANSFER_KINDS = ("earn", "reserve", "release", "redeem", "expire", "reversal", "adjustment",
                  "forfeit", "donate", "bonus", "bonus_reversal")
HOLD_STATUSES = ("pending", "posted", "voided", "expired")
# open: takes donations; completed: its target is met; closed: an admin ended it early.
PROJECT_STATUSES = ("open", "completed", "closed")
ADJUSTMENT_STATUSES = ("pending", "approved", "rejected")
ADJUSTMENT_REASONS = ("goodwill", "correction")

# --- rewards, insights, certificates --------------------------------------------------------
REDEMPTION_STATUSES = ("reserved", "redeemed", "cancelled", "expired")
# What a reward is, for the catalogue's filter (docs/merchants.md); `other` by default.
REWARD_CATEGORIES = ("food_drink", "transport", "retail", "culture", "services", "other")
MAX_IMAGE_URL_LENGTH = 500
REPORT_EXPORT_STATUSES = ("pending", "running", "done", "failed")
BLOCK_STATUSES = ("active", "superseded", "retired")
REGISTRY_EVENTS = ("issue", "transfer", "retire")
# A verifier's opinion on a lot; only a `positive` latest statement lets its serials move
# (docs/certificates.md, section 7).
VERIFICATION_OPINIONS = ("positive", "qualified", "negative")
# Carbon-neutral events: what kind of gathering records its footprint (docs/events.md).
EVENT_KINDS = ("conference", "marathon", "wedding", "exhibition", "other")

# --- bounds ---------------------------------------------------------------------------------
# Every stored quantity has an upper bound: PostgreSQL lets NaN through `x >= 0`, and a bound
# stops overflow long before BIGINT does.
MAX_POINTS = 10**12            # one transfer, one adjustment, one hold
MAX_BALANCE_POINTS = 10**15    # one account's balance
MAX_ACTION_MG = 10**13         # 10 t CO2e: far above any single action
MAX_DAILY_CAP_MG = 10**12
MAX_PARAMETER_VALUE = Decimal("1e12")
MAX_POINTS_COST = 1_000_000    # one reward
MAX_STOCK = 1_000_000
MAX_PER_CITIZEN_LIMIT = 1000
MAX_SERIAL = 10**15
MAX_CERTIFICATE_UNITS = 10**12
MAX_LOT_MG = 10**18
MAX_READING_MILLI = 10**12     # one month of one meter: 1e9 kWh or m³, far above any home
MAX_EVENT_FOOTPRINT_G = 10**13  # one event: 10 Mt CO2e, far above any single gathering

# --- units ----------------------------------------------------------------------------------
MG_PER_G = 1000
GRAMS = Decimal("0.001")  # the precision of a credited reduction


def scope_key(action_type: str, mode: str | None) -> str:
    """The key a methodology, a daily cap and an overlap check are scoped by:
    `transit:metro`, `ev_charging`, `waste_sorting`, `everyday:own_bag`."""
    return f"{action_type}:{mode}" if mode else action_type


def grams_to_mg(grams: Decimal) -> int:
    """Grams with at most 3 decimals -> integer milligrams, exactly."""
    mg = grams * MG_PER_G
    if mg != mg.to_integral_value():
        raise ValueError(f"{grams} g has more than 3 decimals")
    return int(mg)


def mg_to_grams(mg: int | None) -> Decimal | None:
    return None if mg is None else (Decimal(mg) / MG_PER_G).quantize(GRAMS)


def scope_mode_check(*, mode_required: bool) -> str:
    """The CHECK on an (action_type, mode) pair: a mode of its type where the type has modes
    (required, or NULL for "every mode"), none where it has not."""
    none = "mode IS NULL"
    parts = [f"(action_type = '{action_type}' AND "
             + (sql_in("mode", modes) if mode_required else f"({none} OR {sql_in('mode', modes)})")
             + ")" for action_type, modes in SCOPE_MODES.items()]
    plain = tuple(t for t in ACTION_TYPES if t not in SCOPE_MODES)
    parts.append(f"({sql_in('action_type', plain)} AND {none})")
    return " OR ".join(parts)


def scope_mode_fields(action_type: str, mode: str | None) -> dict[str, str | None]:
    """The stored `mode` as the API names it: {"mode": ..., "scene": ..., "utility": ...}, the
    one of the action type's set, the others None."""
    fields = dict.fromkeys(SCOPE_MODE_FIELDS.values())
    if action_type in SCOPE_MODE_FIELDS:
        fields[SCOPE_MODE_FIELDS[action_type]] = mode
    return fields


def sql_in(column: str, values: tuple[str, ...]) -> str:
    """`column IN ('a', 'b')`: the text of a CHECK constraint built from a tuple above."""
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"
