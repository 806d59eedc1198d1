"""What the race tests share: threads released together against real PostgreSQL."""
from __future__ import annotations

import threading


def race(n: int, work):
    """Run `work(i)` in `n` threads released together; returns the results (or the exception
    each raised) in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as error:  # surfaced by the callers' assertions
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
