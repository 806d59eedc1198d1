"""The indexes the credit path and the main reads rely on stay in their plans, and partial
indexes keep their predicates (docs/indexes.md).

The plan tests run the services themselves inside one transaction that is rolled back: the
tables are first filled with enough rows (a year of a few hundred citizens) and analysed, the
service runs and its SQL is recorded, and each recorded statement is EXPLAINed there. A change
that loses an index (a dropped index, a predicate the query no longer implies, a query rewritten
so the index no longer fits) fails here instead of slowing production down.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import text

from models import db
from models.partitions import is_partition
from tests.api.test_actions import operator, recent, rider, seeded, trip  # noqa: F401

UTC = dt.timezone.utc


# --- partial indexes: alembic's comparison ignores WHERE, so this test does not -------------

def _normalised(predicate: str) -> str:
    return re.sub(r"\s+", " ", predicate.replace("(", "").replace(")", "")).strip().lower()


def _declared_predicates(dialect: str) -> dict[tuple[str, str], str]:
    """(table, index) -> WHERE, as the models declare it (PostgreSQL: as it would store it)."""
    found = {}
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            where = index.dialect_kwargs.get(f"{dialect}_where")
            if where is not None:
                found[(table.name, index.name)] = _normalised(
                    _as_postgresql_stores_it(table.name, index, str(where))
                    if dialect == "postgresql" else str(where))
    return found


def _as_postgresql_stores_it(table: str, index, predicate: str) -> str:
    """PostgreSQL rewrites a predicate (`IN` becomes `= ANY (ARRAY[...])`, casts appear): build
    the same partial index on an empty copy of the table and read it back."""
    db.session.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS probe_{table} "
                            f"(LIKE public.{table}) ON COMMIT DROP"))
    column = index.expressions[0].name
    db.session.execute(text(f"CREATE INDEX probe_index ON probe_{table} ({column}) "
                            f"WHERE {predicate}"))
    stored = db.session.execute(text(
        "SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
        "WHERE indexrelid = 'probe_index'::regclass")).scalar_one()
    db.session.execute(text("DROP INDEX probe_index"))
    return stored


def _migrated_predicates(dialect: str) -> dict[tuple[str, str], str]:
    if dialect == "postgresql":
        rows = db.session.execute(text(
            "SELECT t.relname, i.relname, pg_get_expr(x.indpred, x.indrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = 'public' AND x.indpred IS NOT NULL")).all()
        rows = [row for row in rows if not is_partition(row[0])]  # months repeat their table
    else:
        found = db.session.execute(text("SELECT tbl_name, name, sql FROM sqlite_master "
                                        "WHERE type = 'index' AND sql LIKE '% WHERE %'"))
        rows = [(table, name, sql.split(" WHERE ", 1)[1]) for table, name, sql in found]
    return {(table, name): _normalised(where) for table, name, where in rows}


def test_partial_indexes_have_the_predicates_the_models_declare(app_ctx):
    """Alembic's model/migration comparison ignores an index's WHERE; this one does not."""
    dialect = db.engine.dialect.name
    migrated = _migrated_predicates(dialect)
    assert ("ledger_transfers", "ix_ledger_transfers_hold_id") in migrated
    assert migrated == _declared_predicates(dialect)
    db.session.rollback()


def test_a_partner_record_id_is_refused_twice_and_app_claims_never_collide(app, actors,
                                                                          operator):  # noqa: F811
    """The unique index is partial now: app claims (no partner, no record id) are outside it,
    and a partner's record id is still the database's to refuse a second time."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from models import Action
    citizen = actors.user("citizen")
    now = dt.datetime.now(UTC)

    def row(**record):
        return {"id": uuid.uuid4(), "user_id": citizen.id, "channel": "app",
                "action_type": "transit", "scope_key": "transit:walk", "occurred_at": now,
                "scheme_day": now.date(), "inputs": {}, "status": "rejected", "reasons": [],
                "credited_mg": 0, "points": 0, "points_per_gram": 1, "created_at": now,
                **record}

    partner_record = {"channel": "partner", "partner_id": operator.id, "external_id": "R-1"}
    with app.app_context():
        db.session.execute(insert(Action), [row(), row(), row(**partner_record)])
        db.session.commit()
        refused = "uq_actions_partner_external_id|action_keys.partner_id, action_keys.external_id"
        with pytest.raises(IntegrityError, match=refused):
            db.session.execute(insert(Action), [row(**partner_record)])
        db.session.rollback()
        db.session.remove()


