"""Pure ledger rules: posting input bounds, lot allocation, clawback caps, calendar months,
the hash-chain link, and the invariants `verify` checks (transfer shapes, the balance walk,
account figures, holds, reversals). The services feed them rows; nothing here touches a database.
"""
from __future__ import annotations

import calendar
import collections
import dataclasses
import datetime as dt
import hashlib
import json

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.vocabulary import MAX_BALANCE_POINTS, MAX_POINTS as MAX_TRANSFER_POINTS  # noqa: F401

GENESIS_HASH = "0" * 64
# The transfer columns a hash-chain seal covers: changing any of them breaks the chain.
SEALED_FIELDS = ("seq", "id", "posting_id", "kind", "reason", "debit_account_id",
                 "credit_account_id", "amount", "citizen_account_id", "balance_after",
                 "action_id", "redemption_id", "hold_id", "reversal_of", "external_ref",
                 "event_time", "recorded_at")
MAX_REF_LENGTH = 200
# Which account kinds each transfer kind moves points between (debit, credit).
TRANSFER_SHAPES = {
    "earn": ("issuance", "citizen"),
    "reserve": ("citizen", "holds"),
    "release": ("holds", "citizen"),
    "redeem": ("holds", "merchant"),
    "expire": ("citizen", "expiry"),
    "reversal": ("citizen", "issuance"),
    # An erased citizen's remaining balance (DELETE /me).
    "forfeit": ("citizen", "forfeiture"),
    # Points given to a public-good project (POST /me/donations); nothing moves them again.
    "donate": ("citizen", "project"),
    # A campaign bonus claimed by a citizen (docs/engagement.md): no grams behind it.
    "bonus": ("incentive", "citizen"),
    # A bonus taken back because actions behind it were reversed (docs/engagement.md).
    "bonus_reversal": ("citizen", "incentive"),
}
# A manual correction goes either way between issuance and a citizen.
ADJUSTMENT_SHAPES = {("issuance", "citizen"), ("citizen", "issuance")}
# The transfer that settles a hold in each status; a pending hold has only its `reserve`.
HOLD_SETTLEMENT_KINDS = {"pending": None, "posted": "redeem", "voided": "release",
                         "expired": "release"}


# ---------------------------------------------------------------------------------------------
# Posting input


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={field: [message]})


def check_points(value, field: str = "amount") -> None:
    """A transfer moves a whole number of points from 1 to MAX_TRANSFER_POINTS."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_TRANSFER_POINTS:
        raise invalid(field, f"Must be a whole number of points from 1 to "
                             f"{MAX_TRANSFER_POINTS}.")


def check_time(value, field: str) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise invalid(field, "Must be an aware datetime.")


def check_ref(value, field: str = "external_ref") -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_REF_LENGTH or "\x00" in value:
        raise invalid(field, f"Must be 1-{MAX_REF_LENGTH} characters.")


def check_reason(value, field: str = "reason", maximum: int = 64) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > maximum or "\x00" in value:
        raise invalid(field, f"Must be 1-{maximum} characters.")


# ---------------------------------------------------------------------------------------------
# Lots, clawbacks, calendar


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day and time `months` later; the 31st becomes the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def allocate_fifo(lots: list[tuple[object, int]], amount: int) -> list[tuple[object, int]]:
    """Take `amount` from `(lot_id, remaining)` pairs in the order given (oldest first).

    Returns `(lot_id, taken)` for each lot touched. The caller guarantees the lots cover it.
    """
    if amount <= 0:
        return []
    taken: list[tuple[object, int]] = []
    left = amount
    for lot_id, remaining in lots:
        if left == 0:
            break
        take = min(remaining, left)
        if take > 0:
            taken.append((lot_id, take))
            left -= take
    if left:
        raise ValueError(f"lots short by {left} points")
    return taken


def clawback(*, earned: int, available: int) -> tuple[int, int]:
    """A reversal takes back what is left, never more: `(clawed_back, shortfall)`."""
    clawed = max(0, min(earned, available))
    return clawed, earned - clawed


def balances_while_emptying(amounts: list[int], balance_after: int) -> list[int]:
    """The balance after each of a run of debits (one per lot emptied) that ends at
    `balance_after`."""
    running = balance_after + sum(amounts)
    balances = []
    for amount in amounts:
        running -= amount
        balances.append(running)
    return balances


def signed_amount(*, debit_account_id, credit_account_id, amount: int, account_id) -> int:
    """A transfer's change to one account: + when credited, - when debited, else 0."""
    if credit_account_id == account_id:
        return amount
    if debit_account_id == account_id:
        return -amount
    return 0


