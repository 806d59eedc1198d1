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


@ledger_cli.command("export-heads")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Scheme day (default: yesterday in the scheme's time zone).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".", show_default=True)
def export_heads(day, out_dir):
    """Write the chain heads signed on a scheme day as open data (chain-heads-DAY.jsonl)."""
    import datetime as dt
    import pathlib

    from carbon_credits.domain.errors import DomainError
    from carbon_credits.services.leaderboards import scheme_today
    from carbon_credits.services.ledger import heads
    chosen = day.date() if day else scheme_today() - dt.timedelta(days=1)
    try:
        body = heads.daily_file(chosen)
    except DomainError as error:
        click.echo(f"export-heads: {error}", err=True)
        sys.exit(1)
    path = pathlib.Path(out_dir) / f"chain-heads-{chosen.isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    lines = body.count(b"\n")
    click.echo(f"{path}: {lines} head(s)")
