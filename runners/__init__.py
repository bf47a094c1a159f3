"""Pipeline options for each engine; no stage logic lives here."""
