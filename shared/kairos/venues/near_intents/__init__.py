"""NEAR Intents: the solver bus's quote stream (ingest), its canonical form (normalize)."""

VENUE = "near_intents"
