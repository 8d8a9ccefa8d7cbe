"""The one YAML loader every config file of clets-watch goes through (policy, statute table, rules).

``yaml.safe_load`` keeps the last of two equal keys in a mapping, so a second ``mission_presumption:`` or
``threshold:`` appended at the end of a file silently replaces the reviewed one. ``load`` refuses a
duplicate key instead, naming the line and the key (and the line of the first one); the caller adds the
file's name, as it does for any other YAML error.

It also refuses, naming the line and what it found, the YAML features the config files never need and that
would let a key be written twice without looking like it: merge keys (``<<:``, whose merged pairs are
last-wins within and across merges), anchors (``&name``) and aliases (``*name``), and explicit tags
(``!!set``, ``!!binary``, ``!custom``...). A quoted ``'<<'`` is an ordinary string key.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice; the message names both lines and the key."""


class RefusedFeatureError(yaml.YAMLError):
    """The text uses a merge key, an anchor, an alias or an explicit tag; the message names the line."""


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a repeated key, merge keys, anchors, aliases and explicit tags."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            raise RefusedFeatureError(
                f"line {line}: alias '*{event.anchor}' refused; config files take no anchors or aliases: "
                "write the value out"
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent):
            if event.anchor is not None:
                raise RefusedFeatureError(
                    f"line {line}: anchor '&{event.anchor}' refused; config files take no anchors or aliases: "
                    "write the value out"
                )
            if event.tag is not None:
                raise RefusedFeatureError(
                    f"line {line}: explicit tag {event.tag!r} refused; config files take plain YAML values"
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _value in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                raise RefusedFeatureError(
                    f"line {line}: merge key '<<' refused; config files take no merge keys: write the keys out"
                )
            key = self.construct_object(key_node, deep=True)
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
    """Parse YAML like ``yaml.safe_load``, but refuse a duplicate mapping key (``DuplicateKeyError``) and merge
    keys, anchors, aliases and explicit tags (``RefusedFeatureError``); both are ``yaml.YAMLError``."""
    return yaml.load(text, Loader=StrictSafeLoader)  # a SafeLoader subclass: safe
