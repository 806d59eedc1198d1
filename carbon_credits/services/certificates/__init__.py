"""The certified-reduction registry: issue lots from verified actions, transfer and retire
serials, verify a serial publicly, and check the registry's invariants. See docs/certificates.md.

    issuance.py    issue_lot, last_settled_day (the serial counter, eligible actions)
    transfers.py   transfer_serials, retire_serials (choosing and carving blocks), only for
                   lots whose latest verification statement is positive; a retirement may be
                   counted for a carbon-neutral event (services/events.py)
    verifications.py  sign_verification (a verifier's statement and its reproducible sample),
                   list_verifications, latest_verifications, refuse_unless_verified
    lookup.py      lots, their actions, holdings and events; the public serial lookup
    reversals.py   refuse_reversal_inside_lot, which `reverse_action` asks
    retirement_certificates.py  certify_retirement (with each retirement), signed_certificate
                   (the signed retirement certificate, docs/verification.md section 8)
    invariants.py  check_registry_invariants, check_retirement_certificates, run by `ledger verify`
    blocks.py      writing blocks and events, naming serials, locking a lot
Pure rules (units, serials, carving, periods, invariants' arithmetic): domain/certificates.py;
the verification sample and which opinion unlocks a lot: domain/verification.py.

Double counting is kept out by the database: an action's grams join at most one lot
(UNIQUE(action_id) on `certificate_lot_actions`), a lot issues whole units only from the grams
of its own actions (CHECK issued + remainder = verified), and reversing an action inside a lot
is refused (`refuse_reversal_inside_lot`, which `reverse_action` asks).

Lock order: issuance locks the registry's serial counter, then the chosen actions (by id);
transfers and retirements lock the lot, then its blocks (by serial); a verification statement
locks the lot. Reversals lock the action
first and then only read membership, so no cycle exists.
"""
from carbon_credits.services.certificates.blocks import LIVE_STATUSES, OBJECT_TYPE, serials_of
from carbon_credits.services.certificates.invariants import (check_registry_invariants,
                                                             check_retirement_certificates)
from carbon_credits.services.certificates.issuance import UNIT_MG, issue_lot, last_settled_day
from carbon_credits.services.certificates.lookup import (events_by_lot, get_lot_or_raise,
                                                         list_lots, lot_actions, lot_events,
                                                         lot_holdings, partner_names,
                                                         verify_serial)
from carbon_credits.services.certificates.retirement_certificates import signed_certificate
from carbon_credits.services.certificates.reversals import refuse_reversal_inside_lot
from carbon_credits.services.certificates.transfers import (RegistryMove, retire_serials,
                                                            transfer_serials)
from carbon_credits.services.certificates.verifications import (latest_verification,
                                                                latest_verifications,
                                                                list_verifications,
                                                                sign_verification)

__all__ = [
    "events_by_lot",
    "LIVE_STATUSES", "OBJECT_TYPE", "UNIT_MG", "RegistryMove",
    "check_registry_invariants", "check_retirement_certificates",
    "get_lot_or_raise", "issue_lot", "last_settled_day", "latest_verification",
    "latest_verifications", "list_lots", "list_verifications", "lot_actions", "lot_events",
    "lot_holdings", "partner_names", "refuse_reversal_inside_lot", "retire_serials", "serials_of",
    "sign_verification", "signed_certificate", "transfer_serials", "verify_serial",
]
