"""Examples of the methodology operations in the API document (api/resources/methodologies.py):
one new methodology (SZ-METRO) taken through drafting, review, filing and retirement, with
bodies as the service answers them, taken from a real run and fixed in time."""
from __future__ import annotations

CODE = "SZ-METRO"
ADMIN_ID = "68fc2cea-c33a-4276-8388-197463ec4537"
SECOND_ADMIN_ID = "40608570-b799-486b-b35d-def25079d2bc"
AUDITOR_ID = "18ab60fa-fb1a-47a2-a5e3-e3e343eceb1f"
RF_SOURCE = ("Shanghai Ecology and Environment Bureau carbon-inclusion Q&A, sthj.sh.gov.cn, "
             "2024-10-30")
BASIS = ("Scheme design choice: 0.5-100 km covers one metro journey; an average door-to-door "
         "speed of 5-100 km/h excludes impossible trips. Operator data is credited; an app "
         "self-report goes to review.")

METHODOLOGY_REQUEST = {"code": CODE, "title": "Suzhou metro trips, per km",
                       "title_zh": "苏州轨道交通出行，按公里计",
                       "description": "Metro trips replace the same distance by car.",
                       "action_type": "transit", "mode": "metro"}
# `display_title` as a client that asks for no particular language sees it (English).
METHODOLOGY = {**METHODOLOGY_REQUEST, "display_title": "Suzhou metro trips, per km",
               "scene": None, "utility": None,
               "created_at": "2026-12-01T01:00:00.443789+00:00", "versions": []}

VERSION_REQUEST = {
    "family": "transit_distance", "formula_text": "ER = RF × distance_km",
    "parameters": [{"name": "RF", "value": 97, "unit": "gCO2/km", "source": RF_SOURCE,
                    "source_status": "secondary", "note": "Net factor (baseline minus rail)."}],
    "applicability": {"min_distance_km": 0.5, "max_distance_km": 100, "min_speed_kmh": 5,
                      "max_speed_kmh": 100, "self_report": "review", "basis": BASIS},
    "daily_cap_g": 5000, "effective_from": "2027-01-01T00:00:00+08:00",
    "change_note": "First version for Suzhou."}
DRAFT = {
    "version": 1, "status": "draft", "family": "transit_distance",
    "formula_text": "ER = RF × distance_km",
    "parameters": [{"name": "RF", "value": "97", "unit": "gCO2/km", "source": RF_SOURCE,
                    "source_status": "secondary", "note": "Net factor (baseline minus rail)."}],
    "applicability": {"min_distance_km": "0.5", "max_distance_km": "100",
                      "min_speed_kmh": "5", "max_speed_kmh": "100", "self_report": "review",
                      "basis": BASIS},
    "daily_cap_g": "5000.000", "effective_from": "2026-12-31T16:00:00+00:00",
    "effective_until": None, "change_note": "First version for Suzhou.", "revision": 1,
    "etag": '"d465a1d5125b-1"', "filing": None, "seeded": False,
    "drafted_by": ADMIN_ID, "drafted_at": "2026-12-01T01:05:00.450776+00:00",
    "submitted_by": None, "submitted_at": None, "approved_by": None, "approved_at": None,
    "rejected_by": None, "rejected_at": None, "rejection_reason": None,
    "retired_by": None, "retired_at": None}
EDIT_REQUEST = {"daily_cap_g": 4000}
EDITED = {**DRAFT, "daily_cap_g": "4000.000", "revision": 2, "etag": '"d465a1d5125b-2"'}
SUBMITTED = {**EDITED, "status": "submitted", "submitted_by": ADMIN_ID,
             "submitted_at": "2026-12-01T01:20:00.466938+00:00"}
APPROVED = {**SUBMITTED, "status": "approved", "approved_by": AUDITOR_ID,
            "approved_at": "2026-12-02T03:00:00.477267+00:00"}
REJECTED = {**SUBMITTED, "status": "rejected", "rejected_by": AUDITOR_ID,
            "rejected_at": "2026-12-02T03:00:00.784600+00:00",
            "rejection_reason": "The factor's source does not cover Suzhou; cite the city's."}
