"""Accord: federated threat-intelligence sharing over STIX 2.1 and TAXII 2.1."""
