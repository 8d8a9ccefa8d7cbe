"""A labelled reason generator: what an operator types in the reason field, given why they really query.

The text is built from the *intent* (the scenario's ground truth), never from the classifier's rules:
the vocabulary here is written from the domain descriptions (domain.md) in the styles operators use —
many phrasings per purpose, agency shorthand, form numbers written every which way, A-numbers and
agency case numbers in their own formats, prefixes like ``ATTN:``, boilerplate ("investigation"),
empty reasons, mixed signals (a criminal reference beside an immigration one), random casing and
random typos (dropped, swapped, doubled or substituted letters). Reasons stay short, as the field is.

Intents
-------
``immigration_civil``       removal, detainers, status/overstay checks, fugitive-operations targets
``immigration_criminal``    8 U.S.C. 1325/1326 illegal entry / re-entry
``criminal_investigation``  any crime, incl. HSI/CBP narcotics, trafficking, smuggling, fraud
``traffic_enforcement``, ``warrant_service``, ``routine_patrol``   everyday criminal-justice work
``ccw_permit``, ``employment_check``, ``housing_check``            non-criminal-justice purposes (POL-3)
``personal``                snooping (POL-4): the reason is a cover story — routine-looking or empty
``personal_disclosed``      the rare operator who writes the personal purpose down
``no_justification``        empty (or placeholder) reason and no case number (POL-1)
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Final, Literal, get_args

from processors.agencies import Agency

Intent = Literal[
    "immigration_civil",
    "immigration_criminal",
    "criminal_investigation",
    "traffic_enforcement",
    "warrant_service",
    "routine_patrol",
    "ccw_permit",
    "employment_check",
    "housing_check",
    "personal",
    "personal_disclosed",
    "no_justification",
]
INTENTS: Final[tuple[Intent, ...]] = get_args(Intent)
IMMIGRATION_INTENTS: Final = frozenset({"immigration_civil", "immigration_criminal"})
CRIMINAL_JUSTICE_INTENTS: Final = frozenset(
    {"criminal_investigation", "traffic_enforcement", "warrant_service", "routine_patrol"}
)
NCJ_INTENTS: Final = frozenset({"ccw_permit", "employment_check", "housing_check"})
MAX_REASON: Final = 60


@dataclass(frozen=True, slots=True)
class Justification:
    """What the operator typed: the reason, the case number (or None) and the III purpose code (or None)."""

    reason: str
    case_number: str | None
    purpose_code: str | None


class UnknownIntent(ValueError):
    """An intent this generator does not know."""


# --------------------------------------------------------------------------- vocabulary per intent
# Civil immigration: written from domain.md's description of what ERO does and what its paperwork is.
_CIVIL_CORES: Final = (
    # detainers and holds
    "ICE detainer",
    "detainer lodged",
    "imm detainer",
    "I-247A",
    "I247",
    "1-247",
    "I-247D",
    "i 247 a",
    "ICE hold",
    "hold for ICE",
    "immigration hold",
    "DHS hold",
    "ICE HOLD REQ",
    "notify ICE on release",
    "ICE pickup",
    "ICE courtesy notif",
    "detainer per ICE",
    "ICE detainer - release date",
    "dtnr ICE",
    "I-247 recv'd",
    "ice hld",
    # removal
    "deportation",
    "deport",
    "pending deportation",
    "removal proceedings",
    "removal order",
    "final order of removal",
    "final ord removal",
    "reinstated removal order",
    "removal case",
    "removal pending",
    "deportable",
    "order of removal",
    "expedited removal",
    "dprt",
    "deport case",
    "removal proc",
    "depotation",
    # status
    "immigration status",
    "imm status",
    "immig status chk",
    "status of alien",
    "visa overstay",
    "overstay",
    "ovrstay",
    "lawful presence chk",
    "legal status",
    "undocumented",
    "out of status",
    "citizenship verif",
    "alien status",
    "immigration status verification",
    "illegal alien",
    # fugitive operations
    "FUGOPS target",
    "fug ops",
    "fugitive operations",
    "ERO target",
    "ERO fugitive op",
    "ERO op",
    "FOT tgt",
    "at large target ERO",
    "ero collateral",
    "criminal alien program",
    "CAP",
    "ERO case",
    "ERO",
    "ERO LA",
    "ERO SF",
    "ero sd target",
    # administrative warrants and forms
    "I-200 warrant",
    "I-205",
    "I 205 warrant of removal",
    "admin warrant",
    "administrative warrant",
    "NTA",
    "notice to appear",
    "I-862",
    "OSUP check",
    "OSUP violator",
    "order of supervision",
    "I-213",
    "I-220B",
    "I-200",
    # court
    "EOIR hearing",
    "immigration court",
    "IJ order",
    "imm court",
    "master calendar hrg",
    "BIA appeal",
    "EOIR",
)
_CIVIL_LOCAL_CORES: Final = (
    "per ICE req",
    "ICE request",
    "assist ICE",
    "ICE agent req",
    "ICE ERO request",
    "ICE ofc called",
    "req by ICE",
    "ICE inquiry",
    "for ICE",
    "ICE wants subj",
    "ICE detainer",
    "ICE hold",
    "hold for ICE",
    "imm hold",
    "immigration hold",
    "INS hold",
    "ICE notification",
)
_DHS_STATUS_CORES: Final = ("status chk", "status check", "verify status", "subj status", "stat chk")
_CRIMINAL_IMMIGRATION_CORES: Final = (
    "8 USC 1326",
    "8USC1326",
    "1326",
    "1326 reentry",
    "illegal re-entry",
    "illegal reentry",
    "re-entry after removal",
    "reentry after deport",
    "8 USC 1325",
    "8 U.S.C. 1325",
    "1325",
    "illegal entry",
    "EWI",
    "entry w/o inspection",
    "prior removed alien",
    "previously deported",
    "1326 case",
    "re-entry of removed alien",
    "illegal entry prosecution",
    "§1326",
    "8 usc §1326(a)",
    "found in US after removal",
    "prior deport",
    "ill reentry",
    "illegal re entry",
)
_OFFENCES: Final = (
    "narcotics",
    "narcotics inv",
    "meth sales",
    "HS 11378",
    "11350 HS",
    "drug trafficking",
    "human trafficking",
    "alien smuggling",
    "smuggling load",
    "money laundering",
    "identity theft",
    "fraud",
    "document fraud",
    "benefit fraud",
    "burglary",
    "PC 459",
    "459 PC",
    "robbery susp",
    "211 PC",
    "assault",
    "ADW",
    "245(a)(1)",
    "homicide",
    "DV",
    "273.5 PC",
    "stolen vehicle",
    "10851 VC",
    "gang inv",
    "weapons viol",
    "felon w/ gun",
    "child exploitation",
    "fraudulent docs",
    "counterfeit",
    "cargo theft",
    "narco case",
    "controlled buy",
    "fentanyl",
    "cocaine seizure",
    "bulk cash smuggling",
    "firearms trafficking",
    "sex trafficking",
    "drug smuggling",
    "marijuana grow",
    "heroin",
    "armed robbery",
    "carjacking",
    "vandalism 594",
    "hit and run",
    "DUI",
    "23152 VC",
    "grand theft",
    "shoplifting",
    "forgery",
    "elder abuse",
    "child abuse",
    "criminal threats",
    "stalking",
    "rape",
    "arson",
    "kidnapping",
    "extortion",
    "cyber crime",
    "wire fraud",
    "credit card fraud",
    "embezzlement",
    "theft",
    "dope",
    "poss for sales",
    "murder",
    "shooting",
)
_CJ_BOILERPLATE: Final = (
    "investigation",
    "inv",
    "invest",
    "invst",
    "crim inv",
    "info",
    "follow up",
    "f/u",
    "fu",
    "case follow up",
    "investigative lead",
    "lead",
    "det inv",
    "detective",
    "check",
    "ck",
    "chk",
    "query",
    "records chk",
    "susp info",
    "susp",
    "suspect",
    "subj",
    "subject",
    "background on susp",
    "intel",
    "surveillance",
    "interview",
    "witness",
    "victim info",
    "report",
    "rpt",
)
_TRAFFIC: Final = (
    "traffic stop",
    "T/S",
    "TS",
    "veh stop",
    "VC 22350",
    "speeding",
    "11-95",
    "1195",
    "DL status",
    "suspended DL",
    "susp DL",
    "no DL",
    "registration expired",
    "exp reg",
    "plate check",
    "plate chk",
    "reckless driving",
    "citation",
    "TC",
    "traffic collision",
    "parking viol",
    "abandoned veh",
    "tow",
    "stored veh",
    "red light",
    "cell phone viol",
    "lane viol",
    "equipment viol",
    "14601 VC",
    "4000(a) VC",
    "CVC 12500",
    "DL chk",
    "moving viol",
    "checkpoint",
)
_WARRANT: Final = (
    "warrant check",
    "wants/warrants",
    "wants & warrants",
    "wrnt svc",
    "warrant service",
    "felony warrant",
    "bench warrant",
    "attempt to serve warrant",
    "wnt conf",
    "hit confirm",
    "confirm wants",
    "wnt chk",
    "warrant confirmation",
    "misd warrant",
    "fugitive apprehension",
    "USMS task force",
    "fugitive task force",
    "arrest warrant",
    "wrnt",
    "serve warrant",
    "warrant arrest",
    "extradition",
)
_PATROL: Final = (
    "patrol",
    "susp veh",
    "suspicious person",
    "ped stop",
    "FI",
    "field interview",
    "area check",
    "911 call",
    "call for service",
    "CFS",
    "welfare check",
    "routine",
    "info",
    "ck",
    "prowler",
    "loitering",
    "suspicious circ",
    "disturbance",
    "pc stop",
    "contact",
    "consensual",
    "susp circ",
    "veh check",
    "ped chk",
    "bike stop",
    "parked veh",
    "occupied veh",
    "415",
    "10-29",
    "10-28",
    "ck subj",
    "subj chk",
)
_CCW: Final = (
    "CCW",
    "CCW app",
    "CCW renewal",
    "concealed carry permit",
    "CCW applicant bkgd",
    "carry license",
    "LTC",
    "CCW initial",
    "ccw modification",
    "permit to carry",
    "conceal weapon lic",
    "CCW applicant",
    "ccw renew",
    "CCW permit",
    "concealed wpn permit",
    "CCW bkgd",
    "CCW amend",
    "carry permit app",
)
_EMPLOYMENT: Final = (
    "pre-employment",
    "applicant background",
    "new hire bkgd",
    "employment screening",
    "livescan applicant",
    "job applicant",
    "dispatch applicant",
    "volunteer bkgd",
    "taxi permit",
    "massage permit",
    "business license",
    "security guard app",
    "school district employee",
    "city employee applicant",
    "reserve applicant",
    "employment",
    "emp bkgd",
    "pre emp",
    "applicant",
    "hiring bkgd",
    "bkgd for hire",
    "employment check",
    "licensing",
    "tow operator permit",
    "card room license",
    "ABC license",
    "volunteer applicant",
)
_HOUSING: Final = (
    "section 8",
    "sec 8",
    "public housing applicant",
    "housing authority",
    "tenant screening",
    "HUD",
    "housing app",
    "landlord request",
    "housing",
    "rental applicant",
    "tenant check",
    "housing auth req",
    "HACLA",
    "public housing",
)
_PERSONAL_DISCLOSED: Final = (
    "personal",
    "checking on ex",
    "for a friend",
    "my neighbor",
    "curious",
    "celebrity",
    "my ex wife",
    "friend asked",
    "personal check",
    "own record",
    "my gf",
    "daughters boyfriend",
    "family member",
    "new neighbor",
    "just curious",
    "my ex",
)
_PLACEHOLDERS: Final = ("", "", "", " ", "   ", "n/a", "N/A", "x", "na", "none", "-", ".", "..")
_PREFIXES: Final = (
    "ATTN: ",
    "ATTN ",
    "RE: ",
    "RE ",
    "PER SGT ",
    "REQ BY DET ",
    "U12 ",
    "1A23 ",
    "PER DESK ",
    "UNIT 4 ",
    "DET ",
    "SGT REQ ",
    "ref: ",
    "REQ: ",
)
_SUFFIXES: Final = (" per sgt", " req", " asap", " pls", " - urgent", " tx", " ck", " per lt", " (rush)")
_CONNECT: Final = (" / ", " - ", "; ", ", ", " ", " + ", " & ", " w/ ")

_ABBREV: Final[dict[str, tuple[str, ...]]] = {
    "check": ("chk", "ck", "chek"),
    "investigation": ("inv", "invest", "invst", "invstg"),
    "immigration": ("imm", "immig", "immgr", "immigr"),
    "vehicle": ("veh", "vehcl"),
    "suspect": ("susp", "sus"),
    "warrant": ("wrnt", "wnt", "wt"),
    "request": ("req", "rqst"),
    "subject": ("subj", "sub"),
    "information": ("info",),
    "background": ("bkgd", "bkg", "bg"),
    "removal": ("rmvl", "remvl"),
    "deportation": ("deport", "dprt", "depo"),
    "status": ("stat", "sts"),
    "applicant": ("appl", "app"),
    "narcotics": ("narc", "narco"),
    "verification": ("verif", "ver"),
    "hearing": ("hrg",),
    "notification": ("notif",),
}
_KEYBOARD_NEIGHBOURS: Final = {
    "a": "qs",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "w",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
}


# --------------------------------------------------------------------------- identifiers
def a_number(rng: random.Random) -> str:
    """An alien registration number in one of the ways people write it."""
    digits = "".join(rng.choice(string.digits) for _ in range(rng.choice((8, 9, 9))))
    if len(digits) == 9:
        spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        dashed = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    else:
        spaced = f"{digits[:2]} {digits[2:5]} {digits[5:]}"
        dashed = f"{digits[:2]}-{digits[2:5]}-{digits[5:]}"
    forms = (
        f"A# {digits}",
        f"A#{digits}",
        f"A-{digits}",
        f"A {spaced}",
        f"A{digits}",
        f"A# {dashed}",
        f"alien # {digits}",
        f"A-NUMBER {digits}",
        f"A NO {digits}",
        f"A: {digits}",
        f"anum {digits}",
        f"A{dashed}",
    )
    return rng.choice(forms)


def case_number(rng: random.Random, agency: Agency | None, year: int | None = None) -> str:
    """A case/report number in one of the formats agencies use."""
    yy = (year or rng.randint(2017, 2020)) % 100
    n = rng.randint(1, 999_999)
    comp = agency.component if agency else None
    if comp == "ICE-HSI":
        forms = [f"HSI-LA-{2000 + yy}-{n % 10000:04d}", f"SD{yy}QR{n % 100000:05d}", f"HSI{yy}-{n:06d}"]
    elif comp == "CBP":
        forms = [f"CBP-{yy}-{n:06d}", f"SDC{2000 + yy}{n % 100000:05d}", f"BP-SDC-{yy}-{n % 10000:04d}"]
    elif comp in ("FBI", "DEA", "USMS"):
        forms = [
            f"{rng.choice(('305A', '245D', '281F', '91A'))}-LA-{n:07d}",
            f"R3-{yy}-{n % 10000:04d}",
            f"{comp}-{yy}-{n % 100000:05d}",
        ]
    elif comp == "ICE-ERO":
        forms = [f"ERO-{yy}-{n % 100000:05d}", f"LOS{2000 + yy}{n % 10000:04d}"]
    else:
        forms = [
            f"{yy:02d}-{n:06d}",
            f"DR{yy}{n % 10**7:07d}",
            f"{yy}{n:07d}",
            f"CR{yy}-{n % 100000:05d}",
            f"SO{yy}-{n % 100000:05d}",
            f"{2000 + yy}-{n:08d}",
            f"R{yy}-{n % 10**5:05d}",
            f"{yy}-{n % 100000:05d}-{rng.randint(1, 9)}",
            f"I{yy}{n % 10**6:06d}",
        ]
    return rng.choice(forms)


# --------------------------------------------------------------------------- noise
def typo(rng: random.Random, word: str) -> str:
    """One random typo: drop, swap, double or substitute a letter (never the first)."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word))
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD_NEIGHBOURS.get(word[i].lower(), "e")
    return word[:i] + rng.choice(near) + word[i + 1 :]


