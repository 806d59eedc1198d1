"""`flask --app wsgi signing-keys list|rotate` (docs/verification.md, section 1)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

keys_cli = AppGroup("signing-keys", help="The service's Ed25519 signing keys.")


@keys_cli.command("list")
def list_keys():
    """Print every published key: kid, status, created, retired."""
    from carbon_credits.services import signing
    for key in signing.published_keys()["keys"]:
        click.echo(f"{key['kid']}\t{key['status']}\t{key['created_at']}\t{key['retired_at'] or '-'}")


@keys_cli.command("rotate")
@click.option("--reason", default="rotation", show_default=True)
def rotate(reason: str):
    """Retire the active key (it stays published) and start signing with a new one."""
    from carbon_credits.services import signing
    key = signing.rotate_key(reason=reason)
    click.echo(f"active: {key.kid}")
