"""Errors the CLI reports as one line (exit code 2), with no traceback."""


class UserError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2, no traceback."""
