"""Write the JSON Schema files under schemas/json/ from the Python types (the source of truth).

python -m schemas.export          # rewrite the files
python -m schemas.export --check  # exit 1 if a checked-in file differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from schemas.events import QueryEvent
from schemas.outputs import AccessDecision, Aggregate, Alert, Incident, Verdict

SCHEMA_DIR = Path(__file__).parent / "json"
TYPES: dict[str, type] = {
    "query_event.v1.schema.json": QueryEvent,
    "verdict.schema.json": Verdict,
    "aggregate.schema.json": Aggregate,
    "alert.schema.json": Alert,
    "incident.schema.json": Incident,
    "access_decision.schema.json": AccessDecision,
}


def schema_for(tp: type) -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(tp)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(tp: type) -> str:
    return json.dumps(schema_for(tp), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, tp in TYPES.items():
        path = SCHEMA_DIR / name
        text = render(tp)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale JSON Schema files: {', '.join(stale)}; run `python -m schemas.export`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