# --- plans on crowded tables (PostgreSQL) ---------------------------------------------------

@dataclasses.dataclass
class World:
    rider: uuid.UUID
    auditor: uuid.UUID
    partner: uuid.UUID
    card: str
    action_id: uuid.UUID  # the rider's credited walk, with its earn
    redemption_id: uuid.UUID  # a redemption of one of the crowd's holds


@pytest.fixture
def world(app, client, seeded, operator, rider, actors):  # noqa: F811
    auditor = actors.user("auditor")
    walk = client.post("/api/v1/actions", json=trip(recent(30), minutes=30, km=2, mode="walk"),
                       headers=rider.headers)
    assert walk.json["status"] == "credited", walk.json
    return World(rider=rider.id, auditor=auditor.id, partner=operator.id, card="CARD-0001",
                 action_id=uuid.UUID(walk.json["id"]), redemption_id=uuid.uuid4())


class _Undo(Exception):
    pass


@contextlib.contextmanager
def crowded(app, world: World):
    """Inside one transaction, rolled back at the end: the crowd's rows, analysed."""
    from carbon_credits.services.uow import unit_of_work
    with app.app_context():
        try:
            with unit_of_work():
                _year_of_partitions()
                _fill(world)
                _learn_partition_indexes()
                for table in ("users", "actions", "ledger_accounts", "ledger_transfers",
                              "ledger_holds", "ledger_lots", "daily_credits", "idempotency_keys"):
                    db.session.execute(text(f"ANALYZE {table}"))
                yield
                raise _Undo
        except _Undo:
            pass
        finally:
            db.session.remove()


def _year_of_partitions() -> None:
    """The past year's months (a fresh test database has them from this month on), so the
    crowd's year of rows spreads over its months as in production."""
    from models.partitions import PARTITIONED, add_months, create_partition_sql, month_start
    this_month = month_start(dt.datetime.now(UTC))
    for table in PARTITIONED:
        for back in range(1, 13):
            db.session.execute(text(create_partition_sql(table, add_months(this_month, -back))))


def _fill(world: World) -> None:
    """400 citizens with a year of actions (the rider among them), their earns and lots (the
    balances made to match), some holds, the daily-cap rows and a day of idempotency keys."""
    params = {"rider": world.rider, "partner": world.partner, "redemption": world.redemption_id}
    for statement in FILL:
        db.session.execute(text(statement), params)


