"""The agency registry: who an ORI is. An ORI missing here is an unknown agency, never rejected.

The registry file itself is read strictly (fail closed): a duplicate ORI would let a later line re-declare
an agency (a DHS office as a police department), so unknown columns, invalid or duplicate ORIs and an
empty registry refuse to load, naming the file, the line and the column."""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from schemas.events import ORI_PATTERN

AGENCY_KINDS: Final = frozenset({"police", "sheriff", "state", "prosecutor", "probation", "court", "federal"})
# The departments and components an agency may belong to (domain.md, "Federal agencies"): the one list the
# registry and the policy's component lists are checked against, so a typo (ICE-ER0) cannot switch a rule off.
DEPARTMENT_COMPONENTS: Final[dict[str, frozenset[str]]] = {
    "DHS": frozenset({"ICE-ERO", "ICE-HSI", "CBP", "USCIS"}),
    "DOJ": frozenset({"FBI", "DEA", "USMS"}),
    "DOJ-CA": frozenset(),
}
COMPONENTS: Final = frozenset().union(*DEPARTMENT_COMPONENTS.values())
COLUMNS: Final = ("ori", "name", "kind", "department", "component")
_ORI: Final = re.compile(ORI_PATTERN.strip("^$"))


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
        """Parse a registry CSV strictly: exactly the columns ``ori,name,kind,department,component``, every
        ORI valid and listed once, at least one agency. Errors name the file, the line and the column."""
        text = text.removeprefix("\ufeff")  # a byte-order mark from a spreadsheet export
        reader = csv.DictReader(text.splitlines())
        header = tuple((f or "").strip() for f in reader.fieldnames or ())
        if header != COLUMNS:
            unknown = [c for c in header if c not in COLUMNS]
            missing = [c for c in COLUMNS if c not in header]
            problems = []
            if unknown:
                problems.append(f"unknown column(s) {unknown}")
            if missing:
                problems.append(f"missing column(s) {missing}")
            if not problems:
                problems.append("columns out of order")
            raise RegistryError(
                f"{source} line 1: header must be {','.join(COLUMNS)}: {'; '.join(problems)} (got {list(header)})"
            )
        agencies = []
        first_line: dict[str, int] = {}
        for row in reader:
            lineno = reader.line_num
            if None in row:
                raise RegistryError(
                    f"{source} line {lineno}: {len(COLUMNS) + len(row[None])} values, the header has {len(COLUMNS)}"
                )
            ori = (row["ori"] or "").strip()
            kind = (row["kind"] or "").strip()
            if not _ORI.fullmatch(ori):
                raise RegistryError(
                    f"{source} line {lineno}: column ori: {ori!r} is not an ORI (9 characters: a 2-letter code "
                    "and 7 letters or digits, upper case)"
                )
            if ori in first_line:
                raise RegistryError(
                    f"{source} line {lineno}: column ori: {ori} is already listed on line {first_line[ori]}; "
                    "an ORI may be declared once"
                )
            first_line[ori] = lineno
            if kind not in AGENCY_KINDS:
                raise RegistryError(
                    f"{source} line {lineno}: column kind: {kind!r} is not one of {sorted(AGENCY_KINDS)}"
                )
            department = (row["department"] or "").strip() or None
            component = (row["component"] or "").strip() or None
            for column, problem in (
                ("department", unknown_name(department, DEPARTMENT_COMPONENTS, "department")),
                ("component", unknown_name(component, COMPONENTS, "component")),
            ):
                if problem:
                    raise RegistryError(f"{source} line {lineno}: column {column}: {problem}")
            if component is not None and component not in DEPARTMENT_COMPONENTS.get(department or "", ()):
                raise RegistryError(
                    f"{source} line {lineno}: column component: {component} is not a component of "
                    f"department {department!r}"
                )
            agencies.append(
                Agency(
                    ori=ori,
                    name=(row["name"] or "").strip(),
                    kind=kind,
                    department=department,
                    component=component,
                )
            )
        if not agencies:
            raise RegistryError(f"{source}: the registry lists no agency (a header and no rows)")
        return cls(agencies)


def unknown_name(name: str | None, known: Iterable[str], what: str) -> str | None:
    """None when ``name`` is empty or known; otherwise a sentence naming it and the nearest known name."""
    if name is None or name in known:
        return None
    names = sorted(known)
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"did you mean {near[0]}? " if near else ""
    return f"unknown {what} {name!r}: {hint}known: {', '.join(names)}"
