"""Text fit for a terminal: what a user, an operator or an alert rule wrote is printed inert.

Control characters (escape sequences that move the cursor, recolour or retitle the terminal,
carriage returns that overwrite a line, newlines that fake another line), Unicode format
characters (bidirectional overrides that reorder what is shown, zero-width characters) and line or
paragraph separators are shown as ``\\xNN`` / ``\\uNNNN`` escapes instead of acting.
"""

from __future__ import annotations

import unicodedata
from typing import Final

_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def clean(text: object) -> str:
    """``text`` as a string with every control, format or separator character escaped (and a
    backslash doubled where it would make an escape ambiguous)."""
    s = str(text)
    if s.isprintable() and "\\x" not in s and "\\u" not in s and "\\U" not in s:
        return s
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)