# ---------------------------------------------------------------------------------------------
# The hash chain


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def canonical_transfer(fields: dict) -> str:
    """The canonical text a seal covers: sorted keys, UTC times, ids as strings."""
    normalised = {}
    for key, value in fields.items():
        if isinstance(value, dt.datetime):
            value = _iso(value)
        elif value is not None and not isinstance(value, (int, str)):
            value = str(value)
        normalised[key] = value
    return json.dumps(normalised, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, canonical: str) -> str:
    """One link: sha256 over the previous link's hash and the transfer's canonical content."""
    return hashlib.sha256((prev_hash + "\n" + canonical).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Invariants (verify)


def shape_problem(kind: str, debit_kind: str, credit_kind: str) -> str | None:
    """Why a transfer of `kind` may not move points from a `debit_kind` to a `credit_kind`
    account (None: it may)."""
    shape = TRANSFER_SHAPES.get(kind)
    if shape and (debit_kind, credit_kind) != shape:
        return f"moves {debit_kind} -> {credit_kind}, expected {shape[0]} -> {shape[1]}"
    if kind == "adjustment" and (debit_kind, credit_kind) not in ADJUSTMENT_SHAPES:
        return f"moves {debit_kind} -> {credit_kind}, expected issuance <-> citizen"
    return None


@dataclasses.dataclass
class TransferWalk:
    """Replays transfers in `seq` order: what each account's transfers sum to, each citizen's
    last `balance_after`, and every transfer that does not fit (`account_kinds`: id -> kind)."""
    account_kinds: dict
    derived: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(int))
    last_after: dict = dataclasses.field(default_factory=dict)
    count: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    def add(self, t) -> None:
        """`t` has a transfer's columns as attributes."""
        self.count += 1
        label = f"transfer {t.id} (seq {t.seq}, {t.kind})"
        if t.amount is None or t.amount <= 0:
            self.problems.append(f"{label}: amount {t.amount} is not positive")
            return
        self.derived[t.debit_account_id] -= t.amount
        self.derived[t.credit_account_id] += t.amount
        debit = self.account_kinds.get(t.debit_account_id)
        credit = self.account_kinds.get(t.credit_account_id)
        if debit is None or credit is None:
            self.problems.append(f"{label}: unknown account")
            return
        wrong_shape = shape_problem(t.kind, debit, credit)
        if wrong_shape:
            self.problems.append(f"{label}: {wrong_shape}")
        if t.citizen_account_id is not None:
            self._follow_balance(t, label)

    def _follow_balance(self, t, label: str) -> None:
        """Each `balance_after` is the citizen's previous one plus this transfer's change."""
        account_id = t.citizen_account_id
        expected = self.last_after.get(account_id, 0) + signed_amount(
            debit_account_id=t.debit_account_id, credit_account_id=t.credit_account_id,
            amount=t.amount, account_id=account_id)
        if t.balance_after != expected:
            self.problems.append(f"{label}: balance_after {t.balance_after}, the entries before "
                                 f"it give {expected}")
        self.last_after[account_id] = t.balance_after if t.balance_after is not None else expected

    def double_entry_problems(self) -> list[str]:
        """Every point leaves one account for another: all accounts together sum to zero."""
        total = sum(self.derived.values())
        return [] if total == 0 else [f"double entry broken: balances sum to {total}, not 0"]