def _abbreviate(rng: random.Random, text: str, p: float) -> str:
    out = []
    for word in text.split(" "):
        alts = _ABBREV.get(word.lower())
        out.append(rng.choice(alts) if alts and rng.random() < p else word)
    return " ".join(out)


def _noisy(rng: random.Random, text: str, sloppiness: float) -> str:
    words = text.split(" ")
    words = [typo(rng, w) if rng.random() < sloppiness else w for w in words]
    text = " ".join(words)
    r = rng.random()
    if r < 0.45:
        text = text.upper()
    elif r < 0.75:
        text = text.lower()
    elif r < 0.82:
        text = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    if rng.random() < 0.1:
        text = text.replace(" ", rng.choice(("  ", "_", ".", "/")), 1)
    if rng.random() < 0.08:
        text = " " + text + " "
    return text


def _compose(rng: random.Random, core: str, *, extras: tuple[str, ...] = ()) -> str:
    parts = [core]
    for extra in extras:
        if rng.random() < 0.5:
            parts.append(extra)
        else:
            parts.insert(0, extra)
    text = rng.choice(_CONNECT).join(parts) if len(parts) > 1 else core
    if rng.random() < 0.12:
        text = rng.choice(_PREFIXES) + text
    if rng.random() < 0.08:
        text += rng.choice(_SUFFIXES)
    return text


