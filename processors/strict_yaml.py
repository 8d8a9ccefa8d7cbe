"""The one YAML loader every config file of clets-watch goes through (policy, statute table, rules).

``yaml.safe_load`` keeps the last of two equal keys in a mapping, so a second ``mission_presumption:`` or
``threshold:`` appended at the end of a file silently replaces the reviewed one. ``load`` refuses a
duplicate key instead, naming the line and the key (and the line of the first one); the caller adds the
file's name, as it does for any other YAML error. Keys merged in with ``<<:`` may still be overridden,
as YAML intends; keys written out twice may not.
"""

from __future__ import annotations

from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice; the message names both lines and the key."""


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first:
                    raise DuplicateKeyError(
                        f"line {line}: duplicate key {key!r} (first on line {first[key]}); "
                        "a key may appear once in a mapping: remove or merge one"
                    )
                first[key] = line
            except TypeError:  # an unhashable key: SafeLoader refuses it below with its own message
                continue
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse YAML like ``yaml.safe_load``, but refuse a duplicate mapping key (``DuplicateKeyError``, a
    ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=StrictSafeLoader)  # a SafeLoader subclass: safe