@dataclasses.dataclass(frozen=True)
class AccountFigures:
    """One account's stored row beside what the other tables say about it."""
    id: int
    kind: str
    balance: int
    reserved: int
    derived: int = 0            # what its transfers sum to
    pending_holds: int = 0      # its pending holds
    live_lots: int = 0          # what is left in its lots
    last_after: int = 0         # its last `balance_after`
    all_pending_holds: int = 0  # every citizen's pending holds (the holds account owes them)

    @property
    def name(self) -> str:
        return f"account {self.id} ({self.kind})"


def _not_negative(a: AccountFigures) -> str | None:
    if a.balance < 0 or a.reserved < 0:
        return f"{a.name}: negative balance {a.balance}/{a.reserved}"
    return None


def _balance_is_its_transfers(a: AccountFigures) -> str | None:
    if a.kind in ("citizen", "merchant") and a.balance != a.derived:
        return f"{a.name}: stored balance {a.balance} but its transfers sum to {a.derived}"
    return None


def _reserved_is_its_pending_holds(a: AccountFigures) -> str | None:
    if a.kind == "citizen" and a.reserved != a.pending_holds:
        return f"{a.name}: reserved {a.reserved} but pending holds total {a.pending_holds}"
    return None


def _balance_is_its_live_lots(a: AccountFigures) -> str | None:
    if a.kind == "citizen" and a.balance != a.live_lots:
        return f"{a.name}: balance {a.balance} but live lots hold {a.live_lots}"
    return None


def _balance_is_its_last_balance_after(a: AccountFigures) -> str | None:
    if a.kind == "citizen" and a.last_after != a.balance:
        return f"{a.name}: last balance_after {a.last_after} differs from the balance {a.balance}"
    return None


def _holds_account_is_pending_holds(a: AccountFigures) -> str | None:
    if a.kind == "holds" and a.derived != a.all_pending_holds:
        return f"{a.name}: holds {a.derived} but pending holds total {a.all_pending_holds}"
    return None


def _sinks_never_negative(a: AccountFigures) -> str | None:
    if a.kind in ("expiry", "forfeiture", "project") and a.derived < 0:
        return f"{a.name}: {a.kind} account is negative ({a.derived})"
    return None


def _issuance_never_positive(a: AccountFigures) -> str | None:
    if a.kind in ("issuance", "incentive") and a.derived > 0:
        return f"{a.name}: issuance account is positive ({a.derived})"
    return None


ACCOUNT_CHECKS = (_not_negative, _balance_is_its_transfers, _reserved_is_its_pending_holds,
                  _balance_is_its_live_lots, _balance_is_its_last_balance_after,
                  _holds_account_is_pending_holds, _sinks_never_negative,
                  _issuance_never_positive)


def account_problems(figures: AccountFigures) -> list[str]:
    """Every account invariant `figures` break, in a fixed order."""
    return [problem for check in ACCOUNT_CHECKS if (problem := check(figures)) is not None]


def expected_hold_legs(status: str, amount: int) -> list[tuple[str, int]]:
    """The transfers a hold in `status` carries: its reserve, then its settlement if any."""
    legs = [("reserve", amount)]
    if HOLD_SETTLEMENT_KINDS[status]:
        legs.append((HOLD_SETTLEMENT_KINDS[status], amount))
    return legs


def hold_problems(*, hold_id, status: str, amount: int, legs: list, allocated) -> list[str]:
    """A hold's transfers are its expected legs; its lot allocations add up to its amount."""
    problems = []
    expected = expected_hold_legs(status, amount)
    if sorted(legs) != sorted(expected):
        problems.append(f"hold {hold_id} ({status}): transfers {legs}, expected {expected}")
    if int(allocated) != amount:
        problems.append(f"hold {hold_id}: lots allocated {allocated}, expected {amount}")
    return problems


def reversal_problem(*, reversal_id, earned: int, clawed_back: int, shortfall: int,
                     clawed_amount: int | None) -> str | None:
    """What was earned is what was clawed back (the transfer's amount) plus the shortfall."""
    if clawed_back + shortfall != earned or (clawed_amount or 0) != clawed_back:
        return (f"reversal {reversal_id}: earned {earned}, clawed back {clawed_back} (transfer "
                f"{clawed_amount}), shortfall {shortfall} do not add up")
    return None
