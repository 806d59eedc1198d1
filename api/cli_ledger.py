"""`flask --app wsgi ledger verify|seal`."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="Points ledger: verify the books, seal the hash chain.")


@ledger_cli.command("verify")
def verify():
    """Check every invariant; exit 0 with a summary when clean, 1 listing the problems."""
    from carbon_credits.services.verify import verify_system
    report = verify_system()
    problems = report.problems
    click.echo(f"entries checked: {report.entries_checked}")
    click.echo(f"sealed: {report.sealed}, pending seal: {report.pending_seal}")
    click.echo(f"chain head: {report.chain_head}")
    if problems:
        for problem in problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo(f"ledger verify: {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("ledger verify: ok")


@ledger_cli.command("seal")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100000))
@click.option("--rescan", is_flag=True, help="Scan from the first transfer, ignoring the watermark.")
def seal(batch, rescan):
    """Append unsealed transfers to the hash chain."""
    from carbon_credits.services.ledger import seal_all
    sealed = seal_all(batch=batch, rescan=rescan)
    click.echo(f"sealed: {sealed}")
