"""The agency registry: who an ORI is. An ORI missing here is an unknown agency, never rejected."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

AGENCY_KINDS: Final = frozenset({"police", "sheriff", "state", "prosecutor", "probation", "court", "federal"})
COLUMNS: Final = ("ori", "name", "kind", "department", "component")


@dataclass(frozen=True, slots=True)
class Agency:
    ori: str
    name: str
    kind: str
    department: str | None = None
    component: str | None = None

    @property
    def is_dhs(self) -> bool:
        return self.department == "DHS"


class RegistryError(ValueError):
    """The registry file is unreadable or malformed; the message names the file and line."""


class AgencyRegistry:
    def __init__(self, agencies: Iterable[Agency]) -> None:
        self._by_ori: dict[str, Agency] = {a.ori: a for a in agencies}

    def get(self, ori: str) -> Agency | None:
        return self._by_ori.get(ori)

    def __contains__(self, ori: object) -> bool:
        return ori in self._by_ori

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._by_ori.values())

    def __len__(self) -> int:
        return len(self._by_ori)

    @classmethod
    def load(cls, path: Path | str | None = None) -> AgencyRegistry:
        """Load a registry CSV (header ``ori,name,kind,department,component``); default: the bundled one."""
        if path is None:
            text = resources.files("producers").joinpath("data/agencies.csv").read_text(encoding="utf-8")
            return cls.parse(text, source="bundled agencies.csv")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"cannot read agency registry {path}: {exc}") from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<registry>") -> AgencyRegistry:
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or tuple(f.strip() for f in reader.fieldnames) != COLUMNS:
            raise RegistryError(f"{source}: header must be {','.join(COLUMNS)}, got {reader.fieldnames}")
        agencies = []
        for lineno, row in enumerate(reader, start=2):
            ori = (row["ori"] or "").strip()
            kind = (row["kind"] or "").strip()
            if len(ori) != 9:
                raise RegistryError(f"{source} line {lineno}: ORI {ori!r} is not 9 characters")
            if kind not in AGENCY_KINDS:
                raise RegistryError(f"{source} line {lineno}: kind {kind!r} is not one of {sorted(AGENCY_KINDS)}")
            agencies.append(
                Agency(
                    ori=ori,
                    name=(row["name"] or "").strip(),
                    kind=kind,
                    department=(row["department"] or "").strip() or None,
                    component=(row["component"] or "").strip() or None,
                )
            )
        return cls(agencies)
