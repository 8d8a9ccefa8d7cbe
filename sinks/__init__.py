"""Edges where results leave the pipeline: database (SQLAlchemy), metrics (prometheus-client), alert forwarding."""
