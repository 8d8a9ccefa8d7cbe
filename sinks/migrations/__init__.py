"""Alembic migration environment for the clets-watch database (run through ``sinks.db.upgrade``)."""