def _fit(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON].rstrip()


# --------------------------------------------------------------------------- the generator
def make_justification(
    rng: random.Random,
    intent: Intent,
    *,
    agency: Agency | None,
    message_type: str,
    data_source: str,
) -> Justification:
    """Pick what an operator with this intent types. Deterministic for a given ``rng`` state."""
    if intent not in INTENTS:
        raise UnknownIntent(f"unknown intent {intent!r}; known: {', '.join(INTENTS)}")
    comp = agency.component if agency else None
    ch = data_source == "criminal_history"
    sloppiness = rng.choice((0.0, 0.0, 0.03, 0.06, 0.1, 0.15))
    abbrev_p = rng.random()
    reason: str
    case: str | None = None
    code: str | None = None

    if intent == "no_justification":
        return Justification(rng.choice(_PLACEHOLDERS), None, "C" if ch and rng.random() < 0.85 else None)

    if intent == "immigration_civil":
        code = ("C" if rng.random() < 0.85 else rng.choice(("V", "S"))) if ch else None
        if comp == "ICE-ERO" and rng.random() < 0.12:
            # ERO writing boilerplate or nothing: the mission presumption's business
            reason = rng.choice(
                ("", "investigation", "inv", "locate", "addr verify", "info", "follow up", "subj")
            )
            if rng.random() < 0.3:
                case = a_number(rng)
        else:
            pool: tuple[str, ...]
            if comp is not None and comp.startswith(("ICE", "CBP", "USCIS")):
                pool = _CIVIL_CORES + _DHS_STATUS_CORES
            elif agency is None or agency.department is None:
                pool = _CIVIL_LOCAL_CORES + _CIVIL_CORES[:40]
            else:
                pool = _CIVIL_CORES
            core = _abbreviate(rng, rng.choice(pool), abbrev_p)
            extras: list[str] = []
            if rng.random() < 0.35:
                extras.append(a_number(rng))
            if rng.random() < 0.12:  # mixed signal: a criminal reference beside the immigration one
                extras.append(rng.choice(_OFFENCES + ("prior DUI", "arrest", "booked", "in custody")))
            reason = _noisy(rng, _compose(rng, core, extras=tuple(extras)), sloppiness)
            if rng.random() < 0.2:
                case = a_number(rng)
        return Justification(_fit(reason), case, code)

    if intent == "immigration_criminal":
        code = "C" if ch else None
        core = rng.choice(_CRIMINAL_IMMIGRATION_CORES)
        crim_extras: list[str] = []
        if rng.random() < 0.3:
            crim_extras.append(a_number(rng))
        if rng.random() < 0.15:
            crim_extras.append(
                rng.choice(("prosecution", "AUSA req", "crim case", "arrest", "CBP", "BP apprehension"))
            )
        reason = _noisy(rng, _compose(rng, core, extras=tuple(crim_extras)), sloppiness)
        if rng.random() < 0.45:
            case = case_number(rng, agency)
        return Justification(_fit(reason), case, code)

    if intent == "criminal_investigation":
        code = "C" if ch else None
        if comp == "ICE-ERO" or rng.random() < 0.55:
            core = _abbreviate(rng, rng.choice(_OFFENCES), abbrev_p)
            cj_extras: tuple[str, ...] = (rng.choice(_CJ_BOILERPLATE),) if rng.random() < 0.3 else ()
            reason = _noisy(rng, _compose(rng, core, extras=cj_extras), sloppiness)
        else:
            reason = _noisy(
                rng, _compose(rng, _abbreviate(rng, rng.choice(_CJ_BOILERPLATE), abbrev_p)), sloppiness
            )
        if rng.random() < 0.65:
            case = case_number(rng, agency)
            if rng.random() < 0.15:
                reason = _fit(f"{reason} {rng.choice(('case#', 'cs#', 'rpt', 'DR', '#'))}{case}")
                case = None if rng.random() < 0.5 else case
        if rng.random() < 0.02:
            reason = ""
        return Justification(_fit(reason), case, code)

    if intent in ("traffic_enforcement", "warrant_service", "routine_patrol"):
        pool = {"traffic_enforcement": _TRAFFIC, "warrant_service": _WARRANT, "routine_patrol": _PATROL}[
            intent
        ]
        code = "C" if ch else None
        reason = _noisy(rng, _compose(rng, _abbreviate(rng, rng.choice(pool), abbrev_p)), sloppiness)
        if rng.random() < (0.35 if intent == "warrant_service" else 0.15):
            case = case_number(rng, agency)
        if rng.random() < 0.03:
            reason = ""
        return Justification(_fit(reason), case, code)

    if intent in NCJ_INTENTS:
        pool, own = {
            "ccw_permit": (_CCW, ("F",)),
            "employment_check": (_EMPLOYMENT, ("I", "J")),
            "housing_check": (_HOUSING, ("H",)),
        }[intent]
        if ch:
            code = "C" if rng.random() < 0.45 else rng.choice(own)
        core = _abbreviate(rng, rng.choice(pool), abbrev_p)
        ncj_extras: tuple[str, ...] = ()
        if rng.random() < 0.2:
            ncj_extras = (
                rng.choice(
                    ("bkgd", "background", "app #" + str(rng.randint(100, 99999)), "renewal", "initial")
                ),
            )
        reason = _noisy(rng, _compose(rng, core, extras=ncj_extras), sloppiness)
        if rng.random() < 0.15:
            case = f"{rng.choice(('CCW', 'APP', 'LIC', 'P'))}-{rng.randint(2017, 2020)}-{rng.randint(1, 9999):04d}"
        return Justification(_fit(reason), case, code)

    if intent == "personal_disclosed":
        code = "C" if ch else None
        reason = _noisy(rng, _compose(rng, rng.choice(_PERSONAL_DISCLOSED)), sloppiness)
        return Justification(_fit(reason), None, code)

    # personal: a cover story that looks like routine business, or nothing at all
    code = "C" if ch else None
    r = rng.random()
    if r < 0.15:
        reason = rng.choice(_PLACEHOLDERS)
    else:
        reason = _noisy(
            rng, rng.choice(_CJ_BOILERPLATE + _PATROL[:12] + ("traffic", "veh check", "DL chk")), sloppiness
        )
    if reason.strip() and rng.random() < 0.1:
        case = case_number(rng, agency)
    return Justification(_fit(reason), case, code)
