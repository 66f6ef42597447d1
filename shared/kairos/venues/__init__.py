"""Venue-specific code, one package per venue: ingest, normalize, execute."""
