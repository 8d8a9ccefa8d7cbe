"""Alembic revisions of the clets-watch schema, oldest first."""
