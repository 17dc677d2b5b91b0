"""Federation: peers (other nodes or TAXII 2.1 servers), pull and push subscriptions, sync, provenance."""
