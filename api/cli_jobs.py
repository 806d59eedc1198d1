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
