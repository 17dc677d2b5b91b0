"""Federation: peers (other nodes or TAXII 2.1 servers), pull and push subscriptions, sync, provenance."""

from accord.core.keys import register_secret_column

# A peer's token (peer.secret) is encrypted with the node key: `accord node rotate-key` re-encrypts it.
register_secret_column("peer", "secret")
