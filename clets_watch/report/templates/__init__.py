"""Jinja2 templates of the audit report (a package so that the wheel ships them)."""
