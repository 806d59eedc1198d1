"""Command line (`flask --app wsgi ...`): seed, create-user, create-partner, and more."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from carbon_credits.domain.errors import DomainError
from carbon_credits.domain.vocabulary import PARTNER_KINDS, ROLES


def _fail(error: DomainError):
    click.echo(f"error: {error.detail}", err=True)
    sys.exit(1)


def register_cli(app: Flask) -> None:
    @app.cli.command("seed")
    def seed():
        """Load the seed methodologies and scheme settings (idempotent)."""
        from carbon_credits.services.seed import seed_all
        for line in seed_all():
            click.echo(line)
        click.echo("seed: done")

    app.cli.add_command(create_user)

    @app.cli.command("create-partner")
    @click.option("--name", required=True)
    @click.option("--kind", required=True, type=click.Choice(PARTNER_KINDS))
    def create_partner(name, kind):
        """Create a partner; prints key_id and secret once."""
        from carbon_credits.services import partners
        try:
            issued = partners.create_partner(name=name, kind=kind, actor_user_id=None)
        except DomainError as error:
            _fail(error)
        click.echo(f"partner_id: {issued.partner.id}")
        click.echo(f"key_id: {issued.partner.key_id}")
        click.echo(f"secret: {issued.secret}")

    for group in CLI_GROUPS:
        app.cli.add_command(group)


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", "roles", type=click.Choice(ROLES), multiple=True, default=["citizen"],
              show_default=True,
              help="Repeat for several roles (never two of admin, auditor and verifier).")
@click.option("--display-name", default=None)
@click.option("--partner", "partner_id", default=None, help="Merchant partner id for merchant staff.")
@click.option("--merchant-lead", is_flag=True,
              help="Make this merchant staff member a lead of their merchant (manages its staff).")
@with_appcontext
def create_user(email, password, roles, display_name, partner_id, merchant_lead):
    """Create a user (the first admin, auditors, merchant staff and their lead). The bootstrap
    path: roles given here need no four-eyes grant, so keep access to this command to the
    operators."""
    import uuid
    from carbon_credits.services import passwords
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        click.echo(f"error: password must be {passwords.MIN_LENGTH} to "
                   f"{passwords.MAX_LENGTH} characters", err=True)
        sys.exit(2)
    try:
        pid = uuid.UUID(partner_id) if partner_id else None
    except ValueError:
        click.echo("error: --partner must be a partner id (UUID)", err=True)
        sys.exit(2)
    if "merchant" in roles and pid is None:
        click.echo("error: merchant staff need --partner", err=True)
        sys.exit(2)
    try:
        user = _create_user(email=email, password=password, roles=tuple(roles),
                            display_name=display_name or email.split("@")[0], partner_id=pid,
                            merchant_lead=merchant_lead)
    except DomainError as error:
        _fail(error)
    click.echo(f"user_id: {user.id}")
    click.echo(f"roles: {', '.join(sorted(roles))}")
    if merchant_lead:
        click.echo(f"merchant lead of: {pid}")


def _create_user(*, email: str, password: str, roles: tuple[str, ...], display_name: str,
                 partner_id, merchant_lead: bool):
    """The user, their merchant checked and their lead flag set in one unit of work, so a
    refusal at any step creates nothing. Who may lead is the admin endpoint's rule
    (`staff.set_merchant_lead`)."""
    from carbon_credits.domain.errors import ValidationFailed
    from carbon_credits.services import auth, partners
    from carbon_credits.services.rewards import staff
    from carbon_credits.services.uow import unit_of_work
    with unit_of_work():
        if partner_id is not None:
            partner = partners.get_partner_or_raise(partner_id)
            if "merchant" in roles and partner.kind != "merchant":
                raise ValidationFailed(f"Merchant staff need a merchant partner; this one is a "
                                       f"{partner.kind}.")
        user = auth.register_user(email=email, phone=None, password=password,
                                  display_name=display_name, roles=roles, partner_id=partner_id,
                                  verified=True)
        if merchant_lead:
            staff.set_merchant_lead(user_id=user.id, lead=True, actor_user_id=None)
    return user


# Groups other modules add commands to (ledger verify, jobs run-due, ...).
CLI_GROUPS: list[AppGroup] = []

from api.cli_ledger import ledger_cli  # noqa: E402

CLI_GROUPS.append(ledger_cli)

from api.cli_jobs import jobs_cli  # noqa: E402

CLI_GROUPS.append(jobs_cli)

from api.cli_keys import keys_cli  # noqa: E402

CLI_GROUPS.append(keys_cli)
