"""Sightings: a STIX `sighting` of a value or object by the caller's organisation, written through the store."""
