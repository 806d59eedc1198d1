"""`flask --app wsgi jobs run-due`."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Background work: expire reservations, holds and points.")


@jobs_cli.command("run-due")
def run_due():
    """Run every due job once and print what each did; exit 1 if one failed."""
    from carbon_credits.jobs import run_due as run_due_jobs
    results = run_due_jobs()
    for name, count in results.items():
        click.echo(f"{name}: {'failed' if count is None else count}")
    if any(count is None for count in results.values()):
        sys.exit(1)


@jobs_cli.command("partitions")
@click.option("--ensure", is_flag=True, help="Create the missing months first (the due job).")
def partitions(ensure: bool):
    """List the monthly partitions of actions and ledger transfers (PostgreSQL)."""
    from carbon_credits.services import partitions as monthly
    if not monthly.is_partitioned():
        click.echo("not partitioned: SQLite keeps plain tables")
        return
    if ensure:
        click.echo(f"created: {monthly.ensure_partitions()}")
    for p in monthly.list_partitions():
        click.echo(f"{p.table}\t{p.name}\t{p.bounds}\t~{p.estimated_rows} rows")
    for table, rows in monthly.rows_in_default_partitions().items():
        click.echo(f"{table}: {rows} rows in the DEFAULT partition")


@jobs_cli.command("loop")
@click.option("--interval", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="Seconds between runs.")
def loop(interval: int):
    """Run every due job every INTERVAL seconds until SIGTERM or Ctrl-C (what `make run` starts
    beside the web server; production uses `make worker` and `make scheduler`)."""
    import signal
    import threading

    from carbon_credits.jobs import run_every

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def report(results: dict) -> None:
        busy = {name: count for name, count in results.items() if count != 0}
        if busy:  # quiet when there was nothing to do
            click.echo(", ".join(f"{name}: {'failed' if count is None else count}"
                                 for name, count in busy.items()))

    click.echo(f"jobs loop: every {interval} s; stop with SIGTERM or Ctrl-C")
    runs = run_every(interval, stop=stop, on_run=report)
    click.echo(f"jobs loop: stopped after {runs} runs")
