"""The points ledger: double-entry postings, two-phase holds, FIFO lots, reversals, the hash
chain and verify. Design and the reasons behind each rule: docs/ledger.md; the pure rules:
carbon_credits/domain/ledger.py.

    core      table handles, value objects, accounts and their locks, moves, transfers, lots
    postings  earn, reversal, adjustment
    expiry    lots past their expiry, an erased account's forfeiture
    holds     reserve, post, void, expire due holds
    donations a citizen's points given to a public-good project's account
    reads     balance, statement
    chain     hash-chain sealing
    verify    verify_ledger, one checker per invariant

Every posting service is one unit of work that joins the caller's when one is open, so the
actions and rewards modules can credit or spend inside their own transaction.

Concurrency: everything about one citizen is serialised by that citizen's account row, locked
first (`FOR NO KEY UPDATE`, sorted by id when several); then idempotency checks, holds and lots
are read fresh under that lock. System accounts (issuance, holds, expiry, forfeiture) are never
locked and keep no running balance. Postings never touch the hash chain; `seal_pending` does,
later.

Callers import from here (`from carbon_credits.services import ledger`); the names below are
the package's outside surface.
"""
from carbon_credits.domain import ledger as rules
from carbon_credits.domain.ledger import (ADJUSTMENT_SHAPES, MAX_REF_LENGTH, SEALED_FIELDS,
                                          TRANSFER_SHAPES)
from carbon_credits.services.ledger.core import (
    ACCOUNTS, HEAD, HOLD_LOTS, HOLDS, LOTS, MAX_BATCH, REVERSALS, SEALS, TRANSFERS, Balance,
    EarnEntry, StatementEntry, forget_system_accounts, open_citizen_account)
from carbon_credits.services.ledger.core import system_account_id as _system_account_id
from carbon_credits.services.ledger.postings import (check_credited, citizen_lock_call,
                                                     earn_calls, lock_citizen_account,
                                                     post_adjustment, post_earn, post_earns,
                                                     post_new_earns, reverse_earn)
from carbon_credits.services.ledger.expiry import expire_due_lots, forfeit_balance
from carbon_credits.services.ledger.holds import (expire_due_holds, post_hold, reserve,
                                                  void_hold)
from carbon_credits.services.ledger.reads import (get_available_balance, get_balance,
                                                  list_statement, statement_entry)
from carbon_credits.services.ledger.chain import seal_all, seal_pending
from carbon_credits.services.ledger.donations import open_project_account, post_donation
from carbon_credits.services.ledger.verify import VerifyReport, verify_ledger

__all__ = [
    "ACCOUNTS", "ADJUSTMENT_SHAPES", "Balance", "EarnEntry", "HEAD", "HOLDS", "HOLD_LOTS",
    "LOTS", "MAX_BATCH", "MAX_REF_LENGTH", "REVERSALS", "SEALED_FIELDS", "SEALS",
    "StatementEntry", "TRANSFERS", "TRANSFER_SHAPES", "VerifyReport", "_system_account_id",
    "check_credited", "citizen_lock_call", "earn_calls", "lock_citizen_account",
    "open_citizen_account", "open_project_account", "post_donation",
    "expire_due_holds", "expire_due_lots", "forfeit_balance", "forget_system_accounts",
    "get_available_balance", "get_balance", "list_statement", "post_adjustment", "post_earn",
    "post_earns", "post_hold", "post_new_earns", "reserve", "reverse_earn", "rules", "seal_all",
    "seal_pending", "statement_entry", "verify_ledger", "void_hold",
]
