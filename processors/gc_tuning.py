"""Garbage-collector settings for long runs (the worker, replays).

Per event the pipeline allocates many short-lived objects and keeps large, long-lived state (open
windows, rule history, caches). With CPython's default thresholds (700, 10, 10) the young generation
is collected every 700 allocations and the older ones rescan that state over and over; nothing of it
is reclaimed, since the core builds no reference cycles per event. So: collect the young generation
less often, and move what start-up built (policy, registry, rules, modules) out of the collector's sight.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (50_000, 50, 100)


def tune_gc() -> None:
    """Raise the collection thresholds (call once, at start-up)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_gc() -> None:
    """Collect once, then freeze every object alive now (after start-up) into the permanent generation."""
    gc.collect()
    gc.freeze()