# `filed_on` is never in the future (422), so the example's day is one already past.
FILING_REQUEST = {"filing_number": "苏环备〔2026〕31号", "authority": "苏州市生态环境局",
                  "filed_on": "2026-12-03", "expert_review_ref": "专家评审意见 2026-11-20"}
FILED = {**APPROVED, "revision": 3, "etag": '"d465a1d5125b-3"',
         "filing": {**FILING_REQUEST, "recorded_at": "2026-12-04T02:00:00.024549+00:00"}}
RETIRE_REQUEST = {"effective_until": "2028-01-01T00:00:00+08:00",
                  "reason": "Replaced by version 2 with the 2027 factor."}
RETIRED = {**APPROVED, "status": "retired", "effective_until": "2027-12-31T16:00:00+00:00",
           "retired_by": AUDITOR_ID, "retired_at": "2027-06-01T02:00:00.481936+00:00"}
PENDING_RETIREMENT = {
    "id": "2f621972-71b8-464a-a572-3b87dd77fc88", "version": 1,
    "effective_until": "2027-12-31T16:00:00+00:00",
    "reason": "Replaced by version 2 with the 2027 factor.", "status": "pending",
    "requested_by": SECOND_ADMIN_ID, "requested_at": "2027-06-01T01:00:00.905897+00:00",
    "decided_by": None, "decided_at": None, "decision_note": None}
REJECTED_RETIREMENT = {**PENDING_RETIREMENT, "status": "rejected", "decided_by": AUDITOR_ID,
                       "decided_at": "2027-06-01T02:00:00.423694+00:00",
                       "decision_note": "Keep it until version 2 is filed."}

CALCULATION_REQUEST = {"channel": "partner", "activity": {"distance_km": 10}}
CALCULATION = {
    "code": "SH-METRO", "version": 1, "version_status": "approved", "reduction_g": "970.000",
    "points": 970, "daily_cap_g": "5000.000", "outcome": "accept", "reasons": [],
    "breakdown": [
        {"step": 1, "kind": "parameter", "name": "RF", "unit": "gCO2/km", "value": "97",
         "source": RF_SOURCE, "source_status": "secondary",
         "note": "Net factor (baseline minus rail)."},
        {"step": 2, "kind": "input", "name": "distance_km", "unit": "km", "value": "10"},
        {"step": 3, "kind": "intermediate", "name": "ER", "unit": "gCO2e", "value": "970",
         "expression": "RF × distance_km"},
        {"step": 4, "kind": "result", "name": "reduction_g", "unit": "gCO2e",
         "value": "970.000",
         "rounding": "rounded once at the end to 0.001 g, ROUND_HALF_EVEN"}]}

DIFF = {"code": CODE, "from_version": 1, "to_version": 2, "changes": [
    {"change": "changed", "field": "daily_cap_g", "from": "4000.000", "to": "6000.000"},
    {"change": "changed", "field": "parameters.RF.value", "from": "97", "to": "98"}]}

AUDIT_PAGE = {"items": [
    {"id": 10, "action": "methodology.version_submit", "object_type": "methodology",
     "object_id": CODE, "actor_user_id": ADMIN_ID, "actor_partner_id": None,
     "details": {"version": 1}, "request_id": "b77111c5a87e44469ffe09d20c3b8c65",
     "created_at": "2026-12-01T01:20:00.467230+00:00"},
    {"id": 9, "action": "methodology.version_edit", "object_type": "methodology",
     "object_id": CODE, "actor_user_id": ADMIN_ID, "actor_partner_id": None,
     "details": {"changes": [{"change": "changed", "field": "daily_cap_g", "from": "5000.000",
                              "to": "4000.000"}], "revision": 2, "version": 1},
     "request_id": "0d7f2ba1c3e44d0f9a5b6c7d8e9f0a1b",
     "created_at": "2026-12-01T01:10:00.462415+00:00"}],
    "next_cursor": "WyI5Il0"}


def with_versions(*versions: dict) -> dict:
    return {**METHODOLOGY, "versions": list(versions)}


IN_FORCE = {key: METHODOLOGY[key] for key in ("code", "title", "title_zh", "display_title",
                                              "description", "action_type", "mode", "scene",
                                              "utility")}
IN_FORCE_PAGE = {"items": [{**IN_FORCE, "version_in_force": FILED}], "next_cursor": None}