FILL = [
    """INSERT INTO ledger_accounts (kind, system_code, balance, reserved, created_at)
       VALUES ('issuance', 'issuance', 0, 0, now()), ('holds', 'holds', 0, 0, now())
       ON CONFLICT (system_code) DO NOTHING""",
    """INSERT INTO users (id, email, display_name, password_hash, leaderboard_visibility,
                          created_at)
       SELECT gen_random_uuid(), 'crowd' || g || '@crowd.test', 'Crowd ' || g, 'x', 'named',
              now() FROM generate_series(1, 400) g""",
    """INSERT INTO ledger_accounts (kind, user_id, balance, reserved, created_at)
       SELECT 'citizen', id, 0, 0, now() FROM users WHERE email LIKE '%@crowd.test'""",
    # 30,000 actions over a year: mostly credited app walks and partner metro trips, a few
    # pending, rejected or duplicate, and waste sorting (no window); 75 of them the rider's,
    # as many as any of the crowd's.
    """CREATE TEMPORARY TABLE crowd ON COMMIT DROP AS
       SELECT g, CASE WHEN g % 401 = 0 THEN CAST(:rider AS uuid) ELSE u.id END AS user_id,
              now() - (g % 365) * interval '1 day' - (g % 17) * interval '1 hour' AS at,
              CASE WHEN g % 10 = 0 THEN 'waste_sorting' ELSE 'transit' END AS action_type,
              CASE WHEN g % 10 = 0 THEN NULL WHEN g % 5 = 1 THEN 'metro' ELSE 'walk' END AS mode,
              CASE WHEN g % 40 = 3 THEN 'pending_review' WHEN g % 40 = 7 THEN 'rejected'
                   WHEN g % 40 = 9 THEN 'duplicate' ELSE 'credited' END AS status
       FROM generate_series(1, 30000) g
            JOIN (SELECT id, row_number() OVER (ORDER BY email) - 1 AS n FROM users
                  WHERE email LIKE '%@crowd.test') u ON u.n = g % 400""",
    """INSERT INTO actions (id, user_id, channel, partner_id, external_id, action_type, mode,
                            scope_key, occurred_at, started_at, ended_at, scheme_day, inputs,
                            status, reasons, methodology_version_id, reduction_mg, credited_mg,
                            points, points_per_gram, created_at)
       SELECT gen_random_uuid(), user_id,
              CASE WHEN mode = 'metro' THEN 'partner' ELSE 'app' END,
              CASE WHEN mode = 'metro' THEN CAST(:partner AS uuid) END,
              CASE WHEN mode = 'metro' THEN 'CROWD-' || g END, action_type, mode,
              action_type || COALESCE(':' || mode, ''), at,
              CASE WHEN mode IS NOT NULL THEN at - interval '20 minutes' END,
              CASE WHEN mode IS NOT NULL THEN at END, CAST(at AS date), '{}', status, '[]',
              v.id, 50000, CASE WHEN status = 'credited' THEN 50000 ELSE 0 END,
              CASE WHEN status = 'credited' THEN 50 ELSE 0 END, 1, at + interval '1 minute'
       FROM crowd LEFT JOIN (SELECT DISTINCT ON (m.scope_key) m.scope_key, v.id
                             FROM methodology_versions v
                                  JOIN methodologies m ON m.id = v.methodology_id
                             ORDER BY m.scope_key, v.version) v
            ON v.scope_key = crowd.action_type || COALESCE(':' || crowd.mode, '')""",
    # The credited actions' earns, and their lots (a few spent, a few due).
    """INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id,
                                     credit_account_id, amount, citizen_account_id,
                                     balance_after, action_id, external_ref, event_time,
                                     recorded_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'earn', 'action_credited',
              (SELECT id FROM ledger_accounts WHERE system_code = 'issuance'), acc.id, 50,
              acc.id, 50, a.id, 'crowd:' || a.id, a.occurred_at, a.created_at
       FROM actions a JOIN ledger_accounts acc ON acc.user_id = a.user_id
       WHERE a.status = 'credited' AND a.reduction_mg = 50000""",
    """INSERT INTO ledger_lots (account_id, earn_transfer_id, amount, remaining,
                                expired_amount, expires_at, created_at)
       SELECT credit_account_id, id, amount, CASE WHEN seq % 7 = 0 THEN 0 ELSE amount END, 0,
              event_time + CASE WHEN seq % 97 = 0 THEN interval '1 day'
                                ELSE interval '24 months' END, recorded_at
       FROM ledger_transfers WHERE external_ref LIKE 'crowd:%'""",
    """UPDATE ledger_accounts a SET balance = a.balance + lots.remaining
       FROM (SELECT l.account_id, sum(l.remaining) AS remaining FROM ledger_lots l
             JOIN ledger_transfers t ON t.id = l.earn_transfer_id
             WHERE t.external_ref LIKE 'crowd:%' GROUP BY l.account_id) lots
       WHERE a.id = lots.account_id""",
    # Holds (one of them the redemption the statement test asks about) and their reserves.
    """INSERT INTO ledger_holds (id, account_id, amount, status, redemption_id, external_ref,
                                 expires_at, created_at, settled_at)
       SELECT gen_random_uuid(), acc.id, 10, 'posted',
              CASE WHEN g = 1 THEN CAST(:redemption AS uuid) ELSE gen_random_uuid() END,
              'crowd-hold:' || g, now() - interval '1 day', now() - interval '2 days',
              now() - interval '1 day'
       FROM generate_series(1, 600) g
            JOIN ledger_accounts acc ON acc.user_id =
                 CASE WHEN g = 1 THEN CAST(:rider AS uuid) ELSE
                      (SELECT id FROM users WHERE email = 'crowd' || (g % 400 + 1)
                       || '@crowd.test') END""",
    """INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id,
                                     credit_account_id, amount, citizen_account_id,
                                     balance_after, redemption_id, hold_id, external_ref,
                                     event_time, recorded_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'reserve', 'redemption_reserved',
              h.account_id, (SELECT id FROM ledger_accounts WHERE system_code = 'holds'), 10,
              h.account_id, 40, h.redemption_id, h.id, h.external_ref, h.created_at,
              h.created_at
       FROM ledger_holds h WHERE h.external_ref LIKE 'crowd-hold:%'""",
    """INSERT INTO daily_credits (user_id, scope_key, scheme_day, credited_mg)
       SELECT user_id, scope_key, scheme_day, 0 FROM actions
       GROUP BY user_id, scope_key, scheme_day ON CONFLICT DO NOTHING""",
    # A day of idempotency keys, a few past their retention.
    """INSERT INTO idempotency_keys (principal, key, fingerprint, status_code, created_at)
       SELECT 'user:' || (g % 400), md5(g::text), repeat('f', 64), 201,
              now() - (g % 1440) * interval '1 minute'
                    - CASE WHEN g % 100 = 0 THEN interval '2 days' ELSE interval '0' END
       FROM generate_series(1, 20000) g""",
]


