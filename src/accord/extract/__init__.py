"""Indicator extraction from threat-report text: find, refang, classify and export to STIX."""

from accord.extract.engine import Finding, extract

__all__ = ["Finding", "extract"]
