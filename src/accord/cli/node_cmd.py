"""`accord node key|rotate-key`: this node's keys (registered as `accord node`)."""

from __future__ import annotations

import sys

import typer

from accord.core.db import get_engine

node_app = typer.Typer(help="This node's keys: the public signing key, secret-key rotation.", no_args_is_help=True)


@node_app.command("key")
def node_key() -> None:
    """Print this node's public signing key (one line), for partners to give as --public-key."""
    from accord.core.keys import public_key_text

    sys.stdout.write(public_key_text() + "\n")


@node_app.command("rotate-key")
def node_rotate_key() -> None:
    """Make a new secret-encryption key and re-encrypt every stored secret with it."""
    from accord.core.keys import rotate_secret_key

    result = rotate_secret_key(get_engine())
    sys.stdout.write(
        f"secret key rotated ({result.previous_key_id} -> {result.key_id}): {result.reencrypted} secrets re-encrypted\n"
    )
