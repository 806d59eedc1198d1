"""The console's menu: each entry shows only to those who may open it (`can`)."""
from __future__ import annotations

NAV = (
    ("console.home", "Overview"),
    ("console.methodologies", "Methodologies"),
    ("console.review_queue", "Review queue"),
    ("console.adjustment_list", "Adjustments"),
    ("console.lots", "Lots"),
    ("console.audit_log", "Audit log"),
    ("console.ledger_status", "Ledger"),
    ("console.reports", "Reports"),
    ("console.desk", "Voucher desk"),
    ("console.settlement", "Settlement"),
)
