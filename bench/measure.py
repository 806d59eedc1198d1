"""What a run costs besides its wall time: CPU of the gunicorn workers and of the PostgreSQL
backends serving the bench database (from /proc/<pid>/stat), WAL written (pg_current_wal_lsn
before and after; the bench database's own share from pg_walinspect), and the machine's load
average. Standard library only (psql for the SQL)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from common import psql

TICKS = os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_seconds(pids) -> dict[int, float]:
    """utime + stime of each live process, in seconds."""
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; field 3 is fields[0]
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def backend_pids(db: str) -> list[int]:
    out = psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
               "AND backend_type = 'client backend' AND pid <> pg_backend_pid()", db)
    return [int(p) for p in out.split()]


def wal_lsn(db: str) -> str:
    return psql("SELECT pg_current_wal_lsn()", db)


def wal_bytes(db: str, start: str, end: str) -> tuple[int, int | None]:
    """(bytes of WAL the whole cluster wrote, bytes of the records of this database: those
    touching its relations plus the commit records of their transactions). Other databases
    on a shared server write WAL too, hence the second figure; None if pg_walinspect is not
    available or the segments are gone."""
    cluster = int(float(psql(f"SELECT pg_wal_lsn_diff('{end}', '{start}')", db)))
    try:
        psql("CREATE EXTENSION IF NOT EXISTS pg_walinspect", db)
        oid = psql("SELECT oid FROM pg_database WHERE datname = current_database()", db)
        own = psql(f"""
            WITH r AS (SELECT xid, record_length, block_ref
                       FROM pg_get_wal_records_info('{start}', '{end}')),
                 mine AS (SELECT DISTINCT xid FROM r
                          WHERE xid::text <> '0' AND block_ref LIKE '% rel %/{oid}/%')
            SELECT coalesce(sum(record_length), 0) FROM r
            WHERE block_ref LIKE '% rel %/{oid}/%' OR xid IN (SELECT xid FROM mine)""", db)
        return cluster, int(own)
    except subprocess.CalledProcessError:
        return cluster, None


class Meter:
    """CPU and WAL around one measured run: `Meter(server, db)`, run, then `.done(units)`
    gives the costs divided by the units (credits, records)."""

    def __init__(self, server, db: str):
        self.server, self.db = server, db
        self.workers = cpu_seconds(server.worker_pids())
        self.backends = cpu_seconds(backend_pids(db))
        self.lsn = wal_lsn(db)

    def done(self, units: int, unit: str) -> dict:
        lsn = wal_lsn(self.db)
        workers = _spent(self.workers, cpu_seconds(self.server.worker_pids()))
        backends = _spent(self.backends, cpu_seconds(backend_pids(self.db)))
        cluster, own = wal_bytes(self.db, self.lsn, lsn)
        per = max(units, 1)
        return {f"worker_cpu_ms_per_{unit}": round(workers * 1000 / per, 3),
                f"postgres_cpu_ms_per_{unit}": round(backends * 1000 / per, 3),
                f"wal_bytes_per_{unit}": round(own / per, 1) if own is not None else None,
                f"wal_cluster_bytes_per_{unit}": round(cluster / per, 1),
                "worker_cpu_s": round(workers, 2), "postgres_cpu_s": round(backends, 2),
                "wal_bytes": own, "wal_cluster_bytes": cluster}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between two readings by the processes alive at the second one."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
