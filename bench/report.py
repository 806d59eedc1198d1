"""The table `make bench` prints, and the issue's targets it checks the ratios against."""
from __future__ import annotations

# ratio key -> (comparison, bound): issue 18's targets. Reported, never asserted.
TARGETS = {"c_over_b": (">=", 0.5), "b_over_a": (">=", 0.6), "d_over_a": (">=", 4),
           "reads_1m_over_10k": ("<=", 1.2), "statement_1m_over_10k": ("<=", 1.2),
           "p99_ms": ("<=", 50)}


def verdict(key: str, value: float) -> str:
    if key not in TARGETS:
        return ""
    op, bound = TARGETS[key]
    met = value >= bound if op == ">=" else value <= bound
    return f"target {op} {bound}: {'met' if met else 'NOT met'}"


def _cost(run: dict, unit: str) -> str:
    wal = run.get(f"wal_bytes_per_{unit}")
    wal_text = f"{wal:.0f} B" if wal is not None else "n/a"
    return (f"worker CPU {run[f'worker_cpu_ms_per_{unit}']} ms/{unit}, PostgreSQL CPU "
            f"{run[f'postgres_cpu_ms_per_{unit}']} ms/{unit}, WAL {wal_text}/{unit} "
            f"(cluster-wide {run[f'wal_cluster_bytes_per_{unit}']:.0f} B)")


def rows(r: dict) -> list[tuple[str, str, str]]:
    a, b, c, d = r["pgbench_tpcb"], r["credit_sql"], r["credits"], r["batches"]
    small, large, storm, ratio = r["reads_small"], r["reads_large"], r["storm"], r["ratios"]
    return [
        ("(a) pgbench tpcb-like", f"{a['tps']:.0f} tps",
         f"{a['clients']} clients, {a['seconds']} s, latency {a['latency_ms']} ms"),
        ("(b) pgbench replaying a credit's SQL", f"{b['tps']:.0f} tps",
         f"-M {b['query_mode']}, latency {b['latency_ms']} ms, {b['citizens']} citizens' "
         f"scripts in {b['scripts']}/"),
        ("    the credit's SQL (recorded)", f"{b['statements_per_credit']} statements",
         f"{b['round_trips_per_credit']} round trips: groups {b['round_trip_groups']} + "
         f"{b['commits_per_credit']} commit"),
        ("(c0) GET /healthz over HTTP (the floor)", f"{r['liveness']['requests_per_s']} req/s",
         f"p50 {r['liveness']['p50_ms']} ms, p99 {r['liveness']['p99_ms']} ms, worker CPU "
         f"{r['liveness']['worker_cpu_ms_per_request']} ms/request"),
        ("(c) app credits over HTTP", f"{c['credits_per_s']} credits/s",
         f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, statuses {c['statuses']}"),
        ("    cost per credit", "", _cost(c, "credit")),
        ("(d) partner batches of 1000", f"{d['records_per_s']} records/s",
         f"batch p50 {d['batch_p50_ms']} ms, outcomes {d['outcomes']}"),
        ("    cost per record", "", _cost(d, "record")),
        (f"(e) balance read @ {small['ledger_entries']} entries", f"p50 {small['balance']['p50_ms']} ms",
         f"p99 {small['balance']['p99_ms']} ms"),
        (f"    balance read @ {large['ledger_entries']} entries", f"p50 {large['balance']['p50_ms']} ms",
         f"p99 {large['balance']['p99_ms']} ms"),
        (f"    statement page @ {small['ledger_entries']} entries", f"p50 {small['statement']['p50_ms']} ms",
         f"p99 {small['statement']['p99_ms']} ms"),
        (f"    statement page @ {large['ledger_entries']} entries", f"p50 {large['statement']['p50_ms']} ms",
         f"p99 {large['statement']['p99_ms']} ms"),
        (f"(f) redemption storm ({storm['citizens']} citizens, stock {storm['stock']})",
         f"{storm['requests_per_s']} req/s",
         f"outcomes {storm['outcomes']}, stock left {storm['stock_left']}, p99 {storm['p99_ms']} ms"),
        ("peak RSS per process (MiB)", str(sorted(r["peak_rss_mib"].values())), ""),
        *[(f"ratio {key}", str(value), verdict(key, value)) for key, value in ratio.items()],
        ("load average (1, 5, 15 min)", "", f"start {r['load_average']['start']}, "
                                            f"end {r['load_average']['end']}"),
    ]


def print_table(r: dict) -> None:
    table = rows(r)
    name_width = max(len(name) for name, _, _ in table)
    value_width = max(len(value) for _, value, _ in table)
    print()
    for name, value, note in table:
        print(f"{name:<{name_width}}  {value:<{value_width}}  {note}".rstrip())
