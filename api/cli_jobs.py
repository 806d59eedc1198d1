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
