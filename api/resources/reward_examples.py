"""Examples of the rewards operations in the API document (api/resources/rewards.py): bodies as
the service answers them, taken from a real run and fixed in time."""
from __future__ import annotations

REWARD_ID = "8eff5a66-3508-48c4-a108-b31686ec52eb"
PARTNER_ID = "9a33c15b-5a72-4e28-9d60-e69a66758f74"
REDEMPTION_ID = "9c1f322e-c01f-4dab-a0f9-44bbfed6fde2"
CURSOR = "WyIyMDI2LTEyLTAxVDAyOjAwOjAwKzAwOjAwIiwiOGVmZjVhNjYtMzUwOC00OGM0LWExMDgtYjMxNjg2ZWM1MmViIl0"

REWARD_CREATE = {
    "title": "Oat latte", "description": "One medium oat latte", "points_cost": 120, "stock": 50,
    "valid_from": "2026-12-01T00:00:00+08:00", "valid_until": "2027-01-01T00:00:00+08:00",
    "per_citizen_limit": 2, "category": "food_drink",
    "image_url": "https://cdn.example.com/rewards/oat-latte.jpg"}
REWARD = {
    "id": REWARD_ID, "partner_id": PARTNER_ID, "merchant_name": "Green Leaf Tea House",
    "title": "Oat latte", "description": "One medium oat latte", "category": "food_drink",
    "image_url": "https://cdn.example.com/rewards/oat-latte.jpg", "points_cost": 120,
    "stock": 50, "valid_from": "2026-11-30T16:00:00+00:00",
    "valid_until": "2026-12-31T16:00:00+00:00", "per_citizen_limit": 2, "active": True,
    "created_at": "2026-12-01T02:00:00.031855+00:00",
    "updated_at": "2026-12-01T02:00:00.031855+00:00"}
REWARD_UPDATE = {"stock": 40, "points_cost": 100}
UPDATED_REWARD = {**REWARD, "stock": 40, "points_cost": 100,
                  "updated_at": "2026-12-02T03:10:00.700766+00:00"}


def page(*items: dict, next_cursor: str | None = CURSOR) -> dict:
    return {"items": list(items), "next_cursor": next_cursor}


RESERVED = {
    "id": REDEMPTION_ID, "reward_id": REWARD_ID, "reward_title": "Oat latte",
    "status": "reserved", "points": 120, "voucher_code": "B3FH2-7KMYG",
    "qr_url": f"/api/v1/redemptions/{REDEMPTION_ID}/qr.png",
    "expires_at": "2026-12-01T02:45:39.142002+00:00",
    "reserved_at": "2026-12-01T02:15:39.142002+00:00", "redeemed_at": None,
    "cancelled_at": None, "expired_at": None}
REDEEMED = {**RESERVED, "status": "redeemed",
            "redeemed_at": "2026-12-01T02:21:07.176032+00:00"}
CANCELLED = {**RESERVED, "status": "cancelled",
             "cancelled_at": "2026-12-01T02:18:40.680309+00:00"}
# What the till sees before confirming: the holder masked, never their e-mail, phone or id.
VOUCHER_LOOKUP = {
    "id": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", "voucher_code": "ABCDE-12345",
    "reward_id": REWARD_ID, "reward_title": "Oat latte", "points": 120, "status": "reserved",
    "holder": "王**", "expires_at": "2026-12-01T02:30:00+00:00",
    "reserved_at": "2026-12-01T02:00:00+00:00", "redeemed_at": None, "confirmable": True,
    "refusal_code": None, "refusal_detail": None}
CONFIRMED = {"id": REDEMPTION_ID, "reward_id": REWARD_ID, "reward_title": "Oat latte",
             "status": "redeemed", "points": 120, "voucher_code": "B3FH2-7KMYG",
             "redeemed_at": "2026-12-01T02:21:07.176032+00:00"}

SETTLEMENT = {
    "partner_id": PARTNER_ID, "from": "2026-12-01", "to": "2026-12-02",
    "timezone": "Asia/Shanghai",
    "items": [
        {"date": "2026-12-01", "reward_id": REWARD_ID, "reward_title": "Oat latte",
         "vouchers_confirmed": 2, "points_redeemed": 240},
        {"date": "2026-12-02", "reward_id": "21f51d2d-b25e-475e-811a-6457a5c04946",
         "reward_title": "Tote bag", "vouchers_confirmed": 1, "points_redeemed": 75}],
    "total_vouchers_confirmed": 3, "total_points_redeemed": 315}
SETTLEMENT_LINES = {
    "partner_id": PARTNER_ID, "from": "2026-12-01", "to": "2026-12-02",
    "timezone": "Asia/Shanghai",
    "items": [
        {"redemption_id": REDEMPTION_ID, "voucher_code": "B3FH2-7KMYG", "reward_id": REWARD_ID,
         "reward_title": "Oat latte", "points": 120,
         "redeemed_at": "2026-12-01T02:21:07.176032+00:00",
         "confirmed_by": "97cbf254-86fd-4313-be9b-7a556c24e649", "holder": "王**"},
        {"redemption_id": "48ecf00f-64ac-4ce7-bdbd-3849dafc7b4a", "voucher_code": "BSABN-4SZJ9",
         "reward_id": REWARD_ID, "reward_title": "Oat latte", "points": 120,
         "redeemed_at": "2026-12-01T05:40:12.300000+00:00",
         "confirmed_by": "edf1b276-0050-4449-a361-f980ebc782ea", "holder": "L**"}],
    "next_cursor": "WyIyMDI2LTEyLTAxVDA1OjQwOjEyLjMwMDAwMCswMDowMCIsIjQ4ZWNmMDBmLTY0YWMtNGNlNy1i"
                   "ZGJkLTM4NDlkYWZjN2I0YSJd",
    "total_vouchers_confirmed": 3, "total_points_redeemed": 315}
