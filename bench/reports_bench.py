"""Reduction reports and the leaderboard's SQL fallback on a million actions (PostgreSQL).

    cd bench && ../.venv/bin/python reports_bench.py [--actions 1000000] [--repeat 5]

Builds a fresh database (`cc_reports_bench`), loads users, three operators and N actions over
one year of scheme days with set-based SQL (INSERT ... SELECT generate_series: no Python loop,
no ORM), then times `reports.get_reductions_report` (the code the endpoint runs) for each
grouping over a month and over the whole year, and the leaderboard's SQL fallback for a month.
Prints the median of `--repeat` warm runs. Results are recorded in docs/operations.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import PGHOST, PGUSER, flask, fresh_database, psql, service_env  # noqa: E402

DB = "cc_reports_bench"
USERS = 20_000

LOAD_SQL = """
INSERT INTO users (id, email, display_name, password_hash, created_at)
SELECT gen_random_uuid(), 'bench' || g || '@example.test', 'Citizen ' || g, 'x', now()
FROM generate_series(1, {users}) AS g;

INSERT INTO partners (id, name, kind, key_id, created_at)
SELECT gen_random_uuid(), 'Operator ' || g, 'transit_operator', 'bench-key-' || g, now()
FROM generate_series(1, 3) AS g;

CREATE TEMP TABLE bench_users AS SELECT id, row_number() OVER (ORDER BY id) AS rn FROM users;
CREATE TEMP TABLE bench_partners AS
    SELECT id, row_number() OVER (ORDER BY id) AS rn FROM partners;

INSERT INTO actions (id, user_id, channel, partner_id, external_id, action_type, mode, category,
                     scope_key, occurred_at, started_at, ended_at, scheme_day, inputs, status,
                     reasons, methodology_code, methodology_version, reduction_mg, credited_mg,
                     points, points_per_gram, created_at, credited_at)
SELECT gen_random_uuid(), u.id,
       CASE WHEN s.g % 3 = 0 THEN 'app' ELSE 'partner' END,
       CASE WHEN s.g % 3 = 0 THEN NULL ELSE p.id END,
       CASE WHEN s.g % 3 = 0 THEN NULL ELSE 'ext-' || s.g END,
       t.action_type, t.mode, t.category, t.scope_key,
       s.occurred_at, s.occurred_at, s.occurred_at + interval '20 minutes',
       (s.occurred_at AT TIME ZONE 'Asia/Shanghai')::date,
       '{{}}'::json,
       CASE WHEN s.g % 100 < 90 THEN 'credited' WHEN s.g % 100 < 93 THEN 'reversed'
            WHEN s.g % 100 < 97 THEN 'pending_review' ELSE 'rejected' END,
       '[]'::json, t.code, 1 + (s.g % 2), s.reduction_mg,
       CASE WHEN s.g % 100 < 93 THEN s.reduction_mg - (s.g % 7) * 1000 ELSE 0 END,
       CASE WHEN s.g % 100 < 93 THEN (s.reduction_mg - (s.g % 7) * 1000) / 1000 ELSE 0 END,
       1, s.occurred_at, s.occurred_at
FROM (SELECT g, timestamptz '2025-01-01 00:00+08'  -- chronological, as actions arrive
                    + (g::bigint * 365 * 86400 / {actions}) * interval '1 second' AS occurred_at,
             10000 + (g % 5000) * 1000 AS reduction_mg
      FROM generate_series(1, {actions}) AS g) AS s
JOIN bench_users AS u ON u.rn = 1 + (s.g::bigint * 7919) % {users}
JOIN bench_partners AS p ON p.rn = 1 + s.g % 3
JOIN (VALUES (0, 'transit', 'metro', NULL, 'transit:metro', 'SH-METRO'),
             (1, 'transit', 'bus', NULL, 'transit:bus', 'SH-BUS-BOARDING'),
             (2, 'ev_charging', NULL, NULL, 'ev_charging', 'EV-CHARGING-CN'),
             (3, 'waste_sorting', NULL, 'paper', 'waste_sorting', 'RECYCLABLES-CN'))
     AS t(k, action_type, mode, category, scope_key, code) ON t.k = s.g % 4;
-- Live actions arrive in time order; the joins above scatter them, so restore that order.
CLUSTER actions USING ix_actions_scheme_day;
ANALYZE;
"""


def timed(function, repeat: int) -> float:
    function()  # warm the cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time the already loaded database")
    args = parser.parse_args()

    url = f"postgresql://{PGUSER}@{PGHOST}/{DB}"
    env = service_env(url, "")
    started = time.perf_counter()
    if not args.reuse:
        fresh_database(DB)
        flask(env, "db", "upgrade")
        psql(LOAD_SQL.format(users=USERS, actions=args.actions), db=DB)
    print(f"loaded {psql('SELECT count(*) FROM actions', db=DB)} actions for {USERS} users "
          f"in {time.perf_counter() - started:.1f} s")

    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "SECRET_KEY")})
    os.environ["CARBON_ENV"] = "development"
    os.environ.pop("REDIS_URL", None)
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)
    from api import create_app
    from carbon_credits.services import leaderboards, reports
    from models import db

    app = create_app()
    month = (dt.date(2025, 6, 1), dt.date(2025, 6, 30))
    year = (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    print(f"\nreport (median of {args.repeat}, warm)   month      year")
    with app.app_context():
        for group_by in reports.GROUP_BYS:
            row = []
            for date_from, date_to in (month, year):
                row.append(timed(lambda: reports.get_reductions_report(
                    date_from=date_from, date_to=date_to, group_by=group_by), args.repeat))
                db.session.rollback()
            print(f"  group_by={group_by:<12}  {row[0]:8.0f} ms {row[1]:8.0f} ms")
        full = reports.get_reductions_report(date_from=year[0], date_to=year[1], group_by="month")
        print(f"  year totals: {full['totals']['actions']} credited actions, "
              f"{full['totals']['credited_g']} g, {full['totals']['points']} points")
        lb = timed(lambda: leaderboards._top_from_sql(month[0], dt.date(2025, 7, 1), 10),
                   args.repeat)
        print(f"leaderboard SQL fallback, one month, top 10: {lb:.0f} ms")
        db.session.remove()


if __name__ == "__main__":
    main()