def _plan_indexes(sql: str, params) -> set[str]:
    """Indexes the plan of `sql` reads or arbitrates its ON CONFLICT with."""
    if not isinstance(params, dict):
        params = params[0]
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}",
                                                   params).scalar()
    found: set[str] = set()

    def walk(node):
        if "Index Name" in node:
            found.add(node["Index Name"])
        found.update(node.get("Conflict Arbiter Indexes", []))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found | {_PARENT_INDEX.get(name, name) for name in found}


# A month's index in a partitioned table -> the index declared on the table (migration 0014).
_PARENT_INDEX: dict[str, str] = {}


def _learn_partition_indexes() -> None:
    _PARENT_INDEX.update(db.session.execute(text(
        "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'")).all())


def _recorded(call) -> list[tuple[str, object]]:
    from carbon_credits.services.statements import recording
    from carbon_credits.domain.errors import DomainError
    with recording() as seen:
        try:
            call()
        except DomainError:
            pass  # the statements before the refusal are what is examined
    return [(sql, params) for sql, params in seen.statements
            if sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))]


# The services each check runs: world -> the call.

def _statement(**filters):
    from carbon_credits.services import ledger
    return lambda w: lambda: ledger.list_statement(
        user_id=w.rider, **{name: getattr(w, attr) for name, attr in filters.items()})


def _review_reversal(w: World):
    from carbon_credits.services import reviews
    return lambda: reviews.reverse_action(action_id=w.action_id, actor_user_id=w.auditor,
                                          reason="index check")


def _reversal_by_action(w: World):
    from carbon_credits.services import ledger
    return lambda: ledger.reverse_earn(action_id=w.action_id, reason="index check",
                                       actor_user_id=w.auditor)


def _verify(w: World):
    from carbon_credits.services import ledger
    return ledger.verify_ledger


def _actions_list(**filters):
    from carbon_credits.services import action_reads
    return lambda w: lambda: action_reads.list_actions(
        user_id=w.rider if filters.pop("mine", False) else None, **filters)


def _app_walk(w: World):
    from carbon_credits.services import actions
    start = recent(3)
    end = start + dt.timedelta(minutes=30)
    return lambda: actions.record_app_action(user_id=w.rider, submission=actions.Submission(
        channel="app", action_type="transit", mode="walk", occurred_at=end, started_at=start,
        ended_at=end, distance_km=2))


def _partner_trip(w: World):
    from carbon_credits.services import actions
    start = recent(4)
    end = start + dt.timedelta(minutes=20)
    return lambda: actions.ingest_partner_records(partner_id=w.partner, submissions=[
        actions.Submission(channel="partner", action_type="transit", mode="metro",
                           occurred_at=end, started_at=start, ended_at=end, distance_km=10,
                           external_id="CROWD-5", external_ref=w.card)])


