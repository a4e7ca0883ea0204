"""``crmc keys``: issue, list and revoke API keys (only their hashes are stored).

``crmc keys add`` prints the new key alone on stdout, so ``KEY=$(crmc keys add --role
decide)`` captures exactly the key; everything meant for a human goes to stderr.
"""

from __future__ import annotations

import json

import click

from engine.config import Settings
from engine.keys import ROLES, KeyStore, KeyStoreError


def _store() -> KeyStore:
    return KeyStore(Settings.from_env().keys_file)


@click.group(name="keys")
def command() -> None:
    """Manage API keys (CRMC_KEYS_FILE, default var/keys.json)."""


@command.command("add")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the key may do.")
@click.option("--name", default=None, help="Unique name (default: ROLE-N).")
def add(role: str, name: str | None) -> None:
    """Create a key and print it, once, on stdout."""
    store = _store()
    try:
        key, entry = store.add(role, name)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {entry.role} key {entry.name!r} in {store.path}; it is shown only once",
               err=True)
    click.echo(key)


@command.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_(fmt: str) -> None:
    """List key names, roles and creation times (never the keys or hashes)."""
    keys = [k.public() for k in _store().entries()]
    if fmt == "json":
        click.echo(json.dumps(keys, indent=2))
        return
    for k in keys:
        click.echo(f"{k['name']}\t{k['role']}\t{k['created_at']}")


@command.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Remove a key; a running service refuses it from its next request."""
    try:
        entry = _store().revoke(name)
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {entry.role} key {entry.name!r}", err=True)
