"""The JSON shapes of the console API (published in its OpenAPI document) and the page contexts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo

NOTE_MAX_CHARS = 2000
# At least one visible character and no control character but tab and line breaks: no NUL (PostgreSQL
# text cannot hold it), no ESC or other C0/C1 control that could rewrite a terminal showing the note.
TEXT_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
)
ALERT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
ORI_PATTERN = r"^[A-Za-z0-9]{1,16}$"


def _visible(value: str, info: ValidationInfo) -> str:
    if not value.strip() or "\x00" in value:
        raise ValueError(f"the {info.field_name} must say something (no empty or blank {info.field_name})")
    return value.strip()


# A person's free text (a note, a reason): required, visible, no NUL, bounded; stored stripped.
VisibleText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=NOTE_MAX_CHARS, pattern=TEXT_PATTERN),
    AfterValidator(_visible),
]
AlertState = Literal["open", "acknowledged", "resolved", "suppressed"]
Severity = Literal["critical", "high", "medium", "low", "info"]
AccessAction = Literal["suspend", "restore"]


class Problem(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok", "not ok"]
    detail: str | None = Field(None, description="why not ok; only for a logged-in user")


class Me(BaseModel):
    name: str
    role: Literal["viewer", "responder", "supervisor"]
    csrf_token: str = Field(description="send as X-CSRF-Token on changes made with the session cookie")
    can_act_on_alerts: bool
    can_change_access: bool


class Evidence(BaseModel):
    count: int
    counts: dict[str, float] = {}
    policy_rules: list[str] = []
    event_ids: list[str] = []
    offsets: list[str] = Field(
        default=[], description="topic/partition/offset (or file:line) of the sampled events"
    )


class AlertOut(BaseModel):
    alert_id: str
    rule: str
    rule_version: int
    severity: str
    ori: str
    agency_name: str | None
    component: str | None
    key: str
    window_start: dt.datetime
    window_end: dt.datetime
    summary: str
    state: AlertState
    raised_as: str
    suppressed_reason: str | None
    first_seen_at: dt.datetime
    evidence_count: int
    url: str = Field(description="the alert's page in the console")
    incident_id: str | None = Field(None, description="the incident the alert belongs to")
    repeats_alert_id: str | None = Field(None, description="for a suppressed re-alert: the alert it repeats")


class AlertList(BaseModel):
    total: int = Field(description="alerts matching the filters, before limit and offset")
    limit: int
    offset: int
    counts_by_state: dict[str, int]
    alerts: list[AlertOut]


class LedgerEntry(BaseModel):
    id: int
    action: str
    actor: str
    note: str | None
    at: dt.datetime


class EvidenceEvent(BaseModel):
    """One query behind an alert, as stored: pseudonyms for operator and subject, flags for the
    free-text reason and case number."""

    event_id: str
    occurred_at: dt.datetime
    message_type: str
    data_source: str
    purpose_code: str | None
    verdict: str
    purpose: str
    rules: list[str]
    policy_version: str
    operator: str = Field(description="pseudonym")
    subject_key: str | None = Field(description="pseudonym")
    has_reason: bool
    has_case_number: bool
    source: str | None = Field(description="topic/partition/offset, or file:line for archives")


class AlertDetail(BaseModel):
    alert: AlertOut
    evidence: Evidence
    policy_clauses: list[str] = Field(description="the policy clauses cited by the evidence events' verdicts")
    verdict_counts: dict[str, int]
    evidence_events: list[EvidenceEvent]
    ledger: list[LedgerEntry]
    agency_url: str


class AlertNote(BaseModel):
    note: VisibleText = Field(description="what was done or found (required)")


class TrafficPoint(BaseModel):
    start: dt.datetime
    total: int
    immigration_enforcement: int
    by_data_source: dict[str, int]


class TrafficOut(BaseModel):
    bucket_seconds: int
    first: dt.datetime | None
    last: dt.datetime | None
    total: int
    immigration_enforcement: int
    immigration_share: float
    data_sources: list[str]
    points: list[TrafficPoint]


class RecommendationOut(BaseModel):
    state: Literal["normal", "watch", "suspend"]
    action: str
    reason: str
    alert_ids: list[str]
    actor: str
    at: dt.datetime


class DisclosureOut(BaseModel):
    year: int
    filed_at: dt.datetime | None
    investigations_opened: int | None
    outcomes: str | None


class AgencySummary(BaseModel):
    ori: str
    name: str | None
    kind: str | None
    department: str | None
    component: str | None
    open_alerts: int
    recommendation: Literal["normal", "watch", "suspend"]
    url: str


class AgencyDetail(BaseModel):
    agency: AgencySummary
    traffic: TrafficOut
    recommendation: RecommendationOut | None
    recommendation_history: list[RecommendationOut]
    disclosures: list[DisclosureOut]
    alerts: list[AlertOut]
    alert_counts_by_state: dict[str, int]


class AccessChange(BaseModel):
    action: AccessAction = Field(
        description="suspend: direct access suspended, written requests only; restore: normal access"
    )
    reason: VisibleText = Field(description="why (required)")


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
