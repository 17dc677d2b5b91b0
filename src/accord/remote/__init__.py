"""Talking to other servers: SSRF-safe HTTP, the one TAXII 2.1 client, server-sent event streams."""