def _certificate_lot(w: World):
    from carbon_credits.services import certificates
    day = dt.date.today() - dt.timedelta(days=20)
    return lambda: certificates.issue_lot(methodology_code="BJ-WALK", version=1, period_from=day,
                                          period_to=day, actor_user_id=w.auditor)


def _balance(w: World):
    from carbon_credits.services import ledger
    return lambda: ledger.get_balance(user_id=w.rider)


def _due_lots(w: World):
    from carbon_credits.services import ledger
    return ledger.expire_due_lots


def _report(w: World):
    from carbon_credits.services import reports
    today = dt.date.today()
    return lambda: reports.get_reductions_report(date_from=today - dt.timedelta(days=40),
                                                 date_to=today - dt.timedelta(days=33),
                                                 group_by="day")


def _purge_keys(w: World):
    from carbon_credits.services import idempotency
    return idempotency.purge_expired


# (what, the service call, a pattern its statement matches, the index that statement's plan
# must use: read, or arbitrate its ON CONFLICT with)
CHECKS = [
    ("statement", _statement(), r"FROM ledger_transfers\s.*citizen_account_id = .*ORDER BY",
     "ix_ledger_transfers_statement"),
    ("statement-of-a-redemption", _statement(redemption_id="redemption_id"),
     r"FROM ledger_transfers\s.*redemption_id = ", "ix_ledger_transfers_redemption_id"),
    ("statement-of-an-action", _statement(action_id="action_id"),
     r"FROM ledger_transfers\s.*action_id = ", "ix_ledger_transfers_action_id"),
    ("review-reversal-finds-the-earn", _review_reversal,
     r"FROM ledger_transfers\s.*kind = .*FROM ledger_transfer_keys", "uq_ledger_transfers_external_ref"),
    ("reversal-by-action-finds-the-earn", _reversal_by_action,
     r"FROM ledger_transfers\s.*kind = .*action_id = ", "ix_ledger_transfers_action_id"),
    ("verify-hold-legs", _verify, r"FROM ledger_transfers\s.*hold_id IS NOT NULL",
     "ix_ledger_transfers_hold_id"),
    ("review-queue", _actions_list(status="pending_review"), r"FROM actions\s.*status = ",
     "ix_actions_status_created"),
    ("my-actions", _actions_list(mine=True), r"FROM actions\s.*user_id = .*ORDER BY",
     "ix_actions_user_created"),
    ("app-credit-overlap", _app_walk, r"FROM actions\s.*started_at <",
     "ix_actions_user_scope_started"),
    ("app-credit-daily-cap", _app_walk, r"INSERT INTO daily_credits", "pk_daily_credits"),
    ("partner-record-ids", _partner_trip, r"FROM actions\s.*partner_id = .*external_id",
     "uq_actions_partner_external_id"),
    ("partner-batch-overlap", _partner_trip, r"FROM actions\s.*started_at <",
     "ix_actions_user_scope_started"),
    ("certificate-lot", _certificate_lot, r"FROM actions\s.*methodology_version_id = ",
     "ix_actions_methodology_day"),
    ("balance", _balance, r"FROM ledger_lots\s.*account_id = ", "ix_ledger_lots_live"),
    ("due-lots", _due_lots, r"SELECT ledger_lots.account_id\s.*expires_at <=",
     "ix_ledger_lots_due"),
    ("report-by-day", _report, r"FROM actions\s.*scheme_day >=", "ix_actions_scheme_day"),
    ("purge-idempotency-keys", _purge_keys, r"DELETE FROM idempotency_keys",
     "ix_idempotency_keys_created_at"),
]


@pytest.mark.postgres
@pytest.mark.parametrize("call, pattern, index", [c[1:] for c in CHECKS],
                         ids=[c[0] for c in CHECKS])
def test_the_query_keeps_its_index_on_crowded_tables(app, world, call, pattern, index):
    with crowded(app, world):
        recorded = _recorded(call(world))
        matching = [(sql, params) for sql, params in recorded
                    if re.search(pattern, sql, re.DOTALL)]
        assert matching, f"no statement matches {pattern!r} among:\n" + \
            "\n".join(sql for sql, _ in recorded)
        plans = [_plan_indexes(sql, params) for sql, params in matching]
    assert all(index in used for used in plans), list(zip([s for s, _ in matching], plans))
