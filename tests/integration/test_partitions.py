"""Monthly partitions (PostgreSQL, migration 0014): rows land in their month, and what must be
unique across months still is.

The exploits: with uniqueness per partition only, a posting retried in a later month would be
credited a second time, and an operator resending a record with its trip moved into another
month would be counted twice. The key tables refuse both, whichever month the row goes to.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import db
from models.partitions import MONTHS_AHEAD, add_months, month_start, partition_name
from tests.api.test_actions import operator, recent, rider, seeded, send_batch, trip  # noqa: F401
from tests.concurrency.support import race

pytestmark = pytest.mark.postgres
UTC = dt.timezone.utc

# Every column of a transfer but seq, with a fresh id: the copy differs only where we say.
TRANSFER_COPY = """
    INSERT INTO ledger_transfers (id, posting_id, kind, reason, debit_account_id,
        credit_account_id, amount, citizen_account_id, balance_after, action_id, redemption_id,
        hold_id, reversal_of, external_ref, event_time, recorded_at)
    SELECT {id}, posting_id, kind, reason, debit_account_id, credit_account_id, amount,
           citizen_account_id, balance_after, action_id, redemption_id, hold_id, reversal_of,
           {ref}, event_time, recorded_at + interval '{shift}'
    FROM ledger_transfers WHERE kind = 'earn' LIMIT 1"""
ACTION_COPY = """
    INSERT INTO actions (id, user_id, channel, partner_id, external_id, binding_id, action_type,
        mode, scope_key, occurred_at, started_at, ended_at, scheme_day, inputs, status, reasons,
        credited_mg, points, points_per_gram, created_at)
    SELECT gen_random_uuid(), user_id, channel, partner_id, external_id, binding_id,
           action_type, mode, scope_key, occurred_at, started_at, ended_at,
           scheme_day + {days}, inputs, 'rejected', reasons, 0, 0, points_per_gram, created_at
    FROM actions WHERE channel = 'partner' LIMIT 1"""
# An action as an app claim in another month: {id} is `id` (the same one) or a fresh one.
APP_ACTION_COPY = """
    INSERT INTO actions (id, user_id, channel, action_type, mode, scope_key, occurred_at,
        scheme_day, inputs, status, reasons, credited_mg, points, points_per_gram, created_at)
    SELECT {id}, user_id, 'app', action_type, mode, scope_key, occurred_at, {day},
           inputs, 'rejected', reasons, 0, 0, points_per_gram, created_at
    FROM actions LIMIT 1"""


@pytest.fixture
def credited_trip(client, seeded, operator, rider):  # noqa: F811
    record = {**trip(recent()), "external_id": "T-1", "external_ref": "CARD-0001"}
    result = send_batch(client, operator, [record]).json["results"][0]
    assert result["status"] == "credited", result
    return result


def _partition_of(table: str, where: str) -> str:
    return db.session.execute(text(
        f"SELECT tableoid::regclass::text FROM {table} WHERE {where}")).scalar_one()


def _refused(statement: str, match: str) -> None:
    with pytest.raises((IntegrityError, DBAPIError), match=match):
        db.session.execute(text(statement))
    db.session.rollback()


def test_both_tables_are_partitioned_with_months_ahead(app):
    from carbon_credits.services import partitions
    with app.app_context():
        names = {p.name for p in partitions.list_partitions()}
        this_month = month_start(dt.datetime.now(UTC))
        for table in ("actions", "ledger_transfers"):
            assert f"{table}_pdefault" in names
            for ahead in range(-1, MONTHS_AHEAD + 1):  # last month too: late records
                assert partition_name(table, add_months(this_month, ahead)) in names
        db.session.remove()


def test_rows_land_in_the_partition_of_their_month(app, credited_trip):
    with app.app_context():
        action = db.session.execute(text("SELECT scheme_day FROM actions")).scalar_one()
        assert _partition_of("actions", "true") == partition_name("actions", action)
        recorded = db.session.execute(text(
            "SELECT recorded_at FROM ledger_transfers WHERE kind = 'earn'")).scalar_one()
        assert _partition_of("ledger_transfers", "kind = 'earn'") == \
            partition_name("ledger_transfers", recorded.astimezone(UTC))
        db.session.remove()


def test_a_posting_is_made_once_whatever_month_it_lands_in(app, credited_trip):
    with app.app_context():
        # The same ref recorded two months later: another partition, still refused.
        _refused(TRANSFER_COPY.format(id="gen_random_uuid()", ref="external_ref",
                                      shift="2 months"), "uq_ledger_transfers_external_ref")
        # The same transfer id in another month, under a fresh ref: refused too.
        _refused(TRANSFER_COPY.format(id="id", ref="external_ref || '-again'", shift="2 months"),
                 "pk_ledger_transfer_keys")
        db.session.remove()


def test_a_partner_record_is_counted_once_whatever_month_its_trip_is_moved_to(
        app, client, credited_trip, operator):  # noqa: F811
    with app.app_context():
        for days in (31, 62, -400):  # next months, and back into the DEFAULT partition
            _refused(ACTION_COPY.format(days=days), "uq_actions_partner_external_id")
        db.session.remove()


def test_an_actions_keys_cannot_change_and_the_key_tables_are_append_only(app, credited_trip):
    with app.app_context():
        _refused("UPDATE actions SET external_id = 'T-2'", "are fixed")
        _refused("UPDATE actions SET id = gen_random_uuid()", "are fixed")
        for table in ("action_keys", "ledger_transfer_keys"):
            _refused(f"DELETE FROM {table}", "append-only")
            _refused(f"UPDATE {table} SET id = gen_random_uuid()", "append-only")
        db.session.remove()


def test_an_action_moved_to_another_month_keeps_its_key(app, credited_trip):
    """An approval may move a legacy claim's scheme day (services/reviews.py); across a month
    PostgreSQL moves the row between partitions, which the key trigger must let through once."""
    with app.app_context():
        day = db.session.execute(text("SELECT scheme_day FROM actions")).scalar_one()
        db.session.execute(text("UPDATE actions SET scheme_day = scheme_day + 40"))
        moved = day + dt.timedelta(days=40)
        assert _partition_of("actions", "true") == partition_name("actions", moved)
        assert db.session.execute(text("SELECT count(*) FROM action_keys")).scalar_one() == 1
        # ...and the record is still counted once, in either month.
        _refused(ACTION_COPY.format(days=-40), "uq_actions_partner_external_id")
        db.session.remove()


def test_a_known_action_id_is_refused_in_another_month(app, credited_trip):
    with app.app_context():
        _refused(APP_ACTION_COPY.format(id="id", day="scheme_day + 40"), "pk_action_keys")
        db.session.remove()


def test_every_row_has_its_key(app, credited_trip):
    with app.app_context():
        for table, keys in (("actions", "action_keys"), ("ledger_transfers", "ledger_transfer_keys")):
            missing = db.session.execute(text(
                f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {keys} k WHERE k.id = t.id)")).scalar_one()
            rows = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            assert (missing, rows) == (0, db.session.execute(
                text(f"SELECT count(*) FROM {keys}")).scalar_one())
        db.session.remove()


def _drop_future_partitions(first: dt.date) -> None:
    with db.engine.begin() as conn:
        for name in conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relname ~ '_p[0-9]{4}_[0-9]{2}$'")).scalars():
            year, month = int(name[-7:-3]), int(name[-2:])
            if dt.date(year, month, 1) >= first:
                conn.execute(text(f"DROP TABLE {name}"))


def test_the_due_job_creates_the_months_ahead_once_even_when_raced(app):
    from carbon_credits.services import partitions
    later = dt.datetime.now(UTC) + dt.timedelta(days=366)
    first_new = add_months(month_start(dt.datetime.now(UTC)), MONTHS_AHEAD + 1)
    try:
        with app.app_context():
            def ensure(_):
                with app.app_context():
                    try:
                        return partitions.ensure_partitions(now=later)
                    finally:
                        db.session.remove()
            created = race(3, ensure)
            assert all(isinstance(c, int) for c in created), created
            wanted = len(partitions.months_wanted(later.date()))
            existing = {p.name for p in partitions.list_partitions()}
            assert all(partition_name(t, m) in existing
                       for t in ("actions", "ledger_transfers")
                       for m in partitions.months_wanted(later.date()))
            assert 0 < sum(created) <= 2 * wanted
            assert partitions.ensure_partitions(now=later) == 0
            db.session.remove()
    finally:
        with app.app_context():
            _drop_future_partitions(first_new)


def test_a_month_whose_rows_sit_in_default_is_skipped_and_the_others_are_created(
        app, credited_trip):
    """PostgreSQL refuses to create a month whose rows already sit in DEFAULT: the job logs it
    and still creates every other month (one month must not stop the rest)."""
    from carbon_credits.services import partitions
    later = dt.datetime.now(UTC) + dt.timedelta(days=366)
    blocked = add_months(month_start(later), 2)
    try:
        with app.app_context():
            db.session.execute(text(APP_ACTION_COPY.format(
                id="gen_random_uuid()", day=f"DATE '{blocked.isoformat()}' + 3")))
            db.session.commit()
            assert _partition_of("actions", f"scheme_day > '{blocked}'") == "actions_pdefault"
            wanted = len(partitions.months_wanted(later.date()))
            assert partitions.ensure_partitions(now=later) == 2 * wanted - 1
            existing = {p.name for p in partitions.list_partitions()}
            assert partition_name("actions", blocked) not in existing
            assert partition_name("ledger_transfers", blocked) in existing
            db.session.remove()
    finally:
        with app.app_context():
            _drop_future_partitions(add_months(month_start(dt.datetime.now(UTC)),
                                               MONTHS_AHEAD + 1))


def test_the_due_job_is_registered_and_does_nothing_when_all_months_exist(app):
    from carbon_credits import jobs
    assert "ensure_partitions" in jobs.job_names()
    with app.app_context():
        assert jobs.run_job("ensure_partitions") == 0
        db.session.remove()


def test_verify_reports_a_row_written_without_its_key(app, credited_trip):
    """`session_replication_role = replica` skips triggers (a superuser's bulk load, a careless
    restore): the row is there, its key is not, and verify says so."""
    from carbon_credits.services.partitions import check_keys
    with app.app_context():
        assert check_keys() == []
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text(TRANSFER_COPY.format(
            id="gen_random_uuid()", ref="external_ref || '-unkeyed'", shift="0 days")))
        db.session.execute(text("SET LOCAL session_replication_role = origin"))
        assert check_keys() == ["ledger_transfers: 1 rows without their key in "
                                "ledger_transfer_keys (their uniqueness across months is not "
                                "enforced)"]
        db.session.rollback()
        db.session.remove()
