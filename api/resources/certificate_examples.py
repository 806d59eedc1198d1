"""Examples of the certified-lot operations in the API document (api/resources/certificates.py):
bodies as the service answers them, taken from a real run and fixed in time."""
from __future__ import annotations

LOT_ID = "a7c52df9-7d8b-4440-be6c-040e0dbfec6f"
BUYER_ID = "e015e575-ed9f-42fc-833d-0035c7b87f70"
SERIALS = "CC-SH-METRO-2026-000000001-000000009"
METHODOLOGY = {"code": "SH-METRO", "version": 1}
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}

LOT_REQUEST = {"methodology_code": "SH-METRO", "version": 1, "period_from": "2026-11-01",
               "period_to": "2026-11-30"}
UNVERIFIED = {"status": "unverified", "transferable": False, "statement_id": None,
              "signed_at": None, "verifier_organisation": None, "report_reference": None}
POSITIVE = {"status": "positive", "transferable": True, "statement_id": 1,
            "signed_at": "2026-12-02T06:40:02.373774+00:00",
            "verifier_organisation": "Jiangsu Carbon Verification Co.",
            "report_reference": "JCV-2026-0042"}
_FIGURES = {"serials": SERIALS, "quantity": 9, "unit_g": "1000.000", "issued_g": "9000.000",
            "issued_tco2e": "0.009000000", "verified_g": "9700.000",
            "remainder_unissued_g": "700.000", "action_count": 10}
LOT = {
    "id": LOT_ID, "status": "issued", "verification": UNVERIFIED, "methodology": METHODOLOGY,
    "period": PERIOD, "vintage_year": 2026, **_FIGURES,
    "summary": {**_FIGURES, "methodology": METHODOLOGY, "period": PERIOD, "vintage_year": 2026},
    "issued_at": "2026-12-02T06:30:02.355808+00:00", "review_period_days": 0}
VERIFIED_LOT = {**LOT, "verification": POSITIVE}

RETIRED_BLOCK = {"id": "c089689f-baea-4a22-b48b-b334f01cef93",
                 "serials": "CC-SH-METRO-2026-000000001-000000005", "quantity": 5,
                 "status": "retired", "holder_partner_id": BUYER_ID, "holder": "Acme Steel Ltd",
                 "beneficiary": "Acme Steel Ltd", "purpose": "Offset of 2026 business travel",
                 "retired_at": "2026-12-03T02:00:02.390143+00:00"}
SCHEME_BLOCK = {"id": "e51c1b9d-d697-4e14-8ba5-8e8fbb73a659",
                "serials": "CC-SH-METRO-2026-000000006-000000009", "quantity": 4,
                "status": "active", "holder_partner_id": None, "holder": "scheme issuance account",
                "beneficiary": None, "purpose": None, "retired_at": None}
LOT_DETAIL = {
    **VERIFIED_LOT, "holdings": [RETIRED_BLOCK, SCHEME_BLOCK],
    "events": [
        {"event": "issue", "serials": SERIALS, "quantity": 9, "from_partner_id": None,
         "to_partner_id": None, "beneficiary": None, "purpose": None,
         "created_at": "2026-12-02T06:30:02.365584+00:00"},
        {"event": "transfer", "serials": "CC-SH-METRO-2026-000000001-000000005", "quantity": 5,
         "from_partner_id": None, "to_partner_id": BUYER_ID, "beneficiary": None,
         "purpose": None, "created_at": "2026-12-02T07:00:02.384595+00:00"},
        {"event": "retire", "serials": "CC-SH-METRO-2026-000000001-000000005", "quantity": 5,
         "from_partner_id": BUYER_ID, "to_partner_id": None, "beneficiary": "Acme Steel Ltd",
         "purpose": "Offset of 2026 business travel",
         "created_at": "2026-12-03T02:00:02.392286+00:00"}]}

LOT_ACTIONS = {"items": [
    {"action_id": "0727010e-53eb-45e0-bb29-617ea6734053", "contributed_g": "970.000",
     "action_type": "transit", "mode": "metro", "category": None, "channel": "partner",
     "scheme_day": "2026-11-05", "occurred_at": "2026-11-05T00:20:00+00:00",
     "status": "credited"},
    {"action_id": "18faaf56-ce2b-4912-9bc4-04aa259e3c9e", "contributed_g": "970.000",
     "action_type": "transit", "mode": "metro", "category": None, "channel": "partner",
     "scheme_day": "2026-11-02", "occurred_at": "2026-11-02T00:20:00+00:00",
     "status": "credited"}],
    "next_cursor": "WyIxOGZhYWY1Ni1jZTJiLTQ5MTItOWJjNC0wNGFhMjU5ZTNjOWUiXQ"}

STATEMENT = {
    "id": 1, "lot_id": LOT_ID, "opinion": "positive", "unlocks_moves": True,
    "seed": "suzhou-2026-lot-7", "seed_drawn_by_server": False, "sample_method": "hmac-sha256-v1",
    "sample_size": 3,
    "sampled_action_ids": ["4c1754c0-d885-4f16-b432-f82808df5ff5",
                           "85ed8481-5eb8-470a-bb3c-6e00edf150f4",
                           "ca8de406-846a-4044-bd14-bdc1c065ea3b"],
    "findings": "3 of 3 sampled actions traced to operator records; quantification matches "
                "SH-METRO v1.",
    "verifier_organisation": "Jiangsu Carbon Verification Co.",
    "report_reference": "JCV-2026-0042",
    "verifier_user_id": "beda9f6a-e41c-4ce1-bd91-ac69beada4de",
    "signed_at": "2026-12-02T06:40:02.373774+00:00"}

TRANSFER_REQUEST = {"buyer_partner_id": BUYER_ID, "quantity": 5}
TRANSFER = {"lot_id": LOT_ID, "event": "transfer", "quantity": 5, "blocks": [
    {**RETIRED_BLOCK, "status": "active", "beneficiary": None, "purpose": None,
     "retired_at": None, "id": "3e337b36-dd67-4bc0-8e19-bba93bb301fd"}]}
EVENT_ID = "9b1e4c2a-7d3f-4a58-b6e0-2f1c3d4e5a6b"
RETIREMENT_REQUEST = {"holder_partner_id": BUYER_ID,
                      "first_serial": "CC-SH-METRO-2026-000000001",
                      "last_serial": "CC-SH-METRO-2026-000000005",
                      "beneficiary": "Suzhou Marathon 2026", "purpose": "Event neutrality",
                      "event_id": EVENT_ID}
RETIREMENT = {"lot_id": LOT_ID, "event": "retire", "quantity": 5,
              "blocks": [{**RETIRED_BLOCK, "beneficiary": "Suzhou Marathon 2026",
                          "purpose": "Event neutrality"}],
              "event_id": EVENT_ID, "certificate_id": "db4aac5a-1637-4aa0-b88b-fd256a0632ed"}

SERIAL_VERIFICATION = {
    "serial": "CC-SH-METRO-2026-000000004-000000006", "status": "mixed",
    "lot": {"serials": SERIALS, "methodology": METHODOLOGY, "period": PERIOD,
            "vintage_year": 2026, "quantity": 9, "unit_g": "1000.000",
            "issued_tco2e": "0.009000000", "action_count": 10,
            "issued_at": "2026-12-02T06:30:02.355808+00:00"},
    "blocks": [{key: block[key] for key in ("serials", "quantity", "status", "holder",
                                            "beneficiary", "purpose", "retired_at")}
               for block in (RETIRED_BLOCK, SCHEME_BLOCK)]}
