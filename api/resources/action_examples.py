"""Examples of the green-action operations in the API document (api/resources/actions.py):
bodies as the service answers them, taken from a real run and fixed in time."""
from __future__ import annotations

import copy

ACTION_ID = "25c014e7-8963-487e-ad5a-d7abe5920563"
BREAKDOWN = [
    {"step": 1, "kind": "parameter", "name": "RF", "unit": "gCO2/km", "value": "97",
     "source": "Shanghai Ecology and Environment Bureau carbon-inclusion Q&A, sthj.sh.gov.cn, "
               "2024-10-30", "source_status": "secondary",
     "note": "Net factor (baseline minus rail)."},
    {"step": 2, "kind": "input", "name": "distance_km", "unit": "km", "value": "12.4"},
    {"step": 3, "kind": "intermediate", "name": "ER", "unit": "gCO2e", "value": "1202.8",
     "expression": "RF × distance_km"},
    {"step": 4, "kind": "result", "name": "reduction_g", "unit": "gCO2e", "value": "1202.800",
     "rounding": "rounded once at the end to 0.001 g, ROUND_HALF_EVEN"},
]
# A self-reported metro trip: its scope wants an auditor's review, so it waits.
PENDING_ACTION = {
    "id": ACTION_ID, "action_type": "transit", "mode": "metro", "scene": None, "utility": None,
    "category": None, "channel": "app", "status": "pending_review",
    "occurred_at": "2026-12-01T00:31:00+00:00", "started_at": "2026-12-01T00:02:00+00:00",
    "ended_at": "2026-12-01T00:31:00+00:00", "scheme_day": "2026-12-01",
    "inputs": {"mode": "metro", "distance_km": "12.4", "started_at": "2026-12-01T00:02:00+00:00",
               "ended_at": "2026-12-01T00:31:00+00:00"},
    "reduction_g": "1202.800", "credited_g": "0.000", "points": 0, "points_per_gram": 1,
    "methodology": {"code": "SH-METRO", "version": 1}, "breakdown": BREAKDOWN,
    "reasons": [{"code": "self_report_review", "outcome": "review",
                 "message": "Self-reported claims for this scope need an auditor's review."}],
    "duplicate_of": None, "created_at": "2026-12-01T00:31:40.480373+00:00", "credited_at": None,
    "reviewed_at": None, "review_reason": None, "reversed_at": None, "reversal_reason": None,
    "region": "320505"}
CREDITED_ACTION = {
    **PENDING_ACTION, "status": "credited", "credited_g": "1202.800", "points": 1202,
    "credited_at": "2026-12-01T02:10:05.112233+00:00",
    "reviewed_at": "2026-12-01T02:10:05.112233+00:00", "review_reason": "Card tap-out matches.",
    "reasons": []}
REVERSED_ACTION = {
    **CREDITED_ACTION, "status": "reversed", "reversed_at": "2026-12-03T09:00:00+00:00",
    "reversal_reason": "The same trip was reported twice by the operator."}
REJECTED_ACTION = {
    **PENDING_ACTION, "status": "rejected", "reviewed_at": "2026-12-01T02:10:05.112233+00:00",
    "review_reason": "No tap-out at the destination station."}


def admin_view(action: dict) -> dict:
    """An action as staff see it: with who reported it."""
    return {**copy.deepcopy(action), "user_id": "de2a67fb-5cd7-4395-b7c0-ba1377ac266a",
            "partner_id": None, "external_id": None}


def page(item: dict) -> dict:
    return {"items": [item], "next_cursor": "MjAyNi0xMi0wMVQwMDozMTowMCswMDowMHwyNWMwMTRlNw"}


BATCH_RESULT = {
    "results": [
        {"index": 0, "external_id": "TRIP-2026-12-01-000123", "status": "credited",
         "action_id": "54bf0b32-01d6-460d-831d-fde903011358", "reduction_g": "1202.800",
         "points": 1202, "reasons": []},
        {"index": 1, "external_id": "SESSION-88231", "status": "unbound", "action_id": None,
         "reduction_g": None, "points": 0,
         "reasons": [{"code": "unbound", "outcome": "info", "message": "No active binding of "
                      "this card or account covers this record."}]},
        {"index": 2, "external_id": "DROP-20261201-0042", "status": "rejected", "action_id": None,
         "reduction_g": None, "points": 0,
         "reasons": [{"code": "validation", "message": "Invalid record.", "outcome": "reject",
                      "errors": {"weight_kg": ["Missing data for required field."]}}]},
    ],
    "summary": {"credited": 1, "unbound": 1, "rejected": 1}}

RECEIPT_DOCUMENT = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJ0eXBlIjoiY2FyYm9uLWNyZWRpdHMifQ.c2ln"
